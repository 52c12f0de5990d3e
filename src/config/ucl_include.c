/*
 * ucl_include.c - the UCL macros (.include, .includes, .try_include,
 * .priority) and reading included files.
 *
 * An included file becomes a nested chunk parsed into the object the macro
 * sits in, with the priority and duplicate strategy from the macro's
 * parameters; that is how `local.d` and `override.d` files placed inside a
 * section merge with it. Safety: nesting is capped at
 * UCL_MAX_INCLUDE_DEPTH, a file that is already open further up the
 * include chain is a loop (compared by realpath), every file and the total
 * read are size-capped, and with UCL_FLAG_NO_FILES the filesystem is
 * never touched.
 */
#include "config/ucl_private.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libucl keeps priorities in four bits; staying in range keeps files
 * portable between the two. */
#define UCL_MAX_PRIORITY 15

struct include_params {
	bool try_missing;
	bool glob;
	bool has_priority;
	int priority;
	enum ucl_dup dup;
};

static int
read_file(struct ucl_parser *P, struct ucl_chunk *c, const char *at,
    const char *path, char **data_r, size_t *len_r)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	char *data;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ucl_error(P, c, at, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ucl_error(P, c, at, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > UCL_MAX_INPUT_SIZE ||
	    P->total + (size_t)st.st_size > UCL_MAX_TOTAL_SIZE) {
		close(fd);
		return ucl_error(P, c, at, "'%s' is too large", path);
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	err = errno;
	close(fd);
	if (got < (size_t)st.st_size) {
		free(data);
		return ucl_error(P, c, at, "cannot read '%s': %s", path,
		    strerror(err));
	}
	data[got] = '\0';
	P->total += got;
	*data_r = data;
	*len_r = got;
	return 0;
}

static bool
in_include_chain(const struct ucl_chunk *c, const char *rp)
{
	for (; c != NULL; c = c->parent) {
		if (c->realpath != NULL && strcmp(c->realpath, rp) == 0)
			return true;
	}
	return false;
}

int
ucl_include_path(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const char *path, bool try_missing, int priority, enum ucl_dup dup,
    const char *at)
{
	struct ucl_chunk child;
	char *rp, *data = NULL;
	size_t len = 0;
	int r;

	if ((P->flags & UCL_FLAG_NO_FILES) != 0)
		return ucl_error(P, c, at, "including files is disabled here");
	if (P->include_depth >= UCL_MAX_INCLUDE_DEPTH)
		return ucl_error(P, c, at, "includes nested deeper than %d levels at '%s'",
		    UCL_MAX_INCLUDE_DEPTH, path);
	rp = realpath(path, NULL);
	if (rp == NULL) {
		if (try_missing && errno == ENOENT)
			return 0;
		return ucl_error(P, c, at, "cannot open '%s': %s", path, strerror(errno));
	}
	if (in_include_chain(c, rp)) {
		free(rp);
		return ucl_error(P, c, at, "include loop: '%s' is already being read", path);
	}
	if (read_file(P, c, at, path, &data, &len) < 0) {
		free(rp);
		return -1;
	}
	memset(&child, 0, sizeof(child));
	child.data = child.p = data;
	child.end = data + len;
	child.name = path;
	child.realpath = rp;
	child.is_file = true;
	child.priority = priority;
	child.dup = dup;
	child.parent = c;
	P->include_depth++;
	r = ucl_parse_chunk(P, &child, target);
	P->include_depth--;
	free(data);
	free(rp);
	return r;
}

/* Relative paths are relative to the including file. */
static char *
resolve_path(const struct ucl_chunk *c, const char *path)
{
	const char *slash;
	struct buf b;

	if (path[0] == '/' || c == NULL || !c->is_file ||
	    (slash = strrchr(c->name, '/')) == NULL)
		return xstrdup(path);
	buf_init(&b, 0);
	(void)buf_append(&b, c->name, (size_t)(slash - c->name) + 1);
	(void)buf_append_cstr(&b, path);
	return buf_steal(&b, NULL);
}

static int
include_glob(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const char *path, const struct include_params *ip, const char *at)
{
	glob_t g;
	int r = 0, gr;

	memset(&g, 0, sizeof(g));
	gr = glob(path, 0, NULL, &g);
	if (gr == GLOB_NOMATCH) {
		globfree(&g);
		if (ip->try_missing)
			return 0;
		return ucl_error(P, c, at, "no files match '%s'", path);
	}
	if (gr != 0) {
		globfree(&g);
		return ucl_error(P, c, at, "cannot expand '%s'", path);
	}
	for (size_t i = 0; i < g.gl_pathc && r == 0; i++)
		r = ucl_include_path(P, c, target, g.gl_pathv[i], ip->try_missing,
		    ip->priority, ip->dup, at);
	globfree(&g);
	return r;
}

static int
read_params(struct ucl_parser *P, struct ucl_chunk *c, const struct obj *params,
    struct include_params *ip, const char *at)
{
	const struct obj *m;
	int64_t prio;
	const char *s;

	for (m = obj_first(params); m != NULL; m = m->next) {
		if (strcmp(m->key, "try") == 0) {
			if (obj_get_bool(m, &ip->try_missing) < 0)
				return ucl_error(P, c, at, "'try' must be a boolean");
		} else if (strcmp(m->key, "glob") == 0) {
			if (obj_get_bool(m, &ip->glob) < 0)
				return ucl_error(P, c, at, "'glob' must be a boolean");
		} else if (strcmp(m->key, "priority") == 0) {
			if (obj_get_int(m, &prio) < 0 || prio < 0 ||
			    prio > UCL_MAX_PRIORITY)
				return ucl_error(P, c, at, "'priority' must be 0..%d",
				    UCL_MAX_PRIORITY);
			ip->priority = (int)prio;
			ip->has_priority = true;
		} else if (strcmp(m->key, "duplicate") == 0) {
			s = obj_get_string(m);
			if (s == NULL || ucl_dup_parse(s, &ip->dup) < 0)
				return ucl_error(P, c, at,
				    "'duplicate' must be append, merge, rewrite or error");
		} else {
			/* sign, prefix, target, nested...: refuse rather than
			 * silently ignore what the author relied on */
			return ucl_error(P, c, at, "unsupported .include parameter '%s'",
			    m->key);
		}
	}
	return 0;
}

static int
do_include(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const struct obj *params, const struct obj *arg, struct include_params *ip,
    const char *at)
{
	const char *raw = obj_get_string(arg);
	char *path;
	int r;

	ip->priority = c->priority;
	ip->dup = UCL_DUP_APPEND;
	if (params != NULL && read_params(P, c, params, ip, at) < 0)
		return -1;
	if (raw == NULL || raw[0] == '\0')
		return ucl_error(P, c, at, ".include needs a path string");
	path = resolve_path(c, raw);
	if (ip->glob || strpbrk(path, "*?[") != NULL)
		r = include_glob(P, c, target, path, ip, at);
	else
		r = ucl_include_path(P, c, target, path, ip->try_missing,
		    ip->priority, ip->dup, at);
	free(path);
	return r;
}

static int
do_priority(struct ucl_parser *P, struct ucl_chunk *c, const struct obj *params,
    const struct obj *arg, const char *at)
{
	const struct obj *v = arg != NULL ? arg : obj_lookup(params, "priority");
	int64_t prio;

	if (v == NULL || obj_get_int(v, &prio) < 0 || prio < 0 ||
	    prio > UCL_MAX_PRIORITY)
		return ucl_error(P, c, at, ".priority needs a number 0..%d",
		    UCL_MAX_PRIORITY);
	c->priority = (int)prio;
	return 0;
}

/* The macro's argument, if one follows on the same line. */
static int
macro_arg(struct ucl_parser *P, struct ucl_chunk *c, struct obj **arg_r)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	*arg_r = NULL;
	if (c->p >= c->end || *c->p == ';' || *c->p == '\n' || *c->p == '\r' ||
	    *c->p == '}' || *c->p == '#')
		return 0;
	return ucl_parse_value(P, c, arg_r);
}

