/*
 * obj.h - the tree of values shared by the UCL config parser, JSON request
 * bodies and JSON replies.
 *
 * A value is null, bool, int, float, string, array or object. Object members
 * and array elements keep insertion order in a singly linked list (`next`).
 * Members carry their `key`. Config values also remember the file and line
 * they came from and the include priority they were read at, so errors can
 * point at them and local.d/override.d merges can compare priorities.
 *
 * A key repeated inside one object in UCL becomes an array flagged
 * `implicit` (the parser does this), so consumers see either one value or an
 * array and can use obj_iter_values() to treat both alike.
 *
 * Ownership: a value belongs to its parent; obj_free() frees a whole tree.
 * Setters take ownership of the value passed in.
 */
#ifndef CORE_OBJ_H
#define CORE_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum obj_type {
	OBJ_NULL,
	OBJ_BOOL,
	OBJ_INT,
	OBJ_FLOAT,
	OBJ_STRING,
	OBJ_ARRAY,
	OBJ_OBJECT,
};

struct obj {
	enum obj_type type;
	bool implicit;     /* array made from a repeated key */
	int priority;      /* include priority it was read at (config) */
	unsigned line;     /* source line, 0 if built in code */
	char *file;        /* source file, NULL if built in code */
	char *key;         /* member name when inside an object */
	size_t keylen;
	struct obj *next;  /* next member or element */
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			char *ptr; /* NUL-terminated, may hold NULs */
			size_t len;
		} s;
		struct {
			struct obj *head;
			struct obj *tail;
			size_t count;
		} list;
	} v;
};

struct obj *obj_new_null(void);
struct obj *obj_new_bool(bool b);
struct obj *obj_new_int(int64_t i);
struct obj *obj_new_float(double f);
struct obj *obj_new_string(const char *s);
struct obj *obj_new_stringn(const char *s, size_t len);
struct obj *obj_new_array(void);
struct obj *obj_new_object(void);

void obj_free(struct obj **o);
/* Deep copy, source positions included. */
struct obj *obj_copy(const struct obj *o);

/* Objects. Lookups are exact on the key bytes; NULL when absent. */
struct obj *obj_lookup(const struct obj *o, const char *key);
struct obj *obj_lookupn(const struct obj *o, const char *key, size_t keylen);
/* Dotted path: "worker.normal.count". */
struct obj *obj_lookup_path(const struct obj *o, const char *path);
/* Replaces an existing member of the same key (freeing it). Takes val. */
void obj_object_set(struct obj *o, const char *key, struct obj *val);
void obj_object_setn(struct obj *o, const char *key, size_t keylen, struct obj *val);
/* Appends without looking for an existing key (caller knows it is new). */
void obj_object_append(struct obj *o, const char *key, struct obj *val);
/* Detaches and returns a member, or NULL. */
struct obj *obj_object_remove(struct obj *o, const char *key);

/* Arrays. */
void obj_array_append(struct obj *a, struct obj *val);
struct obj *obj_array_at(const struct obj *a, size_t idx);

/* First child of an array or object (members follow via ->next). */
struct obj *obj_first(const struct obj *o);
size_t obj_count(const struct obj *o);

/*
 * Iterate over "one or many": for an array, its elements; for any other
 * value, the value itself once. Start with *it = NULL; returns NULL at end.
 */
const struct obj *obj_iter_values(const struct obj *o, const struct obj **it);

/* Conversions: -1 when the type does not fit. Numbers convert freely;
 * strings convert to numbers/bools when they parse completely. */
int obj_get_bool(const struct obj *o, bool *b_r);
int obj_get_double(const struct obj *o, double *d_r);
int obj_get_int(const struct obj *o, int64_t *i_r);
/* String value (no conversion); NULL for non-strings. */
const char *obj_get_string(const struct obj *o);

const char *obj_type_name(enum obj_type t);

/*
 * JSON output, numbers in Rspamd's form: integral doubles as `15.0`, others
 * with six decimals, no exponents, NaN/Inf as 0.0. Strings are escaped and
 * invalid UTF-8 is replaced by U+FFFD. `pretty` indents with 4 spaces.
 * Returns -1 when the buffer's maximum is reached.
 */
int obj_emit_json(const struct obj *o, struct buf *out, bool pretty);
/* Append one JSON string literal (quotes included). */
int obj_emit_json_string(struct buf *out, const char *s, size_t len);
/* Append a double in the format above. */
int obj_emit_json_double(struct buf *out, double d);

#endif
