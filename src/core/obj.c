/*
 * obj.c - construction, lookup and conversion of value trees.
 */
#include "core/obj.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct obj *
obj_alloc(enum obj_type type)
{
	struct obj *o = xcalloc(1, sizeof(*o));

	o->type = type;
	return o;
}

struct obj *
obj_new_null(void)
{
	return obj_alloc(OBJ_NULL);
}

struct obj *
obj_new_bool(bool b)
{
	struct obj *o = obj_alloc(OBJ_BOOL);

	o->v.b = b;
	return o;
}

struct obj *
obj_new_int(int64_t i)
{
	struct obj *o = obj_alloc(OBJ_INT);

	o->v.i = i;
	return o;
}

struct obj *
obj_new_float(double f)
{
	struct obj *o = obj_alloc(OBJ_FLOAT);

	o->v.f = f;
	return o;
}

struct obj *
obj_new_stringn(const char *s, size_t len)
{
	struct obj *o = obj_alloc(OBJ_STRING);

	o->v.s.ptr = xstrndup(s != NULL ? s : "", s != NULL ? len : 0);
	o->v.s.len = s != NULL ? len : 0;
	return o;
}

struct obj *
obj_new_string(const char *s)
{
	return obj_new_stringn(s, s != NULL ? strlen(s) : 0);
}

struct obj *
obj_new_array(void)
{
	return obj_alloc(OBJ_ARRAY);
}

struct obj *
obj_new_object(void)
{
	return obj_alloc(OBJ_OBJECT);
}

static void
obj_free_one(struct obj *o)
{
	if (o->type == OBJ_STRING)
		free(o->v.s.ptr);
	free(o->key);
	free(o->file);
	free(o);
}

void
obj_free(struct obj **op)
{
	struct obj *o = *op;
	struct obj *c, *cn;

	if (o == NULL)
		return;
	*op = NULL;
	if (o->type == OBJ_ARRAY || o->type == OBJ_OBJECT) {
		for (c = o->v.list.head; c != NULL; c = cn) {
			cn = c->next;
			obj_free(&c);
		}
	}
	obj_free_one(o);
}

struct obj *
obj_copy(const struct obj *o)
{
	struct obj *n = obj_alloc(o->type);
	const struct obj *c;

	n->implicit = o->implicit;
	n->priority = o->priority;
	n->line = o->line;
	n->file = o->file != NULL ? xstrdup(o->file) : NULL;
	switch (o->type) {
	case OBJ_STRING:
		n->v.s.ptr = xmemdup(o->v.s.ptr, o->v.s.len + 1);
		n->v.s.len = o->v.s.len;
		break;
	case OBJ_ARRAY:
		for (c = o->v.list.head; c != NULL; c = c->next)
			obj_array_append(n, obj_copy(c));
		break;
	case OBJ_OBJECT:
		for (c = o->v.list.head; c != NULL; c = c->next)
			obj_object_append(n, c->key, obj_copy(c));
		break;
	default:
		n->v = o->v;
		break;
	}
	return n;
}

struct obj *
obj_lookupn(const struct obj *o, const char *key, size_t keylen)
{
	struct obj *c;

	if (o == NULL || o->type != OBJ_OBJECT)
		return NULL;
	for (c = o->v.list.head; c != NULL; c = c->next) {
		if (c->keylen == keylen && memcmp(c->key, key, keylen) == 0)
			return c;
	}
	return NULL;
}

struct obj *
obj_lookup(const struct obj *o, const char *key)
{
	return obj_lookupn(o, key, strlen(key));
}