int
ucl_parse_macro(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target)
{
	static const char *const names[] = {
		"include", "includes", "try_include", "priority",
	};
	struct include_params ip;
	struct obj *params = NULL, *arg = NULL;
	const char *at = c->p, *ns;
	size_t nlen, kind;
	int r = -1;

	ns = ++c->p;
	while (c->p < c->end && ((*c->p >= 'a' && *c->p <= 'z') || *c->p == '_'))
		c->p++;
	nlen = (size_t)(c->p - ns);
	for (kind = 0; kind < ARRAY_SIZE(names); kind++) {
		if (strlen(names[kind]) == nlen && memcmp(names[kind], ns, nlen) == 0)
			break;
	}
	if (kind == ARRAY_SIZE(names))
		return ucl_error(P, c, at, "unknown macro '.%.*s'", (int)nlen, ns);
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	if (c->p < c->end && *c->p == '(') {
		params = obj_new_object();
		c->p++;
		P->in_params = true;
		r = ucl_parse_body(P, c, params, ')');
		P->in_params = false;
		if (r < 0)
			goto out;
	}
	if (macro_arg(P, c, &arg) < 0)
		goto out;
	memset(&ip, 0, sizeof(ip));
	ip.try_missing = kind == 2;
	if (kind == 3)
		r = do_priority(P, c, params, arg, at);
	else
		r = do_include(P, c, target, params, arg, &ip, at);
out:
	obj_free(&params);
	obj_free(&arg);
	return r;
}
