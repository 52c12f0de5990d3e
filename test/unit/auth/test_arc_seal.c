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

#include "arc_fixture.h"

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
