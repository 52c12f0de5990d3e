/*
 * fuzz_dkim.c - libFuzzer target for the DKIM parsers: the tag list, the
 * DKIM-Signature value, the key record, and a whole message through
 * splitting, canonicalization and verification against a fixed key.
 *
 * The first input byte picks the parser so one corpus covers all of them.
 * Invariants: tags are slices of the input, a parsed signature lists From
 * in h= and has a bh= of a sane length, a parsed key has a public key,
 * and every checked signature ends with a result.
 */
#include "auth/dkim.h"
#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char KEY[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static void
fuzz_tags(const char *t, size_t n)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	int k = dkim_tags_parse(str_make(t, n), tags, DKIM_MAX_TAGS);

	for (int i = 0; i < k; i++) {
		if (tags[i].name.ptr < t || tags[i].name.ptr + tags[i].name.len > t + n ||
		    tags[i].name.len == 0)
			abort();
		if (tags[i].value.len > 0 && (tags[i].value.ptr < t ||
		    tags[i].value.ptr + tags[i].value.len > t + n))
			abort();
	}
}

static void
fuzz_sig(const char *t, size_t n)
{
	struct pool *pool = pool_new(1 << 20);
	struct dkim_sig sig;
	const char *err;
	bool from = false;

	if (dkim_sig_parse(pool, str_make(t, n), &sig, &err) == 0) {
		for (size_t i = 0; i < sig.n_headers; i++)
			from |= str_case_eq_cstr(sig.headers[i], "from");
		if (!from || sig.bh_len == 0 || sig.bh_len > 64 || sig.domain == NULL ||
		    sig.selector == NULL || sig.auid == NULL)
			abort();
	}
	pool_free(&pool);
}

static void
fuzz_key(const char *t, size_t n)
{
	struct dkim_key *key = NULL;
	const char *err;
	bool revoked;

	if (dkim_key_parse(str_make(t, n), &key, &revoked, &err) == 0 &&
	    (key == NULL || key->pkey == NULL || revoked))
		abort();
	dkim_key_free(&key);
}

static void
fuzz_message(const char *t, size_t n)
{
	struct pool *pool = pool_new(16 << 20);
	struct dkim_verify v;

	if (dkim_verify_init(&v, pool, t, n, 5, 1700000000, 3600) == 0) {
		for (size_t i = 0; i < v.n_checks; i++) {
			if (v.checks[i].result == DKIM_RESULT_NONE)
				dkim_verify_record(&v, &v.checks[i], STR_LIT(KEY));
			if (v.checks[i].result == DKIM_RESULT_NONE)
				abort();
		}
	}
	pool_free(&pool);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0: fuzz_tags(t, size - 1); break;
	case 1: fuzz_sig(t, size - 1); break;
	case 2: fuzz_key(t, size - 1); break;
	default: fuzz_message(t, size - 1); break;
	}
	return 0;
}
