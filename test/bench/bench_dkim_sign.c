/*
 * bench_dkim_sign - DKIM signatures per second for a 10 KB message, with
 * an RSA-2048 and an Ed25519 key generated at start (relaxed/relaxed,
 * Rspamd's default signed header list), plus verification of the result
 * for comparison.
 *
 * Usage: bench_dkim_sign [SECONDS per measurement, default 2]
 */
#include "auth/dkim.h"
#include "core/buf.h"
#include "core/pool.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_message(struct buf *b)
{
	buf_append_cstr(b, "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n"
	    "Subject: benchmark\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	while (b->len < 10 * 1024)
		buf_append_cstr(b, "Lorem ipsum dolor sit amet,  consectetur\tadipiscing elit, "
		    "sed do eiusmod tempor incididunt ut labore.\r\n");
}

static struct dkim_privkey *
make_key(int type)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *pk = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	struct dkim_privkey *key = NULL;
	const char *err;
	char *pem;
	long n;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) != 1) ||
	    EVP_PKEY_keygen(ctx, &pk) != 1 ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	n = BIO_get_mem_data(bio, &pem);
	if (dkim_privkey_parse(pem, (size_t)n, &key, &err) < 0)
		abort();
	BIO_free(bio);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void
bench(const char *name, const struct dkim_privkey *key, const struct buf *msg, double secs)
{
	struct dkim_sign_params p = { .domain = "example.com", .selector = "bench",
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = time(NULL) };
	char *p64 = dkim_privkey_public_b64(key), rec[1024];
	struct buf signed_msg;
	unsigned long n = 0, nv = 0;
	double t0 = now_s(), t;
	char *value = NULL;

	do {
		struct pool *pool = pool_new(0);
		const char *err;

		value = dkim_sign(pool, msg->data, msg->len, &p, key, &err);
		if (value == NULL)
			abort();
		if (n == 0) {
			buf_init(&signed_msg, 0);
			buf_printf(&signed_msg, "DKIM-Signature: %s\r\n", value);
			buf_append(&signed_msg, msg->data, msg->len);
		}
		pool_free(&pool);
		n++;
	} while ((t = now_s() - t0) < secs);
	printf("%-8s sign:   %8.0f signatures/s (%lu in %.2f s)\n", name, n / t, n, t);
	snprintf(rec, sizeof(rec), "v=DKIM1; k=%s; p=%s",
	    key->type == DKIM_KEY_ED25519 ? "ed25519" : "rsa", p64);
	t0 = now_s();
	do {
		struct pool *pool = pool_new(0);
		struct dkim_verify v;

		dkim_verify_init(&v, pool, signed_msg.data, signed_msg.len, 5, time(NULL), 3600);
		dkim_verify_record(&v, &v.checks[0], str_from_cstr(rec));
		if (v.checks[0].result != DKIM_RESULT_PASS)
			abort();
		pool_free(&pool);
		nv++;
	} while ((t = now_s() - t0) < secs);
	printf("%-8s verify: %8.0f verifications/s (%lu in %.2f s)\n", name, nv / t, nv, t);
	buf_deinit(&signed_msg);
	free(p64);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	struct dkim_privkey *rsa = make_key(EVP_PKEY_RSA), *ed = make_key(EVP_PKEY_ED25519);
	struct buf msg;

	buf_init(&msg, 0);
	make_message(&msg);
	printf("message: %zu bytes, relaxed/relaxed\n", msg.len);
	bench("RSA-2048", rsa, &msg, secs);
	bench("Ed25519", ed, &msg, secs);
	buf_deinit(&msg);
	dkim_privkey_free(&rsa);
	dkim_privkey_free(&ed);
	return 0;
}
