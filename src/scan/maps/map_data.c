/*
 * map_data.c - one generation of map content and its lookup, by kind:
 * an open-addressing hash set for strings, the IP range set of map_ip.c,
 * and linear lists of PCRE2 regexps or fnmatch globs.
 *
 * A generation is built completely before it replaces the previous one
 * (map.c), and is never modified after map_data_finish() except for the
 * PCRE2 match data, created on the first regexp lookup in the process that
 * does it (workers inherit maps built in the main process; creating it
 * lazily keeps that per-process scratch out of the build).
 *
 * String keys are lowercased at insertion unless MAP_FLAG_CASE, and
 * lookups fold the probe the same way, so domains and addresses match
 * whatever their case.
 */
#include "scan/maps/map_internal.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fnmatch.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Backtracking budget per regexp lookup: a pathological pattern from a map
 * file must not stall a worker. */
#define MAP_RE_MATCH_LIMIT 100000

struct map_data *
map_data_new(enum map_kind kind, unsigned flags)
{
	struct map_data *d = xcalloc(1, sizeof(*d));

	d->kind = kind;
	d->flags = flags;
	d->pool = pool_new(0);
	return d;
}

static bool
fold(const struct map_data *d)
{
	return (d->flags & MAP_FLAG_CASE) == 0;
}

static uint64_t
hash_key(const char *p, size_t len, bool icase)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)(icase ? ascii_tolower(p[i]) : p[i]);
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

static void
table_put(struct map_hent *table, size_t cap, const struct map_hent *e)
{
	size_t i = (size_t)e->hash & (cap - 1);

	while (table[i].key != NULL)
		i = (i + 1) & (cap - 1);
	table[i] = *e;
}

static void
table_grow(struct map_data *d)
{
	size_t ncap = d->table_cap == 0 ? 64 : d->table_cap * 2;
	struct map_hent *nt = xcalloc(ncap, sizeof(*nt));

	for (size_t i = 0; i < d->table_cap; i++) {
		if (d->table[i].key != NULL)
			table_put(nt, ncap, &d->table[i]);
	}
	free(d->table);
	d->table = nt;
	d->table_cap = ncap;
}

