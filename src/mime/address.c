/*
 * address.c - RFC 5322 address lists as found in From/To/Cc.
 *
 * One pass over the value with a tiny state machine: quoted strings,
 * nested comments (a counter, not recursion), angle addresses with
 * obsolete routes, groups ("name: a, b;") and the usual junk (unbalanced
 * quotes and brackets, unquoted commas-free names). Each address ends at a
 * top-level ',' or ';'. Display names are RFC 2047 decoded; without an
 * angle address the old "addr (Name)" comment gives the name.
 */
#include "mime/mime_internal.h"

#include <string.h>

#include "core/buf.h"
#include "core/pool.h"

#define ADDR_LIST_MAX 1024

struct addr_state {
	struct pool *pool;
	struct buf phrase, angle, comment;
	bool angle_seen, in_angle;
	unsigned n;
	struct mime_address *first, *last;
	bool oom;
	bool want_groups, in_group;
};

static void
phrase_put(struct buf *b, char c)
{
	if (ascii_isspace(c)) {
		if (b->len > 0 && b->data[b->len - 1] != ' ')
			(void)buf_putc(b, ' ');
		return;
	}
	(void)buf_putc(b, c);
}

static char *
strip_spaces_dup(struct pool *pool, const struct buf *b)
{
	char *out = pool_alloc(pool, b->len + 1);
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < b->len; i++) {
		if (!ascii_isspace(b->data[i]))
			out[n++] = b->data[i];
	}
	return out;
}

static const char *
name_decode(struct pool *pool, const struct buf *b)
{
	struct str s = str_trim(str_make(b->data != NULL ? b->data : "", b->len));
	size_t n;
	bool had_8bit;

	if (s.len == 0)
		return NULL;
	return mime_rfc2047_decode(pool, s.ptr, s.len, &n, &had_8bit);
}

static void
addr_link(struct addr_state *st, struct mime_address *a)
{
	if (st->last == NULL)
		st->first = a;
	else
		st->last->next = a;
	st->last = a;
}

static void
addr_emit(struct addr_state *st)
{
	struct mime_address *a;
	const struct buf *spec = st->angle_seen ? &st->angle : &st->phrase;
	char *addr, *at, *colon;

	if (spec->len == 0 || st->n >= ADDR_LIST_MAX)
		goto reset;
	if (!st->angle_seen && memchr(spec->data, '@', spec->len) == NULL &&
	    memchr(spec->data, ' ', spec->len) != NULL)
		goto reset;
	if ((a = pool_alloc(st->pool, sizeof(*a))) == NULL ||
	    (addr = strip_spaces_dup(st->pool, spec)) == NULL) {
		st->oom = true;
		goto reset;
	}
	/* Obsolete route "@a,@b:user@host". */
	if (addr[0] == '@' && (colon = strchr(addr, ':')) != NULL)
		addr = colon + 1;
	a->addr = addr;
	at = strrchr(addr, '@');
	a->user = at != NULL ? pool_strndup(st->pool, addr, (size_t)(at - addr)) :
	    addr;
	a->domain = at != NULL ? at + 1 : "";
	a->name = name_decode(st->pool, st->angle_seen ? &st->phrase :
	    &st->comment);
	if (a->user == NULL)
		st->oom = true;
	addr_link(st, a);
	st->n++;
reset:
	buf_reset(&st->phrase);
	buf_reset(&st->angle);
	buf_reset(&st->comment);
	st->angle_seen = st->in_angle = false;
}

/* Group start/end marker for ENVELOPE (mime_parse_addresses_groups). */
static void
group_marker(struct addr_state *st, bool start)
{
	struct mime_address *a;

	if (!st->want_groups || st->in_group == start || st->n >= ADDR_LIST_MAX)
		return;
	if ((a = pool_alloc(st->pool, sizeof(*a))) == NULL) {
		st->oom = true;
		return;
	}
	a->addr = a->user = a->domain = "";
	a->group_start = start;
	a->group_end = !start;
	if (start)
		a->name = name_decode(st->pool, &st->phrase);
	st->in_group = start;
	st->n++;
	addr_link(st, a);
}

/* Skips a comment at p ('('); its first text becomes a fallback name. */
static const char *
skip_comment(struct addr_state *st, const char *p, const char *end)
{
	unsigned depth = 0;
	bool keep = st->comment.len == 0;

	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
		} else if (*p == '(') {
			if (depth++ == 0)
				continue;
		} else if (*p == ')') {
			if (--depth == 0)
				return p + 1;
		}
		if (keep)
			phrase_put(&st->comment, *p);
	}
	return end;
}

static const char *
read_quoted(struct addr_state *st, const char *p, const char *end)
{
	struct buf *b = st->in_angle ? &st->angle : &st->phrase;

	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		(void)buf_putc(b, *p);
	}
	return p < end ? p + 1 : end;
}

static struct mime_address *
parse_addresses(struct pool *pool, const char *value, size_t len,
    bool want_groups)
{
	struct addr_state st = { .pool = pool, .want_groups = want_groups };
	const char *p = value, *end = value + len;

	buf_init(&st.phrase, 0);
	buf_init(&st.angle, 0);
	buf_init(&st.comment, 0);
	while (p < end && !st.oom) {
		char c = *p;

		if (c == '"') {
			p = read_quoted(&st, p, end);
			continue;
		}
		if (c == '(') {
			p = skip_comment(&st, p, end);
			continue;
		}
		p++;
		if (st.in_angle) {
			if (c == '>')
				st.in_angle = false;
			else if (!ascii_isspace(c))
				(void)buf_putc(&st.angle, c);
		} else if (c == '<') {
			st.in_angle = st.angle_seen = true;
			buf_reset(&st.angle);
		} else if (c == ',' || c == ';') {
			addr_emit(&st);
			if (c == ';')
				group_marker(&st, false);
		} else if (c == ':' && !st.angle_seen && (st.phrase.len == 0 ||
		    memchr(st.phrase.data, '@', st.phrase.len) == NULL)) {
			group_marker(&st, true);
			buf_reset(&st.phrase); /* group name */
		} else {
			phrase_put(&st.phrase, c);
		}
	}
	addr_emit(&st);
	group_marker(&st, false);
	buf_deinit(&st.phrase);
	buf_deinit(&st.angle);
	buf_deinit(&st.comment);
	return st.oom ? NULL : st.first;
}

struct mime_address *
mime_parse_addresses(struct pool *pool, const char *value, size_t len)
{
	return parse_addresses(pool, value, len, false);
}

struct mime_address *
mime_parse_addresses_groups(struct pool *pool, const char *value, size_t len)
{
	return parse_addresses(pool, value, len, true);
}
