/*
 * ucl_parser.c - the structure of UCL: object bodies, members, named
 * sections, arrays, values, and the merge of a new value into the object
 * that already holds its key.
 *
 * The parser is recursive descent over an in-memory buffer (a chunk). It
 * writes straight into the object being filled, which is what makes
 * includes inside a section work: an included file is just another chunk
 * parsed into the same object, with its own priority and duplicate
 * strategy. Recursion depth is bounded by UCL_MAX_DEPTH, counted across
 * includes. The first error sticks in the parser and stops everything.
 */
#include "config/ucl_private.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Name levels in one named section header: a "b" "c" { }. */
#define UCL_MAX_NAMES 16
/* Strings may grow by variable expansion; bound that too. */
#define UCL_MAX_STRING (4u * UCL_MAX_INPUT_SIZE)

unsigned
ucl_line_at(struct ucl_chunk *c, const char *p)
{
	const char *q, *nl;

	if (p > c->end)
		p = c->end;
	if (c->line_pos == NULL || p < c->line_pos) {
		c->line_pos = c->data;
		c->line_no = 1;
	}
	for (q = c->line_pos; q < p; q = nl + 1) {
		nl = memchr(q, '\n', (size_t)(p - q));
		if (nl == NULL)
			break;
		c->line_no++;
	}
	c->line_pos = p;
	return c->line_no;
}

int
ucl_error(struct ucl_parser *P, struct ucl_chunk *c, const char *at,
    const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (P->error != NULL)
		return -1;
	buf_init(&b, 0);
	if (c != NULL)
		(void)buf_printf(&b, "%s:%u: ", c->name, ucl_line_at(c, at));
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	P->error = buf_steal(&b, NULL);
	return -1;
}

/* A byte for an error message: itself when printable, else "\xNN". */
static const char *
show_char(char ch, char tmp[8])
{
	unsigned char u = (unsigned char)ch;

	if (u >= 0x20 && u < 0x7f)
		(void)str_format(tmp, 8, "%c", ch);
	else
		(void)str_format(tmp, 8, "\\x%02x", u);
	return tmp;
}

int
ucl_dup_parse(const char *name, enum ucl_dup *dup_r)
{
	static const char *const names[] = { "append", "merge", "rewrite", "error" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(name, names[i]) == 0) {
			*dup_r = (enum ucl_dup)i;
			return 0;
		}
	}
	return -1;
}

static void
set_meta(struct ucl_chunk *c, struct obj *o, const char *at)
{
	o->priority = c->priority;
	o->line = ucl_line_at(c, at);
	free(o->file);
	o->file = c->is_file ? xstrdup(c->name) : NULL;
}

static bool
at_pair(const struct ucl_chunk *c, const char *p, char a, char b)
{
	return p + 1 < c->end && p[0] == a && p[1] == b;
}

/* At "/ *": skips a comment, nested ones included. */
static int
skip_block_comment(struct ucl_parser *P, struct ucl_chunk *c)
{
	const char *start = c->p;
	size_t nest = 0;

	while (c->p < c->end) {
		if (at_pair(c, c->p, '/', '*')) {
			nest++;
			c->p += 2;
		} else if (at_pair(c, c->p, '*', '/')) {
			c->p += 2;
			if (--nest == 0)
				return 0;
		} else {
			c->p++;
		}
	}
	return ucl_error(P, c, start, "unterminated comment");
}

static void
skip_line(struct ucl_chunk *c)
{
	const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));

	c->p = nl != NULL ? nl : c->end;
}

int
ucl_skip_ws(struct ucl_parser *P, struct ucl_chunk *c)
{
	while (c->p < c->end) {
		if (ascii_isspace(*c->p))
			c->p++;
		else if (*c->p == '#' || at_pair(c, c->p, '/', '/'))
			skip_line(c);
		else if (at_pair(c, c->p, '/', '*')) {
			if (skip_block_comment(P, c) < 0)
				return -1;
		} else
			break;
	}
	return 0;
}

