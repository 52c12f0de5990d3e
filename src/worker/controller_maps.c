/*
 * controller_maps.c - /maps, /getmap and /savemap (spec/controller.md
 * section 2): the local list files behind the multimap rules and the
 * white/black lists, for the web UI's list editor.
 *
 * The files are found in the running configuration: every `map` source
 * of a multimap rule, every list key of the whitelist and blacklist
 * sections (and whitelist rules' `domains`) that names a file ("/path" or
 * "file:///path"). A map's id is a 32-bit FNV-1a hash of its path, so it
 * stays the same across reloads and restarts. A file is editable when
 * this process may write it (or create it in its directory).
 *
 * /savemap validates the whole new content before anything is written,
 * by the kind of lookup the map serves: IP maps must hold addresses or
 * CIDR ranges, regexp maps patterns that compile, string maps printable
 * keys without control characters (and without '@' for domain lists).
 * The first bad line is reported (400 with its number). The file is then
 * replaced atomically; each worker's map watcher notices the new file
 * within options.map_watch_interval, without a reload.
 *
 * Deviations: the map id comes in the `Map:` header as in the spec, or as
 * ?map=<id>; list entries carry an extra "type" key (ip, string, domain,
 * email, regexp, glob); an empty body clears the list (Rspamd refuses it).
 */
#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/netaddr.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "scan/maps/map.h"
#include "worker/controller_internal.h"
#include "worker/settings_store.h"
#include "worker/worker.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTRL_MAP_MAX 512
#define CTRL_MAP_FILE_MAX (8 * 1024 * 1024)

enum ctrl_map_type { CM_IP, CM_STRING, CM_DOMAIN, CM_EMAIL, CM_REGEXP, CM_GLOB };

static const char *const map_type_names[] = { "ip", "string", "domain", "email",
	"regexp", "glob" };

struct ctrl_map {
	uint32_t id;
	const char *path;         /* borrowed from the config tree */
	const char *description;  /* heap */
	enum ctrl_map_type type;
};

struct ctrl_map_list {
	struct ctrl_map maps[CTRL_MAP_MAX];
	size_t n;
};

static uint32_t
fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* The file a map source names, or NULL for an inline entry. */
static const char *
source_path(const char *s, enum ctrl_map_type type)
{
	if (s == NULL)
		return NULL;
	if (strncmp(s, "file://", 7) == 0)
		return s + 7;
	if (s[0] != '/')
		return NULL;
	/* "/re/i" in a regexp map is an inline pattern unless such a file exists. */
	if (type == CM_REGEXP && access(s, F_OK) < 0)
		return NULL;
	return s;
}

static void
add_sources(struct ctrl_map_list *l, const struct obj *src, enum ctrl_map_type type,
    const char *fmt_section, const char *name)
{
	const struct obj *it = NULL, *v;

	while ((v = obj_iter_values(src, &it)) != NULL) {
		const char *path = source_path(obj_get_string(v), type);
		uint32_t id;
		bool dup = false;

		if (path == NULL || l->n == CTRL_MAP_MAX)
			continue;
		id = fnv1a32(path);
		for (size_t i = 0; i < l->n; i++)
			dup |= l->maps[i].id == id;
		if (dup)
			continue;
		l->maps[l->n].id = id;
		l->maps[l->n].path = path;
		l->maps[l->n].type = type;
		l->maps[l->n].description = xasprintf("%s %s", fmt_section, name);
		l->n++;
	}
}

static enum ctrl_map_type
multimap_type(const struct obj *rule)
{
	const char *type = obj_get_string(obj_lookup(rule, "type"));
	const char *filter = obj_get_string(obj_lookup(rule, "filter"));
	bool b;

	if (obj_get_bool(obj_lookup(rule, "regexp"), &b) == 0 && b)
		return CM_REGEXP;
	if (obj_get_bool(obj_lookup(rule, "glob"), &b) == 0 && b)
		return CM_GLOB;
	if (type != NULL && strcmp(type, "ip") == 0)
		return CM_IP;
	if (filter != NULL && strcmp(filter, "email:domain") == 0)
		return CM_DOMAIN;
	return CM_STRING;
}