static const struct map_hent *
table_find(const struct map_data *d, const char *key, size_t len, uint64_t h)
{
	size_t i;

	if (d->table_cap == 0)
		return NULL;
	for (i = (size_t)h & (d->table_cap - 1); d->table[i].key != NULL;
	    i = (i + 1) & (d->table_cap - 1)) {
		const struct map_hent *e = &d->table[i];

		if (e->hash != h || e->len != len)
			continue;
		if (fold(d) ? str_case_eq(str_make(e->key, len), str_make(key, len)) :
		    memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

static int
add_string(struct map_data *d, struct str key, const char *value)
{
	struct map_hent e;
	char *k;

	e.hash = hash_key(key.ptr, key.len, fold(d));
	if (table_find(d, key.ptr, key.len, e.hash) != NULL)
		return 0; /* duplicate: the first entry's value stays */
	if ((d->n + 1) * 2 > d->table_cap)
		table_grow(d);
	k = pool_memdup(d->pool, key.ptr, key.len);
	for (size_t i = 0; fold(d) && i < key.len; i++)
		k[i] = ascii_tolower(k[i]);
	e.key = k;
	e.len = key.len;
	e.value = value;
	table_put(d->table, d->table_cap, &e);
	return 1;
}

static int
regexp_options(struct str flags, uint32_t *opts_r)
{
	uint32_t o = 0;

	for (size_t i = 0; i < flags.len; i++) {
		switch (flags.ptr[i]) {
		case 'i': o |= PCRE2_CASELESS; break;
		case 'm': o |= PCRE2_MULTILINE; break;
		case 's': o |= PCRE2_DOTALL; break;
		case 'x': o |= PCRE2_EXTENDED; break;
		case 'u': o |= PCRE2_UTF | PCRE2_UCP; break;
		case 'r': break; /* Rspamd's "raw": no meaning for us */
		default: return -1;
		}
	}
	*opts_r = o;
	return 0;
}

static void *
compile_regexp(struct str key, const char **reason_r)
{
	struct str body = key;
	uint32_t opts = 0;
	int err;
	PCRE2_SIZE off;
	pcre2_code *code;

	if (key.len >= 2 && key.ptr[0] == '/') {
		size_t close = key.len - 1;

		while (close > 0 && key.ptr[close] != '/')
			close--;
		if (close > 0) {
			if (regexp_options(str_slice(key, close + 1,
			    key.len - close - 1), &opts) < 0) {
				*reason_r = "unknown regexp flag";
				return NULL;
			}
			body = str_slice(key, 1, close - 1);
		}
	}
	code = pcre2_compile((PCRE2_SPTR)body.ptr, body.len, opts, &err, &off, NULL);
	if (code == NULL) {
		*reason_r = "invalid regexp";
		return NULL;
	}
	/* JIT failure only costs speed. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

static int
add_pattern(struct map_data *d, struct str key, const char *value,
    const char **reason_r)
{
	struct map_pattern p = { NULL, NULL, value };

	if (memchr(key.ptr, '\0', key.len) != NULL) {
		*reason_r = "NUL byte in pattern";
		return -1;
	}
	if (d->kind == MAP_KIND_REGEXP) {
		p.code = compile_regexp(key, reason_r);
		if (p.code == NULL)
			return -1;
	} else {
		p.text = pool_strndup(d->pool, key.ptr, key.len);
	}
	d->pats = xgrow(d->pats, &d->pats_cap, d->n_pats + 1, sizeof(*d->pats));
	d->pats[d->n_pats++] = p;
	return 1;
}

int
map_data_add(struct map_data *d, struct str key, struct str value,
    const char **reason_r)
{
	const char *v = pool_strndup(d->pool, value.ptr, value.len);
	map_ip start, end;
	int r;

	switch (d->kind) {
	case MAP_KIND_IP:
		if (map_ip_parse(key, true, &start, &end) < 0) {
			*reason_r = "invalid IP address or CIDR";
			return -1;
		}
		map_ipset_add(&d->ips, start, end, v);
		r = 1;
		break;
	case MAP_KIND_STRING:
		r = add_string(d, key, v);
		break;
	default:
		r = add_pattern(d, key, v, reason_r);
		break;
	}
	if (r > 0)
		d->n++;
	return r < 0 ? -1 : 0;
}

void
map_data_finish(struct map_data *d)
{
	if (d->kind == MAP_KIND_IP)
		map_ipset_finish(&d->ips);
}

static bool
match_regexp(struct map_data *d, const char *key, size_t len,
    const char **value_r)
{
	if (d->match_data == NULL) {
		d->match_data = pcre2_match_data_create(1, NULL);
		d->match_ctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(d->match_ctx, MAP_RE_MATCH_LIMIT);
	}
	for (size_t i = 0; i < d->n_pats; i++) {
		if (pcre2_match(d->pats[i].code, (PCRE2_SPTR)key, len, 0, 0,
		    d->match_data, d->match_ctx) >= 0) {
			*value_r = d->pats[i].value;
			return true;
		}
	}
	return false;
}

static bool
match_glob(const struct map_data *d, const char *key, size_t len,
    const char **value_r)
{
	int fl = fold(d) ? FNM_CASEFOLD : 0;
	char *k;
	bool hit = false;

	if (memchr(key, '\0', len) != NULL)
		return false;
	k = xstrndup(key, len);
	for (size_t i = 0; !hit && i < d->n_pats; i++) {
		if (fnmatch(d->pats[i].text, k, fl) == 0) {
			*value_r = d->pats[i].value;
			hit = true;
		}
	}
	free(k);
	return hit;
}

bool
map_data_match(struct map_data *d, const char *key, size_t len,
    const char **value_r)
{
	const struct map_hent *e;
	const struct map_range *r;
	map_ip start, end;

	switch (d->kind) {
	case MAP_KIND_STRING:
		e = table_find(d, key, len, hash_key(key, len, fold(d)));
		if (e != NULL)
			*value_r = e->value;
		return e != NULL;
	case MAP_KIND_IP:
		if (map_ip_parse(str_make(key, len), false, &start, &end) < 0)
			return false;
		r = map_ipset_find(&d->ips, start);
		if (r != NULL)
			*value_r = r->value;
		return r != NULL;
	case MAP_KIND_REGEXP:
		return match_regexp(d, key, len, value_r);
	case MAP_KIND_GLOB:
		return match_glob(d, key, len, value_r);
	}
	return false;
}

void
map_data_free(struct map_data **dp)
{
	struct map_data *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	for (size_t i = 0; d->kind == MAP_KIND_REGEXP && i < d->n_pats; i++)
		pcre2_code_free(d->pats[i].code);
	pcre2_match_data_free(d->match_data);
	pcre2_match_context_free(d->match_ctx);
	free(d->pats);
	free(d->table);
	map_ipset_free(&d->ips);
	pool_free(&d->pool);
	free(d);
}
