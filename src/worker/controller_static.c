/*
 * controller_static.c - serves the web UI (interface/) from the
 * controller, like Rspamd's controller serves its `static_dir`.
 *
 * Anything the API router does not know and that is a GET or HEAD comes
 * here. The URL path is percent-decoded and checked segment by segment:
 * "..", hidden names (".git", ".env") and backslashes are refused before
 * the file system is touched, and the resolved real path must still lie
 * under the resolved document root, so a symlink cannot lead outside it.
 * Only regular files are sent; a directory means its index.html.
 *
 * No authentication: the files are the same for everybody and every API
 * call the pages make carries the password itself. Replies say
 * `Cache-Control: no-cache` with an ETag from size and mtime, so a
 * browser revalidates cheaply (304) and sees a rebuilt UI at once.
 *
 * Files are small (the largest is the chart library, ~200 KiB), so each
 * one is read whole per request; no cache is kept in the worker.
 */
#include "worker/controller_static.h"

#include "config/config.h"
#include "core/common.h"
#include "core/obj.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "http/http_parser.h"
#include "http/http_server.h"
#include "log/log.h"
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_FILE (16u * 1024 * 1024)

/* Resolved document root, without a trailing '/'; empty = off. */
static char static_root[PATH_MAX];

static const struct {
	const char *ext;
	const char *type;
} static_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".map", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
try_root(const char *dir)
{
	if (dir == NULL || dir[0] == '\0' || !is_dir(dir) ||
	    realpath(dir, static_root) == NULL) {
		static_root[0] = '\0';
		return false;
	}
	/* "/" as a root would make the prefix check below meaningless */
	if (strcmp(static_root, "/") == 0) {
		static_root[0] = '\0';
		return false;
	}
	return true;
}

void
controller_static_init(const struct worker_ctx *ctx)
{
	const char *dir = obj_get_string(obj_lookup(ctx->wcfg->obj, "static_dir"));
	char fallback[PATH_MAX];

	if (try_root(dir))
		return;
	/* rulesdir is <SHAREDIR>/rules: the UI sits next to it */
	fallback[0] = '\0';
	if (ctx->cfg->rulesdir != NULL &&
	    str_format(fallback, sizeof(fallback), "%s/../interface", ctx->cfg->rulesdir) >= 0 &&
	    try_root(fallback)) {
		log_info("controller", NULL, "static_dir %s not found, serving the UI from %s",
		    dir != NULL ? dir : "(unset)", static_root);
		return;
	}
	log_warn("controller", NULL, "static_dir %s not found: no web UI",
	    dir != NULL ? dir : "(unset)");
}

/* True for a segment that must never be served. */
static bool
bad_segment(const char *seg, size_t len)
{
	if (len > 0 && seg[0] == '.')
		return true; /* "..", ".", hidden files */
	for (size_t i = 0; i < len; i++) {
		if (seg[i] == '\\' || seg[i] == '\0')
			return true;
	}
	return false;
}

/*
 * Checked relative path for a decoded URL path into `out`; -1 when it
 * must be refused. Empty segments are dropped; a trailing '/' (or no
 * path at all) means index.html.
 */
static int
static_rel_path(const char *path, size_t len, char *out, size_t size)
{
	size_t o = 0, i = 0;

	out[0] = '\0';
	while (i < len) {
		size_t start = i;

		while (i < len && path[i] != '/')
			i++;
		if (i > start) {
			if (bad_segment(path + start, i - start) ||
			    o + (i - start) + 2 > size)
				return -1;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, path + start, i - start);
			o += i - start;
			out[o] = '\0';
		}
		i++;
	}
	if (len == 0 || path[len - 1] == '/')
		return str_format(out + o, size - o, "%sindex.html", o > 0 ? "/" : "");
	return 0;
}

/* The real path of root/rel if it is inside the root; a directory
 * becomes its index.html. */
static int
static_resolve(const char *rel, char *real_r)
{
	char full[PATH_MAX], index[PATH_MAX];
	size_t rlen = strlen(static_root);

	if (str_format(full, sizeof(full), "%s/%s", static_root, rel) < 0 ||
	    realpath(full, real_r) == NULL)
		return -1;
	if (strncmp(real_r, static_root, rlen) != 0 || real_r[rlen] != '/')
		return -1;
	if (is_dir(real_r)) {
		if (str_format(index, sizeof(index), "%s/index.html", real_r) < 0 ||
		    realpath(index, real_r) == NULL)
			return -1;
		if (strncmp(real_r, static_root, rlen) != 0 || real_r[rlen] != '/')
			return -1;
	}
	return 0;
}

static const char *
static_content_type(const char *path)
{
	size_t plen = strlen(path);

	for (size_t i = 0; i < ARRAY_SIZE(static_types); i++) {
		size_t elen = strlen(static_types[i].ext);

		if (plen > elen && strcasecmp(path + plen - elen, static_types[i].ext) == 0)
			return static_types[i].type;
	}
	return "application/octet-stream";
}

/* Whole regular file into heap memory; *st_r is its fstat. */
static char *
static_read(const char *path, struct stat *st_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, st_r) < 0 || !S_ISREG(st_r->st_mode) ||
	    (uint64_t)st_r->st_size > STATIC_MAX_FILE) {
		close(fd);
		return NULL;
	}
	data = xmalloc((size_t)st_r->st_size + 1);
	while (got < (size_t)st_r->st_size) {
		ssize_t n = read(fd, data + got, (size_t)st_r->st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len_r = got;
	return data;
}

static void
static_send(struct http_request *req, const char *path)
{
	struct http_header h[3];
	const struct http_header *inm;
	char etag[64];
	struct stat st;
	size_t len = 0;
	char *data = static_read(path, &st, &len);

	if (data == NULL) {
		http_reply(req, 404, "Not found", "text/plain", NULL, 0, "Not found", 9);
		return;
	}
	if (str_format(etag, sizeof(etag), "\"%llx-%llx\"",
	        (unsigned long long)st.st_size,
	        (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
	            (unsigned long long)st.st_mtim.tv_nsec) < 0)
		etag[0] = '\0';
	h[0] = (struct http_header){ STR_LIT("Cache-Control"), STR_LIT("no-cache") };
	h[1] = (struct http_header){ STR_LIT("X-Content-Type-Options"), STR_LIT("nosniff") };
	h[2] = (struct http_header){ STR_LIT("ETag"), str_from_cstr(etag) };
	inm = http_message_header(req->msg, "If-None-Match");
	if (etag[0] != '\0' && inm != NULL && str_eq_cstr(str_trim(inm->value), etag))
		http_reply(req, 304, "Not Modified", NULL, h, ARRAY_SIZE(h), NULL, 0);
	else
		http_reply(req, 200, "OK", static_content_type(path), h, ARRAY_SIZE(h), data, len);
	free(data);
}

bool
controller_static_serve(struct http_request *req)
{
	const struct http_message *m = req->msg;
	char rel[PATH_MAX], real[PATH_MAX];
	char *decoded;
	size_t dlen = 0;

	if (static_root[0] == '\0' ||
	    !(str_eq_cstr(m->method, "GET") || str_eq_cstr(m->method, "HEAD")))
		return false;
	decoded = http_url_decode(m->path, false, req->pool, &dlen);
	if (decoded == NULL || strlen(decoded) != dlen ||
	    static_rel_path(decoded, dlen, rel, sizeof(rel)) < 0 ||
	    static_resolve(rel, real) < 0)
		return false;
	static_send(req, real);
	return true;
}
