/*
 * map.c - a map: its sources (inline entries and files), the current
 * generation of content, and the lazy file watcher.
 *
 * A rebuild always reads every source into a fresh generation and swaps it
 * in only when all files were read, so a lookup sees either the old or the
 * new content of the whole map, never a mix; a failed rebuild leaves the
 * old generation in place and the next check tries again. A missing file
 * counts as empty: removing a list file is how a site empties it.
 *
 * Watching costs one clock read per lookup and one stat(2) per file per
 * interval; there is no inotify or timer, so a worker that scans nothing
 * does no work, and each forked worker keeps its own copy current.
 */
#include "scan/maps/map_internal.h"
#include "core/obj.h"
#include "core/xmalloc.h"
#include "log/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Invalid lines logged per file and load; the rest are only counted. */
#define MAP_LOG_BAD_LINES 5

struct map_source {
	char *path;
	struct map_file_id id;  /* of the content currently loaded */
	bool failing;           /* a read failure was logged */
};

struct map {
	char *name;
	enum map_kind kind;
	unsigned flags;
	char *inline_text;      /* map text given inline (map_new_from_text) */
	size_t inline_len;
	char **inline_keys;     /* config array elements: each one whole key */
	size_t n_inline;
	struct map_source *files;
	size_t n_files;
	double interval;
	double next_check;
	struct map_data *data;
};

struct add_ctx {
	struct map *map;
	struct map_data *data;
	const char *where;      /* file name for logs, NULL for inline */
	char *error;            /* first invalid inline entry */
	unsigned bad;
};

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
add_entry(void *vctx, struct str key, struct str value, unsigned line)
{
	struct add_ctx *ctx = vctx;
	const char *reason = NULL;

	if (map_data_add(ctx->data, key, value, &reason) == 0)
		return 0;
	if (ctx->where == NULL) {
		if (ctx->error == NULL)
			ctx->error = xasprintf("map %s: %s: \"%.*s\"", ctx->map->name,
			    reason, (int)MIN(key.len, 200), key.ptr);
		return 0;
	}
	if (ctx->bad++ < MAP_LOG_BAD_LINES)
		log_warn("maps", NULL, "map %s: %s:%u: %s, line skipped",
		    ctx->map->name, ctx->where, line, reason);
	return 0;
}

/*
 * Reads one file source into `d`; its new identity goes to *id_r.
 * -1 when the file exists but cannot be read.
 */
static int
load_file(struct map *m, struct map_source *src, struct map_data *d,
    struct map_file_id *id_r)
{
	struct add_ctx ctx = { m, d, src->path, NULL, 0 };
	char *text;
	size_t len;

	if (map_file_read(src->path, &text, &len, id_r) < 0) {
		if (errno == ENOENT) {
			memset(id_r, 0, sizeof(*id_r));
			return 0;
		}
		if (!src->failing)
			log_error("maps", NULL, "map %s: cannot read %s: %s",
			    m->name, src->path,
			    strerror(errno));
		src->failing = true;
		return -1;
	}
	if (src->failing)
		log_info("maps", NULL, "map %s: %s readable again", m->name, src->path);
	src->failing = false;
	map_parse_text(text, len, m->kind == MAP_KIND_REGEXP, add_entry, &ctx);
	if (ctx.bad > MAP_LOG_BAD_LINES)
		log_warn("maps", NULL, "map %s: %s: %u invalid lines skipped",
		    m->name, src->path, ctx.bad);
	free(text);
	return 0;
}

/* Builds a new generation from every source; see the top comment. */
static int
rebuild(struct map *m, bool initial, char **error_r)
{
	struct add_ctx ctx = { m, map_data_new(m->kind, m->flags), NULL, NULL, 0 };
	struct map_file_id *ids = xcalloc(m->n_files + 1, sizeof(*ids));
	int ret = 0;

	map_parse_text(m->inline_text, m->inline_len, m->kind == MAP_KIND_REGEXP,
	    add_entry, &ctx);
	for (size_t i = 0; i < m->n_inline; i++) {
		struct str k = str_trim(str_from_cstr(m->inline_keys[i]));

		if (k.len > 0)
			add_entry(&ctx, k, STR_LIT(""), 0);
	}
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		ret = -1;
	}
	for (size_t i = 0; ret == 0 && i < m->n_files; i++) {
		if (load_file(m, &m->files[i], ctx.data, &ids[i]) < 0 && !initial)
			ret = -1;
		if (initial && !ids[i].exists && !m->files[i].failing)
			log_warn("maps", NULL, "map %s: %s does not exist yet; "
			    "empty until it appears", m->name, m->files[i].path);
	}
	if (ret < 0) {
		map_data_free(&ctx.data);
		free(ids);
		return -1;
	}
	map_data_finish(ctx.data);
	for (size_t i = 0; i < m->n_files; i++)
		m->files[i].id = ids[i];
	free(ids);
	map_data_free(&m->data);
	m->data = ctx.data;
	return 0;
}