static void
skip_hspace(struct ucl_chunk *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool
is_key_char(const struct ucl_chunk *c, const char *p)
{
	unsigned char u = (unsigned char)*p;

	if (u == '/')
		return !at_pair(c, p, '/', '/') && !at_pair(c, p, '/', '*');
	return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
	    (u >= '0' && u <= '9') || u == '_' || u == '-' || u == '.' ||
	    u == '@' || u == '+' || u >= 0x80;
}

/* End of a quoted string starting at p (the quote), or NULL. */
static const char *
quoted_end(const struct ucl_chunk *c, const char *p)
{
	char q = *p++;

	while (p < c->end && *p != q) {
		if (*p == '\\' && p + 1 < c->end)
			p++;
		p++;
	}
	return p < c->end ? p : NULL;
}

/* At a quote: the unescaped body goes to out, c->p moves past it. */
static int
scan_quoted(struct ucl_parser *P, struct ucl_chunk *c, struct buf *out,
    bool expand)
{
	const char *end = quoted_end(c, c->p), *body = c->p + 1;
	struct buf tmp;
	int r = 0;

	if (end == NULL)
		return ucl_error(P, c, c->p, "unterminated string");
	if (*c->p == '\'') {
		ucl_unescape_squoted(body, (size_t)(end - body), out);
	} else if (!expand || memchr(body, '$', (size_t)(end - body)) == NULL) {
		ucl_unescape_dquoted(body, (size_t)(end - body), out);
	} else {
		buf_init(&tmp, 0);
		ucl_unescape_dquoted(body, (size_t)(end - body), &tmp);
		r = ucl_expand_vars(P->vars, tmp.data != NULL ? tmp.data : "",
		    tmp.len, out);
		buf_deinit(&tmp);
		if (r < 0)
			return ucl_error(P, c, c->p, "string too long after expansion");
	}
	c->p = end + 1;
	return 0;
}

static int
parse_key(struct ucl_parser *P, struct ucl_chunk *c, struct buf *key)
{
	const char *at = c->p;
	char tmp[8];

	if (*c->p == '"' || *c->p == '\'') {
		if (scan_quoted(P, c, key, false) < 0)
			return -1;
	} else if (is_key_char(c, c->p)) {
		while (c->p < c->end && is_key_char(c, c->p))
			(void)buf_putc(key, *c->p++);
	} else {
		return ucl_error(P, c, at, "unexpected '%s' where a key was expected",
		    show_char(*c->p, tmp));
	}
	if (key->len > 0 && memchr(key->data, '\0', key->len) != NULL)
		return ucl_error(P, c, at, "NUL byte in a key");
	if (key->data == NULL)
		(void)buf_append(key, "", 0);
	return 0;
}

/*
 * Puts `val` under `key` in `target`, following the chunk's duplicate
 * strategy and the priorities (see ucl_parser.h). Takes val.
 */
static void
make_implicit(struct obj *e, struct obj *val)
{
	struct obj *first;

	if (e->type == OBJ_ARRAY && e->implicit) {
		obj_array_append(e, val);
		return;
	}
	/* Turn e into the array in place so the member keeps its position. */
	first = xmalloc(sizeof(*first));
	*first = *e;
	first->key = NULL;
	first->keylen = 0;
	first->next = NULL;
	first->file = e->file != NULL ? xstrdup(e->file) : NULL;
	e->type = OBJ_ARRAY;
	e->implicit = true;
	memset(&e->v, 0, sizeof(e->v));
	obj_array_append(e, first);
	obj_array_append(e, val);
}

static int
place(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const char *key, struct obj *val, const char *at)
{
	struct obj *e = obj_lookup(target, key);

	if (e == NULL) {
		if (obj_count(target) >= UCL_MAX_MEMBERS) {
			obj_free(&val);
			return ucl_error(P, c, at, "too many keys in one object");
		}
		obj_object_append(target, key, val);
		return 0;
	}
	if (c->dup == UCL_DUP_ERROR) {
		obj_free(&val);
		return ucl_error(P, c, at, "duplicate key '%s'", key);
	}
	if (val->priority < e->priority)
		obj_free(&val);
	else if (val->priority > e->priority || c->dup == UCL_DUP_REWRITE)
		obj_object_set(target, key, val);
	else
		make_implicit(e, val);
	return 0;
}

/* At '{': parses the body into target. */
static int
parse_braced(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target)
{
	int r;

	if (++P->depth > UCL_MAX_DEPTH) {
		P->depth--;
		return ucl_error(P, c, c->p, "nesting deeper than %d levels",
		    UCL_MAX_DEPTH);
	}
	c->p++;
	r = ucl_parse_body(P, c, target, '}');
	P->depth--;
	return r;
}

/* At '{' for `key`: deep-merges into an existing section or makes one. */
static int
parse_section(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const char *key, const char *at)
{
	struct obj *e = obj_lookup(target, key), *o;

	if (e != NULL && e->type == OBJ_OBJECT && c->dup == UCL_DUP_MERGE &&
	    c->priority >= e->priority)
		return parse_braced(P, c, e);
	o = obj_new_object();
	set_meta(c, o, at);
	if (parse_braced(P, c, o) < 0) {
		obj_free(&o);
		return -1;
	}
	return place(P, c, target, key, o, at);
}

/*
 * End of a bare word at c->p: a separator, a newline, an unmatched closing
 * bracket, or a comment that follows whitespace (so "http://x" and "a#b"
 * stay whole). Brackets pair up so ${VAR} and f(x) survive.
 */
static const char *
atom_end(const struct ucl_chunk *c)
{
	const char *s;
	size_t nest = 0;

	for (s = c->p; s < c->end; s++) {
		char ch = *s;

		if (ch == '\n' || ch == '\r')
			break;
		if ((ch == ';' || ch == ',') && nest == 0)
			break;
		if (ch == '{' || ch == '[' || ch == '(') {
			nest++;
		} else if (ch == '}' || ch == ']' || ch == ')') {
			if (nest == 0)
				break;
			nest--;
		} else if ((ch == '#' || at_pair(c, s, '/', '/') ||
		    at_pair(c, s, '/', '*')) && s > c->p &&
		    (s[-1] == ' ' || s[-1] == '\t')) {
			break;
		}
	}
	while (s > c->p && (s[-1] == ' ' || s[-1] == '\t'))
		s--;
	return s;
}

static int
parse_atom(struct ucl_parser *P, struct ucl_chunk *c, struct obj **val_r)
{
	const char *start = c->p, *end = atom_end(c);
	size_t len = (size_t)(end - start);
	struct obj *o;
	struct buf b;
	char tmp[8];

	if (len == 0) {
		if (start >= c->end)
			return ucl_error(P, c, start, "unexpected end of input, expected a value");
		return ucl_error(P, c, start, "unexpected '%s', expected a value",
		    show_char(*start, tmp));
	}
	c->p = end;
	o = ucl_atom_scalar(start, len);
	if (o != NULL) {
		*val_r = o;
		return 0;
	}
	if ((P->flags & UCL_FLAG_JSON) != 0 || memchr(start, '$', len) == NULL) {
		*val_r = obj_new_stringn(start, len);
		return 0;
	}
	buf_init(&b, UCL_MAX_STRING);
	if (ucl_expand_vars(P->vars, start, len, &b) < 0) {
		buf_deinit(&b);
		return ucl_error(P, c, start, "string too long after expansion");
	}
	*val_r = obj_new_stringn(b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return 0;
}

/* Does the terminator line at `line` match `term` (optionally ";" etc.)? */
static bool
heredoc_term_line(const struct ucl_chunk *c, const char *line,
    const char *term, size_t tlen, const char **after_r)
{
	const char *p;

	if ((size_t)(c->end - line) < tlen || memcmp(line, term, tlen) != 0)
		return false;
	for (p = line + tlen; p < c->end && *p != '\n'; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != ';' && *p != ',')
			return false;
	}
	*after_r = line + tlen;
	return true;
}

/* At "<<TERM\n": everything up to a line holding TERM alone. */
static int
parse_heredoc(struct ucl_parser *P, struct ucl_chunk *c, struct obj **val_r)
{
	const char *term = c->p + 2, *te = term, *body, *line, *nl, *after;
	const char *cend;
	size_t tlen;

	while (te < c->end && *te >= 'A' && *te <= 'Z')
		te++;
	tlen = (size_t)(te - term);
	if (te < c->end && *te == '\r')
		te++;
	if (te >= c->end || *te != '\n')
		return ucl_error(P, c, c->p, "heredoc marker must end its line");
	body = line = te + 1;
	for (;;) {
		if (heredoc_term_line(c, line, term, tlen, &after))
			break;
		nl = memchr(line, '\n', (size_t)(c->end - line));
		if (nl == NULL)
			return ucl_error(P, c, c->p, "unterminated heredoc <<%.*s",
			    (int)tlen, term);
		line = nl + 1;
	}
	cend = line > body ? line - 1 : body;
	if (cend > body && cend[-1] == '\r')
		cend--;
	c->p = after;
	if ((P->flags & UCL_FLAG_JSON) == 0 &&
	    memchr(body, '$', (size_t)(cend - body)) != NULL) {
		struct buf b;

		buf_init(&b, UCL_MAX_STRING);
		if (ucl_expand_vars(P->vars, body, (size_t)(cend - body), &b) < 0) {
			buf_deinit(&b);
			return ucl_error(P, c, body, "string too long after expansion");
		}
		*val_r = obj_new_stringn(b.data != NULL ? b.data : "", b.len);
		buf_deinit(&b);
		return 0;
	}
	*val_r = obj_new_stringn(body, (size_t)(cend - body));
	return 0;
}

static int
parse_array(struct ucl_parser *P, struct ucl_chunk *c, struct obj **val_r)
{
	const char *start = c->p;
	struct obj *arr, *v;

	if (++P->depth > UCL_MAX_DEPTH) {
		P->depth--;
		return ucl_error(P, c, c->p, "nesting deeper than %d levels",
		    UCL_MAX_DEPTH);
	}
	arr = obj_new_array();
	c->p++;
	for (;;) {
		if (ucl_skip_ws(P, c) < 0)
			goto fail;
		if (c->p >= c->end) {
			ucl_error(P, c, start, "unterminated array");
			goto fail;
		}
		if (*c->p == ']') {
			c->p++;
			break;
		}
		if (ucl_parse_value(P, c, &v) < 0)
			goto fail;
		obj_array_append(arr, v);
		if (ucl_skip_ws(P, c) < 0)
			goto fail;
		if (c->p < c->end && (*c->p == ',' || *c->p == ';'))
			c->p++;
	}
	P->depth--;
	*val_r = arr;
	return 0;
fail:
	P->depth--;
	obj_free(&arr);
	return -1;
}

static int
parse_string_value(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj **val_r)
{
	struct buf b;

	buf_init(&b, UCL_MAX_STRING);
	if (scan_quoted(P, c, &b, (P->flags & UCL_FLAG_JSON) == 0) < 0) {
		buf_deinit(&b);
		return -1;
	}
	*val_r = obj_new_stringn(b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return 0;
}

int
ucl_parse_value(struct ucl_parser *P, struct ucl_chunk *c, struct obj **val_r)
{
	const char *at = c->p;
	struct obj *o = NULL;
	int r;

	if (c->p >= c->end)
		return ucl_error(P, c, at, "unexpected end of input, expected a value");
	switch (*c->p) {
	case '{':
		o = obj_new_object();
		r = parse_braced(P, c, o);
		if (r < 0)
			obj_free(&o);
		break;
	case '[':
		r = parse_array(P, c, &o);
		break;
	case '"':
	case '\'':
		r = parse_string_value(P, c, &o);
		break;
	default:
		if (at_pair(c, c->p, '<', '<') && c->p + 2 < c->end &&
		    c->p[2] >= 'A' && c->p[2] <= 'Z')
			r = parse_heredoc(P, c, &o);
		else
			r = parse_atom(P, c, &o);
		break;
	}
	if (r < 0)
		return -1;
	set_meta(c, o, at);
	*val_r = o;
	return 0;
}

/* Descends `levels` (key, names...) of a named section and parses it. */
static int
named_level(struct ucl_parser *P, struct ucl_chunk *c, struct obj *cur,
    char **levels, size_t n, const char *at)
{
	struct obj *e, *o;

	if (n == 1)
		return parse_section(P, c, cur, levels[0], at);
	/* Sibling named sections share their parent: worker "a" + worker "b". */
	e = obj_lookup(cur, levels[0]);
	if (e != NULL && e->type == OBJ_OBJECT)
		return named_level(P, c, e, levels + 1, n - 1, at);
	o = obj_new_object();
	set_meta(c, o, at);
	if (named_level(P, c, o, levels + 1, n - 1, at) < 0) {
		obj_free(&o);
		return -1;
	}
	return place(P, c, cur, levels[0], o, at);
}

/* Reads one section name (quoted or bare) without reporting errors. */
static bool
read_name(struct ucl_chunk *c, struct buf *out)
{
	const char *end;

	if (*c->p == '"' || *c->p == '\'') {
		end = quoted_end(c, c->p);
		if (end == NULL)
			return false;
		if (*c->p == '"')
			ucl_unescape_dquoted(c->p + 1, (size_t)(end - c->p - 1), out);
		else
			ucl_unescape_squoted(c->p + 1, (size_t)(end - c->p - 1), out);
		c->p = end + 1;
	} else if (is_key_char(c, c->p)) {
		while (c->p < c->end && is_key_char(c, c->p))
			(void)buf_putc(out, *c->p++);
	} else {
		return false;
	}
	if (out->data == NULL)
		(void)buf_append(out, "", 0);
	return memchr(out->data, '\0', out->len) == NULL;
}

/*
 * After `key` without '=' or ':': is this `key "name" ... {`? Names must
 * sit on the key's line, so a value followed by a section on the next
 * line is not mistaken for one. Returns 1 when it parsed a named section,
 * 0 when it was not one (nothing consumed), -1 on error.
 */
static int
try_named(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    const char *key, const char *at)
{
	char *levels[UCL_MAX_NAMES + 1];
	const char *save = c->p;
	size_t n = 0;
	bool found = false;
	struct buf b;
	int r = 0;

	levels[n++] = xstrdup(key);
	while (n <= UCL_MAX_NAMES && c->p < c->end) {
		buf_init(&b, 0);
		if (!read_name(c, &b)) {
			buf_deinit(&b);
			break;
		}
		levels[n++] = buf_steal(&b, NULL);
		skip_hspace(c);
		if (c->p < c->end && *c->p == '{') {
			found = true;
			break;
		}
	}
	if (found) {
		P->depth += (unsigned)n - 1;
		if (P->depth > UCL_MAX_DEPTH)
			r = ucl_error(P, c, at, "nesting deeper than %d levels",
			    UCL_MAX_DEPTH);
		else
			r = named_level(P, c, target, levels, n, at) < 0 ? -1 : 1;
		P->depth -= (unsigned)n - 1;
	} else {
		c->p = save;
	}
	for (size_t i = 0; i < n; i++)
		free(levels[i]);
	return r;
}

static int
parse_member(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target)
{
	const char *at = c->p;
	struct obj *v;
	struct buf key;
	bool sep = false;
	int r = -1;

	buf_init(&key, 0);
	if (parse_key(P, c, &key) < 0 || ucl_skip_ws(P, c) < 0)
		goto out;
	if (c->p < c->end && (*c->p == '=' || *c->p == ':')) {
		c->p++;
		sep = true;
		if (ucl_skip_ws(P, c) < 0)
			goto out;
	}
	if (!sep && (P->flags & UCL_FLAG_JSON) == 0 && c->p < c->end &&
	    *c->p != '{') {
		r = try_named(P, c, target, key.data, at);
		if (r != 0) {
			r = r < 0 ? -1 : 0;
			goto out;
		}
	}
	if (c->p < c->end && *c->p == '{')
		r = parse_section(P, c, target, key.data, at);
	else if (ucl_parse_value(P, c, &v) == 0)
		r = place(P, c, target, key.data, v, at);
out:
	buf_deinit(&key);
	return r;
}

int
ucl_parse_body(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target,
    char term)
{
	for (;;) {
		if (ucl_skip_ws(P, c) < 0)
			return -1;
		if (c->p >= c->end) {
			if (term != 0)
				return ucl_error(P, c, c->p,
				    "unexpected end of input, expected '%c'", term);
			return 0;
		}
		if (*c->p == term) {
			c->p++;
			return 0;
		}
		if (*c->p == ';' || *c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == '.' && (P->flags & UCL_FLAG_JSON) == 0 &&
		    !P->in_params) {
			if (ucl_parse_macro(P, c, target) < 0)
				return -1;
			continue;
		}
		if (parse_member(P, c, target) < 0)
			return -1;
	}
}

int
ucl_parse_chunk(struct ucl_parser *P, struct ucl_chunk *c, struct obj *target)
{
	if (ucl_skip_ws(P, c) < 0)
		return -1;
	if (c->p >= c->end || *c->p != '{')
		return ucl_parse_body(P, c, target, 0);
	/* A braced top level, as in JSON. */
	if (parse_braced(P, c, target) < 0)
		return -1;
	for (;;) {
		if (ucl_skip_ws(P, c) < 0)
			return -1;
		if (c->p >= c->end)
			return 0;
		if (*c->p != ';' && *c->p != ',')
			return ucl_error(P, c, c->p,
			    "unexpected data after the top-level object");
		c->p++;
	}
}

static void
chunk_init(struct ucl_chunk *c, const char *data, size_t len, const char *name,
    int priority, enum ucl_dup dup)
{
	memset(c, 0, sizeof(*c));
	c->data = c->p = data;
	c->end = data + len;
	c->name = name;
	c->priority = priority;
	c->dup = dup;
}

static struct obj *
parse_json_root(struct ucl_parser *P, struct ucl_chunk *c)
{
	struct obj *root = NULL;

	if (ucl_skip_ws(P, c) < 0 || ucl_parse_value(P, c, &root) < 0 ||
	    ucl_skip_ws(P, c) < 0) {
		obj_free(&root);
		return NULL;
	}
	if (c->p < c->end) {
		ucl_error(P, c, c->p, "unexpected data after the JSON value");
		obj_free(&root);
	}
	return root;
}

struct obj *
ucl_parse_string(const char *data, size_t len, const char *name,
    const struct ucl_vars *vars, int priority, unsigned flags, char **error_r)
{
	struct ucl_parser P = { .vars = vars, .flags = flags };
	bool json = (flags & UCL_FLAG_JSON) != 0;
	struct ucl_chunk c;
	struct obj *root;

	*error_r = NULL;
	chunk_init(&c, data != NULL ? data : "", data != NULL ? len : 0,
	    name != NULL ? name : "<string>", priority,
	    json ? UCL_DUP_REWRITE : UCL_DUP_APPEND);
	if (len > (json ? UCL_MAX_TOTAL_SIZE : UCL_MAX_INPUT_SIZE)) {
		ucl_error(&P, NULL, NULL, "%s: input larger than %u bytes",
		    c.name, json ? UCL_MAX_TOTAL_SIZE : UCL_MAX_INPUT_SIZE);
		*error_r = P.error;
		return NULL;
	}
	P.total = len;
	if (json) {
		root = parse_json_root(&P, &c);
	} else {
		root = obj_new_object();
		root->priority = priority;
		if (ucl_parse_chunk(&P, &c, root) < 0)
			obj_free(&root);
	}
	if (root == NULL)
		*error_r = P.error;
	else
		free(P.error);
	return root;
}

struct obj *
ucl_parse_json(const char *data, size_t len, char **error_r)
{
	return ucl_parse_string(data, len, "<json>", NULL, 0,
	    UCL_FLAG_JSON | UCL_FLAG_NO_FILES, error_r);
}

int
ucl_parse_file_into(struct obj *target, const char *path,
    const struct ucl_vars *vars, int priority, const char *duplicate,
    bool try_missing, char **error_r)
{
	struct ucl_parser P = { .vars = vars };
	enum ucl_dup dup = UCL_DUP_APPEND;

	*error_r = NULL;
	if (duplicate != NULL && ucl_dup_parse(duplicate, &dup) < 0) {
		*error_r = xstrdup("unknown duplicate strategy");
		return -1;
	}
	if (ucl_include_path(&P, NULL, target, path, try_missing, priority,
	    dup, NULL) < 0) {
		*error_r = P.error != NULL ? P.error : xstrdup("parse failed");
		return -1;
	}
	return 0;
}

struct obj *
ucl_parse_file(const char *path, const struct ucl_vars *vars, int priority,
    char **error_r)
{
	struct obj *root = obj_new_object();

	root->priority = priority;
	root->file = xstrdup(path);
	if (ucl_parse_file_into(root, path, vars, priority, NULL, false,
	    error_r) < 0)
		obj_free(&root);
	return root;
}
