/*
 * map.h - lists of entries the scanner looks values up in (Rspamd's
 * "maps"): IP/CIDR sets, case-insensitive string sets, regexp lists and
 * glob lists, filled from inline config arrays and from files that are
 * re-read when they change.
 *
 * Map text format (files and inline elements alike): one entry per line,
 * `#` starts a comment at the beginning of a line or after whitespace,
 * blank lines are ignored, and an entry may carry a value after the first
 * run of whitespace (`key value`), kept for callers that want per-entry
 * data. A key in double quotes ("two words" value) may contain spaces, and
 * so may a regexp map key written `/re/flags`.
 *
 * Sources (config strings): one starting with "/" or "file://" is a file;
 * "http://" and "https://" are refused ("not supported yet"); anything
 * else is an inline entry, taken whole as one key (header values have
 * spaces). In a regexp map, "/re/flags" is an inline pattern unless a file
 * of that name exists ("file:///..." always means a file). A file that is
 * missing at load time leaves the map empty (logged) and is picked up
 * when it appears.
 *
 * Reloads are lazy: map_lookup*() stats the files at most once per watch
 * interval and rebuilds the whole map when one changed (inode, size or
 * mtime). A rebuild that fails (a file became unreadable) keeps the old
 * content and logs once until the file can be read again. Maps are built
 * in the main process and inherited by forked workers; each worker then
 * reloads its own copy, which is fine since they all read the same files.
 * A map is not thread-safe (one per worker process, one task at a time).
 */
#ifndef SCAN_MAPS_MAP_H
#define SCAN_MAPS_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct obj;
struct map;

enum map_kind {
	MAP_KIND_STRING, /* hash set; case-insensitive unless MAP_FLAG_CASE */
	MAP_KIND_IP,     /* IPv4/IPv6 addresses and CIDR ranges */
	MAP_KIND_REGEXP, /* PCRE2 patterns, bare or /re/flags */
	MAP_KIND_GLOB,   /* fnmatch(3) patterns */
};

#define MAP_FLAG_CASE (1u << 0) /* string/glob maps: compare case-sensitively */

/*
 * Pure parser of map text: calls fn once per entry with the key (never
 * empty; unquoted keys have no surrounding whitespace), the value (possibly
 * empty) and the 1-based line number. `regexp` enables the `/re/flags` key form. Returns
 * the number of entries, or -1 as soon as fn returns -1.
 */
typedef int map_entry_fn(void *ctx, struct str key, struct str value,
    unsigned line);
int map_parse_text(const char *text, size_t len, bool regexp,
    map_entry_fn *fn, void *ctx);

/*
 * Creates a map named `name` (for logs) from `src`: a string or an array of
 * strings, each a file path/URL or an inline entry (see above). Invalid
 * inline entries are config errors; invalid lines in files are logged and
 * skipped. `watch_interval` is in seconds (0 = stat on every lookup).
 * Returns NULL with a heap *error_r on error.
 */
struct map *map_new(const char *name, enum map_kind kind, unsigned flags,
    const struct obj *src, double watch_interval, char **error_r);
/* As map_new with only inline text (tests, fuzzing). */
struct map *map_new_from_text(const char *name, enum map_kind kind,
    unsigned flags, const char *text, size_t len, char **error_r);
void map_free(struct map **map);

/*
 * Looks `key` up (an IP address text for MAP_KIND_IP). Returns true when
 * it matches, with the entry's value (possibly "") in *value_r if not NULL;
 * the value stays valid until the next lookup on this map. Reloads first
 * when the watch interval has passed and a file changed.
 */
bool map_lookup(struct map *map, const char *key, size_t len,
    const char **value_r);
bool map_lookup_cstr(struct map *map, const char *key, const char **value_r);

/* Checks the files now (ignoring the interval); 1 reloaded, 0 not, -1 failed. */
int map_refresh(struct map *map);
/* Entries currently loaded. */
size_t map_size(const struct map *map);
const char *map_name(const struct map *map);

#endif