/*
 * In a regexp map "/re/i" looks like a path: it is an inline pattern when
 * the whole string has the /re/flags form and no such file exists
 * ("file:///..." always means a file).
 */
static bool
inline_regexp(const struct map *m, const char *s)
{
	size_t len = strlen(s);

	return m->kind == MAP_KIND_REGEXP && map_regexp_key_end(s, len) == len &&
	    access(s, F_OK) != 0;
}

/* Sorts one source string into a file or an inline entry. */
static int
add_source(struct map *m, const struct obj *v, char **error_r)
{
	const char *s = obj_get_string(v), *path = NULL;

	if (s == NULL) {
		*error_r = xasprintf("%s:%u: map %s: entries must be strings",
		    v->file != NULL ? v->file : "config", v->line, m->name);
		return -1;
	}
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) {
		*error_r = xasprintf("%s:%u: map %s: %s: http(s) maps are not "
		    "supported yet", v->file != NULL ? v->file : "config", v->line,
		    m->name, s);
		return -1;
	}
	if (strncmp(s, "file://", 7) == 0)
		path = s + 7;
	else if (s[0] == '/' && !inline_regexp(m, s))
		path = s;
	if (path == NULL) {
		/* An array element is one whole key: header values have spaces. */
		m->inline_keys = xrealloc(m->inline_keys,
		    (m->n_inline + 1) * sizeof(*m->inline_keys));
		m->inline_keys[m->n_inline++] = xstrdup(s);
		return 0;
	}
	m->files = xrealloc(m->files, (m->n_files + 1) * sizeof(*m->files));
	memset(&m->files[m->n_files], 0, sizeof(*m->files));
	m->files[m->n_files++].path = xstrdup(path);
	return 0;
}

static struct map *
map_alloc(const char *name, enum map_kind kind, unsigned flags, double interval)
{
	struct map *m = xcalloc(1, sizeof(*m));

	m->name = xstrdup(name);
	m->kind = kind;
	m->flags = flags;
	m->interval = interval < 0 ? 0 : interval;
	m->inline_text = xstrdup("");
	return m;
}

struct map *
map_new(const char *name, enum map_kind kind, unsigned flags,
    const struct obj *src, double watch_interval, char **error_r)
{
	struct map *m = map_alloc(name, kind, flags, watch_interval);
	const struct obj *it = NULL, *v;

	while (src != NULL && (v = obj_iter_values(src, &it)) != NULL) {
		if (add_source(m, v, error_r) < 0) {
			map_free(&m);
			return NULL;
		}
	}
	if (rebuild(m, true, error_r) < 0) {
		map_free(&m);
		return NULL;
	}
	m->next_check = mono_now() + m->interval;
	return m;
}

struct map *
map_new_from_text(const char *name, enum map_kind kind, unsigned flags,
    const char *text, size_t len, char **error_r)
{
	struct map *m = map_alloc(name, kind, flags, 0);

	free(m->inline_text);
	m->inline_text = xmalloc(len + 1);
	memcpy(m->inline_text, text, len);
	m->inline_text[len] = '\0';
	m->inline_len = len;
	if (rebuild(m, true, error_r) < 0) {
		map_free(&m);
		return NULL;
	}
	return m;
}

void
map_free(struct map **mp)
{
	struct map *m = *mp;

	if (m == NULL)
		return;
	*mp = NULL;
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i].path);
	free(m->files);
	for (size_t i = 0; i < m->n_inline; i++)
		free(m->inline_keys[i]);
	free(m->inline_keys);
	free(m->inline_text);
	map_data_free(&m->data);
	free(m->name);
	free(m);
}

int
map_refresh(struct map *m)
{
	bool changed = false;
	char *error = NULL;

	for (size_t i = 0; !changed && i < m->n_files; i++) {
		struct map_file_id id;

		/* A stat error other than ENOENT (EACCES on a directory):
		 * try to read, which logs why it fails. */
		changed = map_file_stat(m->files[i].path, &id) < 0 ||
		    !map_file_id_eq(&id, &m->files[i].id);
	}
	if (!changed)
		return 0;
	if (rebuild(m, false, &error) < 0) {
		free(error);
		return -1;
	}
	log_info("maps", NULL, "map %s: reloaded, %zu entries", m->name, m->data->n);
	return 1;
}

static void
maybe_refresh(struct map *m)
{
	double now;

	if (m->n_files == 0)
		return;
	now = mono_now();
	if (now < m->next_check)
		return;
	m->next_check = now + m->interval;
	(void)map_refresh(m);
}

bool
map_lookup(struct map *m, const char *key, size_t len, const char **value_r)
{
	const char *v = NULL;

	maybe_refresh(m);
	if (!map_data_match(m->data, key, len, &v))
		return false;
	if (value_r != NULL)
		*value_r = v;
	return true;
}

bool
map_lookup_cstr(struct map *m, const char *key, const char **value_r)
{
	return map_lookup(m, key, strlen(key), value_r);
}

size_t
map_size(const struct map *m)
{
	return m->data->n;
}

const char *
map_name(const struct map *m)
{
	return m->name;
}
