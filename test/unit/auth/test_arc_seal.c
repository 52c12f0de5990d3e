/*
 * test_arc_seal.c - ARC sealing (RFC 8617 5.1): a set on a message without
 * a chain (cv=none), on python3-dkim's two-hop chain (cv=pass, i=3) and on
 * a broken chain (cv=fail, signing only its own set), each checked by our
 * verifier (arc.h) with the three headers prepended; the refusals (cv=none
 * over ARC headers, a chain whose newest seal says cv=fail); and the
 * generic header API of the task as the reply's milter block shows it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/arc.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "scan/engine.h"
#include "scan/reply.h"
#include "scan/task.h"
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

static struct dkim_privkey *seal_key;
static char *seal_record;

/* A fresh key for sealer.example: RSA 2048 or Ed25519. */
static void
make_key(bool ed)
{
	EVP_PKEY *pk = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	BIO *bio = BIO_new(BIO_s_mem());
	const char *err = NULL;
	char *pem = NULL, *p64;
	long n;

	dkim_privkey_free(&seal_key);
	free(seal_record);
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	if (dkim_privkey_parse(pem, (size_t)n, &seal_key, &err) < 0) {
		printf("key: %s\n", err);
		abort();
	}
	BIO_free(bio);
	EVP_PKEY_free(pk);
	p64 = dkim_privkey_public_b64(seal_key);
	seal_record = xasprintf("v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", p64);
	free(p64);
}

/* The sealed message: the three headers (LF-folded as the reply has them,
 * with CRLF line ends) prepended to `msg`. */
static char *
prepend(const struct arc_seal *s, const char *msg, size_t *len_r)
{
	const char *names[] = { "ARC-Seal", "ARC-Message-Signature",
		"ARC-Authentication-Results" };
	const char *vals[] = { s->as, s->ams, s->aar };
	struct buf b;
	char *out;

	buf_init(&b, 0);
	for (size_t i = 0; i < 3; i++) {
		buf_printf(&b, "%s: ", names[i]);
		for (const char *p = vals[i]; *p != '\0'; p++) {
			if (*p == '\n')
				buf_putc(&b, '\r');
			buf_putc(&b, *p);
		}
		buf_append_cstr(&b, "\r\n");
	}
	buf_append_cstr(&b, msg);
	*len_r = b.len;
	out = xmemdup(b.data, b.len + 1);
	out[b.len] = '\0';
	buf_deinit(&b);
	return out;
}

/* Our verifier over `msg`, every key found (or permanently missing). */
static enum arc_result
verify(const char *msg, size_t len, unsigned *n_sets_r)
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
		const char *rec = strstr(name, "origin.example") != NULL ? key_origin :
		    strstr(name, "forwarder.example") != NULL ? key_forwarder :
		    strstr(name, "sel9._domainkey.sealer.example") != NULL ?
		    seal_record : NULL;
		if (rec != NULL)
			arc_verify_key_record(&av, k, str_from_cstr(rec));
		else
			arc_verify_key_missing(&av, k, false);
	}
	arc_verify_finish(&av);
	r = av.result;
	if (n_sets_r != NULL)
		*n_sets_r = av.n_sets;
	pool_free(&pool);
	return r;
}

static const struct arc_seal_params params = {
	.domain = "sealer.example", .selector = "sel9",
	.authserv_id = "mx.sealer.example",
	.results = "arc=pass;\n\tspf=pass smtp.mailfrom=a@origin.example;\n\tdkim=none",
	.now = 1704103400,
};

static int
seal(const char *msg, enum arc_cv cv, struct pool *pool, struct arc_seal *s,
    const char **err)
{
	return arc_seal_message(pool, msg, strlen(msg), cv, &params, seal_key, s, err);
}

static void
test_seal_none(bool ed)
{
	const char *plain = strstr(sealed_two, "From: Alice");
	struct pool *pool = pool_new(0);
	const char *err = NULL;
	struct arc_seal s;
	unsigned n = 0;
	size_t len;
	char *m;

	test_begin(ed ? "arc seal: no chain, cv=none (ed25519)" :
	    "arc seal: no chain, cv=none (rsa)");
	make_key(ed);
	test_assert(seal(plain, ARC_CV_NONE, pool, &s, &err) == 0);
	test_assert(s.instance == 1 && s.cv == ARC_CV_NONE);
	test_assert(strncmp(s.aar, "i=1; mx.sealer.example; arc=pass;", 33) == 0);
	test_assert(strstr(s.as, "i=1; cv=none;") == s.as);
	test_assert(strstr(s.ams, "i=1; a=") == s.ams);
	test_assert(strstr(s.ams, "h=from:") != NULL);
	test_assert(strstr(s.ams, "arc-") == NULL);
	m = prepend(&s, plain, &len);
	test_assert(verify(m, len, &n) == ARC_RESULT_PASS && n == 1);
	m[strlen(m) - 3] = '!';
	test_assert(verify(m, len, &n) == ARC_RESULT_FAIL);
	free(m);
	/* cv=none on a message that has ARC headers is refused */
	test_assert(seal(sealed_two, ARC_CV_NONE, pool, &s, &err) < 0 && err != NULL);
	pool_free(&pool);
	test_end();
}

