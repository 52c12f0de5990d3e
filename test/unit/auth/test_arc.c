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

/* Generated with dkim.arc_sign (python3-dkim 1.1.4), CRLF line ends. */
static const char sealed_two[] =
    "ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=forwarder.example; s=sel2;\r\n"
    " t=1704103300;\r\n"
    " b=M/oLx/UqytlpgLq63uxKrWzeUiQBUgPpC//Qh3xa5SWRR8we4ORwuLUoQzUaoFJ0AbUsc\r\n"
    " dEIeBU6Nc/wX1Wh5dheRr+ylitDvyxGOX1PcOkGledx5daF8fOVBxrvt37Yiu4mOfVD2EDn\r\n"
    " DmEASfSPz3F8cxp0NBIwVImLUPeCC+LHJkkXxVVsYjRcdH13txDc4F9OPIbcysTxFunnoxC\r\n"
    " 9c5PUX0VK44K5wvZIWCPILHkTskDOPTCARJF/kvtYMTnjRrcLHEJeSkM3WkFalNYA2xGQEK\r\n"
    " Ig3NJ51sUqJBrvcgjoKtMjvOLeuS1F/Wh4zRi+YMl72Gmpknw8iN9zzUoUUw==\r\n"
    "ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=forwarder.example; s=sel2; t=1704103300; h=from : to : subject :\r\n"
    " date : message-id; bh=lMdEYfJW7oApEZDYLAn3BTYsBxTOeEwhnsajpQtxGzE=;\r\n"
    " b=Jxla8WAvGCDrIzfW8WC2RlFlcTc2lA4cSu0K0Hri5xaQg02AILQ0/0KF1ANAVEggjfbTI\r\n"
    " U+3u/nO/ZRWhlyJSO44IIEUbh3mN1ya8OLFH71JI9qVVgs3f0c7PrwFt9LheWgs6OUeRlR9\r\n"
    " ZB4Ikirlm8x8uZH03jtXLk3Q9dBA2GN6uAsDm+e5Eu/qmyNniraHn6495nw7Dc/fnjC3u+H\r\n"
    " SzOEqh5guNMUQzXILMbTgM9kKRvH5VNX0q9SbohYE9/WXeJ1L1mXhpJSQeGXtthUneMXDLP\r\n"
    " dqr5d+5BJyNm8zz2cPHWXd/w24Qc8zqWL2tWaqt4McVWMgM0VUvQVG4uciAA==\r\n"
    "ARC-Authentication-Results: i=2; mx.forwarder.example; arc=pass;\r\n"
    "  spf=pass smtp.mailfrom=origin.example\r\n"
    "Authentication-Results: mx.forwarder.example; arc=pass; spf=pass smtp.mailfrom=origin.example\r\n"
    "ARC-Seal: i=1; cv=none; a=rsa-sha256; d=origin.example; s=sel1;\r\n"
    " t=1704103200;\r\n"
    " b=dASnLznlrJKB2MAHcbrVYwH0M8k1cQm06/hkSu4dYfWY8OnXnfLU6MAACdbF9mz8Ftnam\r\n"
    " e3HA5byZxK1/3Ws5+7kLO1ritTl0iqUYKBX++cKu2xH3DQQJ+TOARjpUQy6RSwOnA6Ps9/z\r\n"
    " rDHy3LxOapzXLRYsonlAIh4qCyfllFCxGCy+nJVGRSzjDbdy+ZgbVE+4H/8ZVeAQtVSm3nF\r\n"
    " d3/Qfxyqso/XaA3QcQV9e48/anfAg7xRMq1mL7QgHxRR9IjjerdsWwEc3Uzkv9oOvdaRd2x\r\n"
    " LiHAMFGhNX9t74AQZ+TsA5cmgBSUDhQkvvuwn1WlahYn/hQoSiuB8KGT7xXQ==\r\n"
    "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=origin.example; s=sel1; t=1704103200; h=from : to : subject : date :\r\n"
    " message-id; bh=lMdEYfJW7oApEZDYLAn3BTYsBxTOeEwhnsajpQtxGzE=;\r\n"
    " b=5PR7vWOEhKJHN0I8ZtpaAHIYa0XTPJcLoeuDgLggwNU66qVhSdJv71AYeooMGfNNkiWgw\r\n"
    " GK88h+IxIj2l/Ult9V1Cj5x6zJZdaNjoa0IpHe8/OJYT+obW0hO5GJXgkHSX8WG1EAy1VSl\r\n"
    " IB43zVyRKPjGF03tWYBqJlty9CG1t/1x3WW8+053cVyen91rj6cVd06+ZCZpcM7Y3hXxYBW\r\n"
    " lEi5Orc4pwUhlqN4JQrawq3eVnXfJ/T+UTt8O5oTiIWYIOipwhcP5hYKl1Y/Cnhe2VcsD+t\r\n"
    " +abXDg3DRlqHhNKVZ73f9OrOe8B4XJq7/qaXsyKOyTIH6s2bnVPceZFLMHlQ==\r\n"
    "ARC-Authentication-Results: i=1; mx.origin.example; dkim=none\r\n"
    "Authentication-Results: mx.origin.example; dkim=none\r\n"
    "From: Alice <alice@origin.example>\r\n"
    "To: bob@dest.example\r\n"
    "Subject: ARC test\r\n"
    "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <arc1@origin.example>\r\n"
    "\r\n"
    "Hello ARC.\r\n";

static const char key_origin[] =
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA6IlfmBirxSmEYyIaWQn4FJLsd7wZ1weaZ/pzbZD5vQnzMG9/8Y1DAI4PNwHeiI/ha1vfNdJBDhIzT+ZIJ6xmRWDHrg2wHdq5GkvbldRGCYV3VRG4kURH2yVP5Crbx2hMzgOV/a/Eyp5v2YlGWRRvR/c8dDElJxfik7qRQNSasWGrnYhhxdm2U4ZWCQFNZnddX8oT/IhSXrB2pn4CMrB4U9QwHkegCJ3wrCxoeyqiF5R2WoE/tmyv19qnkkT5sX9FQT27oVunEsjLu1SG6rRMsngFgl19jOGISet2eGhBsCRufriqCuqAbDNNhOiq8OPjiSHmorVzEUyWs2bkO1/Y+QIDAQAB";

static const char key_forwarder[] =
    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAto+4j6ZAybOSGzKwn4UwPP7oFaUwqZWLExKiLY46mbsaQ6LdsdHtZaioc3KjfEhZgVLHxU1/GJLML8CqTDODifqGNIuuh2UId8LcaNmdvDpIWimt8tWxqdGhdP3nauc8xUnDxE4jhRAlCAJ0V4mOs00f9u1KV5bVd+Gxis0XI8kqZiWQ+c5e7Cu5SEB7XIENt3XcyMW4Y9e8M5QbnpIIkFZshgbiRpodc/oeH1zK1AA2ZjipfheSsZ6lmlnpGK3dNxqvPROOedJYUE55ocrEfBlezwZt25APESB5Daq/2eFv9Bt/1oy0CRqAGOdM+BkoXjgCKG233Nh/tgPf2j6Z0wIDAQAB";

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