static void
add_lists(struct ctrl_map_list *l, const struct obj *root, const char *section)
{
	static const struct {
		const char *suffix;
		enum ctrl_map_type type;
	} keys[] = { { "_ip", CM_IP }, { "_domains", CM_DOMAIN }, { "_from", CM_EMAIL },
		{ "_emails", CM_EMAIL } };
	const struct obj *sect = obj_lookup(root, section), *rules;
	char key[64];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (str_format(key, sizeof(key), "%s%s", section, keys[i].suffix) >= 0)
			add_sources(l, obj_lookup(sect, key), keys[i].type, section, key);
	}
	rules = obj_lookup(sect, "rules");
	for (const struct obj *r = obj_first(rules); r != NULL; r = r->next) {
		if (r->key != NULL)
			add_sources(l, obj_lookup(r, "domains"), CM_DOMAIN, section, r->key);
	}
}

static void
collect_maps(const struct config *cfg, struct ctrl_map_list *l)
{
	const struct obj *mm = obj_lookup(cfg->root, "multimap");

	l->n = 0;
	for (const struct obj *r = obj_first(mm); r != NULL; r = r->next) {
		if (r->key != NULL && r->type == OBJ_OBJECT)
			add_sources(l, obj_lookup(r, "map"), multimap_type(r), "multimap", r->key);
	}
	add_lists(l, cfg->root, "whitelist");
	add_lists(l, cfg->root, "blacklist");
}

static void
free_maps(struct ctrl_map_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->maps[i].description);
	l->n = 0;
}

static bool
editable(const char *path)
{
	char dir[PATH_MAX];

	if (access(path, W_OK) == 0)
		return true;
	if (errno != ENOENT)
		return false;
	str_lcpy(dir, path, sizeof(dir));
	return access(dirname(dir), W_OK) == 0;
}

void
controller_maps(struct controller *c, struct http_request *req)
{
	struct ctrl_map_list *l = xcalloc(1, sizeof(*l));
	struct obj *a = obj_new_array();
	struct buf b;

	collect_maps(c->ctx->cfg, l);
	for (size_t i = 0; i < l->n; i++) {
		struct obj *o = obj_new_object();

		obj_object_set(o, "map", obj_new_int(l->maps[i].id));
		obj_object_set(o, "description", obj_new_string(l->maps[i].description));
		obj_object_set(o, "uri", obj_new_string(l->maps[i].path));
		obj_object_set(o, "type", obj_new_string(map_type_names[l->maps[i].type]));
		obj_object_set(o, "editable", obj_new_bool(editable(l->maps[i].path)));
		obj_array_append(a, o);
	}
	free_maps(l);
	free(l);
	buf_init(&b, 0);
	obj_emit_json(a, &b, false);
	obj_free(&a);
	controller_reply_json(req, 200, NULL, b.data, b.len);
	buf_deinit(&b);
}

/* The map the request names (Map: header or ?map=); -1 and replied if none. */
static int
find_map(struct controller *c, struct http_request *req, struct ctrl_map_list *l,
    struct ctrl_map **m_r)
{
	const struct http_header *h = http_message_header(req->msg, "Map");
	const char *v = h != NULL ? str_dup_cstr(req->pool, str_trim(h->value)) :
				    http_query_param(req->msg, "map", req->pool);
	char *end = NULL;
	unsigned long id;

	if (v == NULL || *v == '\0') {
		controller_reply_error(req, 400, "Map id not specified");
		return -1;
	}
	errno = 0;
	id = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || id > UINT32_MAX) {
		controller_reply_error(req, 400, "Invalid map id");
		return -1;
	}
	collect_maps(c->ctx->cfg, l);
	for (size_t i = 0; i < l->n; i++) {
		if (l->maps[i].id == (uint32_t)id) {
			*m_r = &l->maps[i];
			return 0;
		}
	}
	controller_reply_error(req, 404, "Map not found");
	return -1;
}

