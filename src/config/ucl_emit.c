/*
 * ucl_emit.c - prints a value tree back as UCL, for `rspamadm configdump`.
 *
 * The form mirrors what people write in conf/: `key = value;` lines,
 * `name { }` sections indented by four spaces, explicit arrays in
 * brackets, and implicit arrays (repeated keys) as repeated lines, so the
 * output can be fed back to the parser and yields the same tree.
 */
#include "config/ucl_parser.h"
#include "core/buf.h"

#include <math.h>

static bool
bare_key_ok(const char *k, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = k[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	/* a leading digit would read back fine, but a leading '-' might not */
	return k[0] != '-';
}

static int
indent(struct buf *out, int depth)
{
	int r = 0;

	for (int i = 0; i < depth; i++)
		r |= buf_append(out, "    ", 4);
	return r;
}

static int emit_members(const struct obj *o, struct buf *out, int depth);

static int
emit_value(const struct obj *o, struct buf *out, int depth)
{
	const struct obj *c;
	int r = 0;

	switch (o->type) {
	case OBJ_OBJECT:
		r |= buf_append(out, "{\n", 2);
		r |= emit_members(o, out, depth + 1);
		r |= indent(out, depth);
		return r | buf_putc(out, '}');
	case OBJ_ARRAY:
		r |= buf_append(out, "[\n", 2);
		for (c = o->v.list.head; c != NULL && r == 0; c = c->next) {
			r |= indent(out, depth + 1);
			r |= emit_value(c, out, depth + 1);
			r |= buf_append(out, ",\n", 2);
		}
		r |= indent(out, depth);
		return r | buf_putc(out, ']');
	case OBJ_FLOAT:
		/*
		 * Same form as obj_emit_json_double(), but the range test comes
		 * before the cast: casting a huge double to an integer is
		 * undefined behaviour (XXX: core's version casts first).
		 */
		if (!isfinite(o->v.f))
			return buf_append(out, "0.0", 3);
		if (fabs(o->v.f) < 1e15 && o->v.f == (double)(int64_t)o->v.f)
			return buf_printf(out, "%.1f", o->v.f);
		return buf_printf(out, "%f", o->v.f);
	default:
		/* other scalars print as JSON, which is valid UCL */
		return obj_emit_json(o, out, false);
	}
}

static int
emit_member(const char *key, size_t keylen, const struct obj *o,
    struct buf *out, int depth)
{
	const struct obj *c;
	int r = 0;

	if (o->type == OBJ_ARRAY && o->implicit) {
		for (c = o->v.list.head; c != NULL && r == 0; c = c->next)
			r |= emit_member(key, keylen, c, out, depth);
		return r;
	}
	r |= indent(out, depth);
	if (bare_key_ok(key, keylen))
		r |= buf_append(out, key, keylen);
	else
		r |= obj_emit_json_string(out, key, keylen);
	if (o->type == OBJ_OBJECT) {
		r |= buf_putc(out, ' ');
		r |= emit_value(o, out, depth);
		return r | buf_putc(out, '\n');
	}
	r |= buf_append(out, " = ", 3);
	r |= emit_value(o, out, depth);
	return r | buf_append(out, ";\n", 2);
}

static int
emit_members(const struct obj *o, struct buf *out, int depth)
{
	const struct obj *c;
	int r = 0;

	for (c = o->v.list.head; c != NULL && r == 0; c = c->next)
		r |= emit_member(c->key, c->keylen, c, out, depth);
	return r;
}

int
ucl_emit_config(const struct obj *o, struct buf *out)
{
	int r;

	if (o->type == OBJ_OBJECT)
		r = emit_members(o, out, 0);
	else
		r = emit_value(o, out, 0) | buf_putc(out, '\n');
	return r == 0 ? 0 : -1;
}
