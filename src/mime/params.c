/*
 * params.c - mime_parse_params(): a Content-Type or Content-Disposition
 * value as type, subtype and a parameter list, for callers outside
 * src/mime that must show every parameter (IMAP BODYSTRUCTURE) rather
 * than the few the parser keeps on struct mime_part. It reuses the
 * parser's own parameter code, so both agree on what a value is.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/xmalloc.h"

/* Whether parameter i repeats the name of an earlier one (sections). */
static bool
param_seen(const struct mime_ctype *ct, unsigned i)
{
	unsigned j;

	for (j = 0; j < i; j++) {
		if (str_case_eq(ct->params[j].name, ct->params[i].name))
			return true;
	}
	return false;
}

static int
params_collect(struct pool *pool, const struct mime_ctype *ct,
    struct mime_param_kv **params_r)
{
	struct mime_param_kv *last = NULL, *kv;
	unsigned i;

	for (i = 0; i < ct->n_params; i++) {
		char *name;

		if (param_seen(ct, i))
			continue;
		if ((kv = pool_alloc(pool, sizeof(*kv))) == NULL ||
		    (name = str_dup_cstr(pool, ct->params[i].name)) == NULL)
			return -1;
		kv->name = name;
		kv->value = mime_ctype_param(pool, ct, name, false);
		if (kv->value == NULL)
			kv->value = "";
		if (last == NULL)
			*params_r = kv;
		else
			last->next = kv;
		last = kv;
	}
	return 0;
}

int
mime_parse_params(struct pool *pool, struct str raw, bool want_subtype,
    const char **type_r, const char **subtype_r,
    struct mime_param_kv **params_r)
{
	struct mime_ctype *ct;
	const char *v;
	size_t len;
	int ret = -1;

	*type_r = *subtype_r = NULL;
	*params_r = NULL;
	if ((v = mime_unfold(pool, raw, &len)) == NULL)
		return -1;
	ct = xmalloc(sizeof(*ct));
	if (mime_ctype_parse(v, len, want_subtype, ct) < 0)
		goto out;
	if ((*type_r = str_dup_cstr(pool, ct->type)) == NULL ||
	    (want_subtype &&
	    (*subtype_r = str_dup_cstr(pool, ct->subtype)) == NULL))
		goto out;
	ret = params_collect(pool, ct, params_r);
out:
	free(ct);
	return ret;
}