struct obj *
obj_lookup_path(const struct obj *o, const char *path)
{
	const struct obj *cur = o;
	const char *p = path;

	while (cur != NULL && *p != '\0') {
		const char *dot = strchr(p, '.');
		size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);

		cur = obj_lookupn(cur, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	return (struct obj *)cur;
}

static void
list_append(struct obj *parent, struct obj *val)
{
	val->next = NULL;
	if (parent->v.list.tail != NULL)
		parent->v.list.tail->next = val;
	else
		parent->v.list.head = val;
	parent->v.list.tail = val;
	parent->v.list.count++;
}

void
obj_object_append(struct obj *o, const char *key, struct obj *val)
{
	size_t n = strlen(key);

	free(val->key);
	val->key = xstrndup(key, n);
	val->keylen = n;
	list_append(o, val);
}

void
obj_object_setn(struct obj *o, const char *key, size_t keylen, struct obj *val)
{
	struct obj *c, *prev = NULL;

	for (c = o->v.list.head; c != NULL; prev = c, c = c->next) {
		if (c->keylen == keylen && memcmp(c->key, key, keylen) == 0)
			break;
	}
	free(val->key);
	val->key = xstrndup(key, keylen);
	val->keylen = keylen;
	if (c == NULL) {
		list_append(o, val);
		return;
	}
	/* Replace in place so member order is stable. */
	val->next = c->next;
	if (prev != NULL)
		prev->next = val;
	else
		o->v.list.head = val;
	if (o->v.list.tail == c)
		o->v.list.tail = val;
	c->next = NULL;
	obj_free(&c);
}

void
obj_object_set(struct obj *o, const char *key, struct obj *val)
{
	obj_object_setn(o, key, strlen(key), val);
}

struct obj *
obj_object_remove(struct obj *o, const char *key)
{
	struct obj *c, *prev = NULL;
	size_t n = strlen(key);

	if (o == NULL || o->type != OBJ_OBJECT)
		return NULL;
	for (c = o->v.list.head; c != NULL; prev = c, c = c->next) {
		if (c->keylen == n && memcmp(c->key, key, n) == 0) {
			if (prev != NULL)
				prev->next = c->next;
			else
				o->v.list.head = c->next;
			if (o->v.list.tail == c)
				o->v.list.tail = prev;
			o->v.list.count--;
			c->next = NULL;
			return c;
		}
	}
	return NULL;
}

void
obj_array_append(struct obj *a, struct obj *val)
{
	list_append(a, val);
}

struct obj *
obj_array_at(const struct obj *a, size_t idx)
{
	struct obj *c;

	if (a == NULL || a->type != OBJ_ARRAY)
		return NULL;
	for (c = a->v.list.head; c != NULL && idx > 0; c = c->next)
		idx--;
	return c;
}

struct obj *
obj_first(const struct obj *o)
{
	if (o == NULL || (o->type != OBJ_ARRAY && o->type != OBJ_OBJECT))
		return NULL;
	return o->v.list.head;
}

size_t
obj_count(const struct obj *o)
{
	if (o == NULL || (o->type != OBJ_ARRAY && o->type != OBJ_OBJECT))
		return 0;
	return o->v.list.count;
}

const struct obj *
obj_iter_values(const struct obj *o, const struct obj **it)
{
	if (o == NULL)
		return NULL;
	if (o->type != OBJ_ARRAY) {
		if (*it != NULL)
			return NULL;
		*it = o;
		return o;
	}
	*it = *it == NULL ? o->v.list.head : (*it)->next;
	return *it;
}

int
obj_get_bool(const struct obj *o, bool *b_r)
{
	const char *s;

	if (o == NULL)
		return -1;
	switch (o->type) {
	case OBJ_BOOL:
		*b_r = o->v.b;
		return 0;
	case OBJ_INT:
		*b_r = o->v.i != 0;
		return 0;
	case OBJ_STRING:
		s = o->v.s.ptr;
		if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on")) {
			*b_r = true;
			return 0;
		}
		if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcasecmp(s, "off")) {
			*b_r = false;
			return 0;
		}
		return -1;
	default:
		return -1;
	}
}

int
obj_get_double(const struct obj *o, double *d_r)
{
	char *end;

	if (o == NULL)
		return -1;
	switch (o->type) {
	case OBJ_INT:
		*d_r = (double)o->v.i;
		return 0;
	case OBJ_FLOAT:
		*d_r = o->v.f;
		return 0;
	case OBJ_STRING:
		errno = 0;
		*d_r = strtod(o->v.s.ptr, &end);
		if (errno != 0 || end == o->v.s.ptr || *end != '\0')
			return -1;
		return 0;
	default:
		return -1;
	}
}

int
obj_get_int(const struct obj *o, int64_t *i_r)
{
	double d;

	if (o != NULL && o->type == OBJ_INT) {
		*i_r = o->v.i;
		return 0;
	}
	if (obj_get_double(o, &d) < 0 || !isfinite(d) || d > 9.2e18 || d < -9.2e18)
		return -1;
	*i_r = (int64_t)d;
	return 0;
}

const char *
obj_get_string(const struct obj *o)
{
	return o != NULL && o->type == OBJ_STRING ? o->v.s.ptr : NULL;
}

const char *
obj_type_name(enum obj_type t)
{
	static const char *const names[] = {
		"null", "boolean", "integer", "number", "string", "array", "object",
	};

	return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