void
controller_getmap(struct controller *c, struct http_request *req)
{
	static const struct http_header extra[] = {
		{ STR_LIT("Cache-Control"), STR_LIT("no-store") },
	};
	struct ctrl_map_list *l = xcalloc(1, sizeof(*l));
	struct ctrl_map *m;
	struct buf b;
	FILE *f;

	buf_init(&b, CTRL_MAP_FILE_MAX);
	if (find_map(c, req, l, &m) == 0) {
		f = fopen(m->path, "rb");
		if (f == NULL && errno != ENOENT) {
			controller_reply_error(req, 500, "Cannot read the map file");
		} else {
			char chunk[8192];
			size_t n;
			int rc = 0;

			while (f != NULL && rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
				rc = buf_append(&b, chunk, n);
			if (f != NULL)
				fclose(f);
			if (rc < 0)
				controller_reply_error(req, 500, "Map file too large");
			else
				http_reply(req, 200, "OK", "text/plain", extra, ARRAY_SIZE(extra),
				    b.data, b.len);
		}
	}
	buf_deinit(&b);
	free_maps(l);
	free(l);
}

struct check_ctx {
	enum ctrl_map_type type;
	unsigned bad_line;
	const char *why;
};

static bool
printable_key(struct str k, bool allow_at)
{
	for (size_t i = 0; i < k.len; i++) {
		unsigned char ch = (unsigned char)k.ptr[i];

		if (ch < 0x20 || ch == 0x7f || (!allow_at && ch == '@') || ch == '/')
			return false;
	}
	return k.len > 0;
}

static int
check_entry(void *vctx, struct str key, struct str value, unsigned line)
{
	struct check_ctx *ctx = vctx;
	char text[256];
	struct netmask nm;
	struct map *rm;
	char *err = NULL;

	UNUSED(value);
	switch (ctx->type) {
	case CM_IP:
		if (key.len < sizeof(text)) {
			memcpy(text, key.ptr, key.len);
			text[key.len] = '\0';
		}
		if (key.len >= sizeof(text) || netmask_parse(text, &nm) < 0)
			ctx->why = "not an IP address or CIDR range";
		break;
	case CM_REGEXP:
		rm = map_new_from_text("savemap", MAP_KIND_REGEXP, 0, key.ptr, key.len, &err);
		if (rm == NULL)
			ctx->why = "not a valid regular expression";
		map_free(&rm);
		free(err);
		break;
	case CM_DOMAIN:
		if (!printable_key(key, false))
			ctx->why = "not a domain name";
		break;
	case CM_EMAIL:
		if (!printable_key(key, true) || str_find_chr(key, '@') < 0)
			ctx->why = "not an email address";
		break;
	default:
		for (size_t i = 0; i < key.len; i++) {
			if ((unsigned char)key.ptr[i] < 0x20 || key.ptr[i] == 0x7f)
				ctx->why = "contains control characters";
		}
		break;
	}
	if (ctx->why == NULL)
		return 0;
	ctx->bad_line = line;
	return -1;
}

/* 0 when every entry of `body` suits the map; else a message in `err`. */
static int
validate(enum ctrl_map_type type, const char *body, size_t len, char *err, size_t err_len)
{
	struct check_ctx ctx = { type, 0, NULL };

	if (memchr(body, '\0', len) != NULL) {
		str_format(err, err_len, "the map contains NUL bytes");
		return -1;
	}
	if (map_parse_text(body, len, type == CM_REGEXP, check_entry, &ctx) < 0) {
		str_format(err, err_len, "line %u: %s", ctx.bad_line,
		    ctx.why != NULL ? ctx.why : "cannot parse");
		return -1;
	}
	return 0;
}

void
controller_savemap(struct controller *c, struct http_request *req)
{
	struct ctrl_map_list *l = xcalloc(1, sizeof(*l));
	const char *body = req->msg->body != NULL ? req->msg->body : "";
	size_t len = req->msg->body_len;
	struct ctrl_map *m;
	char why[300], *err = NULL;

	if (find_map(c, req, l, &m) < 0)
		goto out;
	if (!editable(m->path)) {
		controller_reply_error(req, 403, "Map is not editable");
		goto out;
	}
	if (validate(m->type, body, len, why, sizeof(why)) < 0) {
		controller_reply_error(req, 400, why);
		goto out;
	}
	if (settings_store_write(m->path, body, len, &err) < 0) {
		log_error("controller", NULL, "/savemap: %s", err);
		controller_reply_error(req, 500, "Cannot write the map file");
		free(err);
		goto out;
	}
	log_notice("controller", NULL, "map %s (%u) saved by %s: %zu bytes", m->path, m->id,
	    req->peer_text, len);
	controller_reply_json(req, 200, NULL, "{\"success\":true}", 16);
out:
	free_maps(l);
	free(l);
}
