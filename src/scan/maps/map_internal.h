/*
 * map_internal.h - pieces shared by the files of src/scan/maps/: one
 * generation of map content (struct map_data), the IP range set, and
 * whole-file reading. Nothing outside this directory includes it.
 */
#ifndef SCAN_MAPS_MAP_INTERNAL_H
#define SCAN_MAPS_MAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"
#include "scan/maps/map.h"

/* An IP as 128 bits: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
typedef unsigned __int128 map_ip;

struct map_range {
	map_ip start, end;  /* inclusive */
	long parent;        /* index of the nearest enclosing range, or -1 */
	const char *value;
};

struct map_ipset {
	struct map_range *ranges; /* sorted by start, then wider first */
	size_t n, cap;
};

/* Parses "a.b.c.d", "v6", either with "/len"; `cidr` allows the suffix. */
int map_ip_parse(struct str text, bool cidr, map_ip *start_r, map_ip *end_r);
void map_ipset_add(struct map_ipset *set, map_ip start, map_ip end,
    const char *value);
/* Sorts, drops duplicates and links each range to its parent. */
void map_ipset_finish(struct map_ipset *set);
const struct map_range *map_ipset_find(const struct map_ipset *set, map_ip ip);
void map_ipset_free(struct map_ipset *set);

struct map_hent {
	const char *key;     /* NULL = empty slot */
	size_t len;
	const char *value;
	uint64_t hash;
};

struct map_pattern {
	const char *text;    /* glob pattern */
	void *code;          /* pcre2_code * for regexps */
	const char *value;
};

/* One generation of content: replaced as a whole on reload. */
struct map_data {
	enum map_kind kind;
	unsigned flags;
	struct pool *pool;   /* keys and values */
	size_t n;            /* entries accepted */
	struct map_hent *table;
	size_t table_cap;    /* power of two */
	struct map_ipset ips;
	struct map_pattern *pats;
	size_t n_pats, pats_cap;
	void *match_data;    /* pcre2_match_data *, made on first match */
	void *match_ctx;     /* pcre2_match_context * with a match limit */
};

struct map_data *map_data_new(enum map_kind kind, unsigned flags);
/* Adds one entry; -1 with a static reason when it is invalid. */
int map_data_add(struct map_data *d, struct str key, struct str value,
    const char **reason_r);
void map_data_finish(struct map_data *d);
bool map_data_match(struct map_data *d, const char *key, size_t len,
    const char **value_r);
void map_data_free(struct map_data **d);

/*
 * End of a `/re/flags` key at the start of `line` (line[0] == '/'): the
 * first unescaped '/' followed by letters up to whitespace or the end; 0
 * when the line is not in that form.
 */
size_t map_regexp_key_end(const char *line, size_t len);

/*
 * Reads a whole regular file into a heap buffer (NUL-terminated), with the
 * identity the watcher compares. -1 with errno set on failure.
 */
struct map_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	bool exists;
};
int map_file_read(const char *path, char **text_r, size_t *len_r,
    struct map_file_id *id_r);
/* stat(2) into an identity; a missing file gives exists = false, 0. */
int map_file_stat(const char *path, struct map_file_id *id_r);
bool map_file_id_eq(const struct map_file_id *a, const struct map_file_id *b);

#endif
