/*
 * obj_json.c - JSON emitter for value trees.
 *
 * Numbers follow Rspamd's emitter because clients and golden files compare
 * replies byte for byte: an integral double prints as "15.0", any other as
 * "%f" (six decimals). Invalid UTF-8 in strings is replaced so the reply is
 * always valid JSON, whatever bytes the message carried.
 */
#include "core/buf.h"
#include "core/obj.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int
obj_emit_json_double(struct buf *out, double d)
{
	if (!isfinite(d))
		d = 0.0;
	if (fabs(d) < 1e15 && d == (double)(int64_t)d)
		return buf_printf(out, "%.1f", d);
	return buf_printf(out, "%f", d);
}

/* Length of the valid UTF-8 sequence at p, or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *p, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and out-of-range code points. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

int
obj_emit_json_string(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int r = buf_putc(out, '"');

	while (r == 0 && i < len) {
		unsigned char c = p[i];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		if (run != 0)
			r |= buf_append(out, p + i - run, run);
		run = 0;
		switch (c) {
		case '"': r |= buf_append(out, "\\\"", 2); i++; continue;
		case '\\': r |= buf_append(out, "\\\\", 2); i++; continue;
		case '\n': r |= buf_append(out, "\\n", 2); i++; continue;
		case '\r': r |= buf_append(out, "\\r", 2); i++; continue;
		case '\t': r |= buf_append(out, "\\t", 2); i++; continue;
		case '\b': r |= buf_append(out, "\\b", 2); i++; continue;
		case '\f': r |= buf_append(out, "\\f", 2); i++; continue;
		default: break;
		}
		if (c < 0x20) {
			r |= buf_printf(out, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			r |= buf_append(out, "\xef\xbf\xbd", 3);
			i++;
		} else {
			r |= buf_append(out, p + i, n);
			i += n;
		}
	}
	if (run != 0)
		r |= buf_append(out, p + i - run, run);
	r |= buf_putc(out, '"');
	return r == 0 ? 0 : -1;
}

static int
emit_indent(struct buf *out, bool pretty, int depth)
{
	int r = 0;

	if (!pretty)
		return 0;
	r |= buf_putc(out, '\n');
	for (int i = 0; i < depth; i++)
		r |= buf_append(out, "    ", 4);
	return r;
}

static int
emit_value(const struct obj *o, struct buf *out, bool pretty, int depth)
{
	const struct obj *c;
	int r = 0;

	switch (o->type) {
	case OBJ_NULL:
		return buf_append(out, "null", 4);
	case OBJ_BOOL:
		return buf_append_cstr(out, o->v.b ? "true" : "false");
	case OBJ_INT:
		return buf_printf(out, "%lld", (long long)o->v.i);
	case OBJ_FLOAT:
		return obj_emit_json_double(out, o->v.f);
	case OBJ_STRING:
		return obj_emit_json_string(out, o->v.s.ptr, o->v.s.len);
	case OBJ_ARRAY:
	case OBJ_OBJECT:
		break;
	}
	r |= buf_putc(out, o->type == OBJ_ARRAY ? '[' : '{');
	for (c = o->v.list.head; c != NULL && r == 0; c = c->next) {
		r |= emit_indent(out, pretty, depth + 1);
		if (o->type == OBJ_OBJECT) {
			r |= obj_emit_json_string(out, c->key, c->keylen);
			r |= buf_append(out, pretty ? ": " : ":", pretty ? 2 : 1);
		}
		r |= emit_value(c, out, pretty, depth + 1);
		if (c->next != NULL)
			r |= buf_putc(out, ',');
	}
	if (o->v.list.head != NULL)
		r |= emit_indent(out, pretty, depth);
	r |= buf_putc(out, o->type == OBJ_ARRAY ? ']' : '}');
	return r == 0 ? 0 : -1;
}

int
obj_emit_json(const struct obj *o, struct buf *out, bool pretty)
{
	return emit_value(o, out, pretty, 0);
}