static void
test_seal_pass(void)
{
	struct pool *pool = pool_new(0);
	const char *err = NULL;
	struct arc_seal s, s4;
	unsigned n = 0;
	size_t len, len4;
	char *m, *m4;

	test_begin("arc seal: on python3-dkim's two-hop chain, cv=pass, i=3");
	make_key(false);
	test_assert(seal(sealed_two, ARC_CV_PASS, pool, &s, &err) == 0);
	test_assert(s.instance == 3 && strstr(s.as, "i=3; cv=pass;") == s.as);
	m = prepend(&s, sealed_two, &len);
	test_assert(verify(m, len, &n) == ARC_RESULT_PASS && n == 3);
	/* and once more on top of our own seal */
	test_assert(arc_seal_message(pool, m, len, ARC_CV_PASS, &params, seal_key, &s4,
	    &err) == 0 && s4.instance == 4);
	m4 = prepend(&s4, m, &len4);
	test_assert(verify(m4, len4, &n) == ARC_RESULT_PASS && n == 4);
	/* the seal covers the older sets: an edited AAR of i=1 breaks it */
	m4[strstr(m4, "i=1; mx.origin.example") - m4 + 6] = 'n';
	test_assert(verify(m4, len4, &n) == ARC_RESULT_FAIL);
	free(m4);
	free(m);
	pool_free(&pool);
	test_end();
}

static void
test_seal_fail(void)
{
	struct pool *pool = pool_new(0);
	char *broken = xstrdup(sealed_two), *m, *m2;
	const char *err = NULL;
	struct arc_seal s;
	unsigned n = 0;
	size_t len;

	test_begin("arc seal: broken chain gets cv=fail, then no more sets");
	make_key(false);
	broken[strstr(broken, "Hello ARC.") - broken + 9] = '!';
	test_assert(verify(broken, strlen(broken), NULL) == ARC_RESULT_FAIL);
	test_assert(seal(broken, ARC_CV_PASS, pool, &s, &err) == 0);
	test_assert(seal(broken, ARC_CV_FAIL, pool, &s, &err) == 0);
	test_assert(s.instance == 3 && strstr(s.as, "i=3; cv=fail;") == s.as);
	m = prepend(&s, broken, &len);
	test_assert(verify(m, len, &n) == ARC_RESULT_FAIL && n == 3);
	/* 5.1 step 1: nothing goes on top of a cv=fail seal */
	err = NULL;
	test_assert(seal(m, ARC_CV_FAIL, pool, &s, &err) < 0 && err != NULL);
	test_assert(seal(m, ARC_CV_PASS, pool, &s, &err) < 0);
	/* an invalid structure (a gap) is sealed as failed past the highest i= */
	m2 = xstrdup(sealed_two);
	memcpy(strstr(m2, "ARC-Seal: i=1"), "ARC-Seal: i=4", 13);
	test_assert(seal(m2, ARC_CV_PASS, pool, &s, &err) < 0);
	test_assert(seal(m2, ARC_CV_FAIL, pool, &s, &err) == 0 && s.instance == 5);
	free(m2);
	free(m);
	free(broken);
	pool_free(&pool);
	test_end();
}

static void
test_task_headers(void)
{
	struct config *cfg = NULL;
	struct scan_engine *eng;
	struct scan_task *t;
	struct scan_reply_opts o = { false, false };
	const char *sigs[] = { "v=1; a=rsa-sha256; b=x" };
	const char *msg = "From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n";
	struct obj *r, *add;
	char *err = NULL;

	test_begin("scan_task_add_header in the milter block, with DKIM-Signature");
	if (config_load("conf/rspamd.conf", NULL, &cfg, &err) < 0 ||
	    (eng = scan_engine_new(cfg, &err)) == NULL) {
		test_assert(!"engine");
		printf("%s\n", err);
		return;
	}
	t = scan_task_new(eng, msg, strlen(msg));
	scan_task_process(t);
	t->dkim_signatures = sigs;
	t->n_dkim_signatures = 1;
	scan_task_add_header(t, "ARC-Seal", "i=1; cv=none", 0);
	scan_task_add_header(t, "X-Twice", "one", 1);
	scan_task_add_header(t, "X-Twice", "two", 2);
	scan_task_add_header(t, "DKIM-Signature", "v=1; b=y", 0);
	test_assert(t->n_add_headers == 4);
	r = scan_reply_v2(t, &o);
	add = obj_lookup_path(r, "milter.add_headers");
	test_assert(add != NULL && obj_count(add) == 3);
	test_assert(strcmp(obj_get_string(obj_lookup_path(add, "ARC-Seal.value")),
	    "i=1; cv=none") == 0);
	test_assert(obj_lookup(add, "X-Twice")->type == OBJ_ARRAY &&
	    obj_count(obj_lookup(add, "X-Twice")) == 2);
	test_assert(strcmp(obj_get_string(obj_lookup(obj_array_at(obj_lookup(add,
	    "X-Twice"), 1), "value")), "two") == 0);
	test_assert(obj_count(obj_lookup(add, "DKIM-Signature")) == 2);
	test_assert(obj_lookup_path(r, "milter.remove_headers.X-Spam") != NULL);
	obj_free(&r);
	scan_task_free(&t);
	scan_engine_free(&eng);
	config_unref(&cfg);
	test_end();
}

int
main(void)
{
	test_seal_none(false);
	test_seal_none(true);
	test_seal_pass();
	test_seal_fail();
	test_task_headers();
	dkim_privkey_free(&seal_key);
	free(seal_record);
	return test_exit();
}
