/*
 * test_dkim.c - DKIM canonicalization, tag parsing, the RFC 6376 / RFC
 * 8463 example signatures (python3-dkim's test data), our own signatures
 * verified back, and every failure class: tampered body or header, revoked
 * and bad keys, t=s, l=, x=, future t=, several signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/dkim.h"
#include "core/buf.h"
#include "core/pool.h"
#include "test.h"

#define DATA "/usr/lib/python3/dist-packages/dkim/tests/data/"

static const char ED_RFC_REC[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static const char MSG[] =
    "From: Joe SixPack <joe@football.example.com>\n"
    "To: Suzie Q <suzie@shopping.example.net>\n"
    "Subject: Is dinner ready?\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain\n"
    "\n"
    "Hi.\n"
    "\n"
    "We lost the game.  Are you hungry yet?\n"
    "\n"
    "Joe.\n";

static char *
read_data(const char *name, size_t *len_r)
{
	char path[512];

	snprintf(path, sizeof(path), DATA "%s", name);
	return test_read_file(path, len_r);
}

struct collect {
	struct buf b;
};

static void
collect_sink(void *ud, const char *p, size_t n)
{
	buf_append(&((struct collect *)ud)->b, p, n);
}

static bool
body_is(enum dkim_canon c, const char *body, const char *want)
{
	struct collect col;
	bool ok;

	buf_init(&col.b, 0);
	dkim_canon_body(c, str_from_cstr(body), collect_sink, &col);
	ok = col.b.len == strlen(want) &&
	    (col.b.len == 0 || memcmp(col.b.data, want, col.b.len) == 0);
	if (!ok)
		fprintf(stderr, "body canon got [%.*s]\n", (int)col.b.len, col.b.data);
	buf_deinit(&col.b);
	return ok;
}

static bool
headers_are(enum dkim_canon c, const char *msg, const char *want)
{
	struct pool *pool = pool_new(0);
	struct dkim_message m;
	struct buf b;
	bool ok;

	buf_init(&b, 0);
	dkim_message_split(pool, msg, strlen(msg), &m);
	for (size_t i = 0; i < m.n_headers; i++)
		dkim_canon_header(c, m.headers[i].field, true, &b);
	ok = b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0);
	if (!ok)
		fprintf(stderr, "header canon got [%.*s]\n", (int)b.len, b.data);
	buf_deinit(&b);
	pool_free(&pool);
	return ok;
}

static void
test_canon(void)
{
	/* RFC 6376 3.4.6 */
	const char *ex = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	const char *exlf = "A: X\nB : Y\t\n\tZ  \n\n C \nD \t E\n\n\n";

	test_begin("canonicalization (RFC 6376 3.4.6)");
	test_assert(headers_are(DKIM_CANON_RELAXED, ex, "a:X\r\nb:Y Z\r\n"));
	test_assert(headers_are(DKIM_CANON_SIMPLE, ex, "A: X\r\nB : Y\t\r\n\tZ  \r\n"));
	test_assert(headers_are(DKIM_CANON_RELAXED, exlf, "a:X\r\nb:Y Z\r\n"));
	test_assert(headers_are(DKIM_CANON_SIMPLE, exlf, "A: X\r\nB : Y\t\r\n\tZ  \r\n"));
	test_assert(body_is(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"));
	test_assert(body_is(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n"));
	test_assert(body_is(DKIM_CANON_RELAXED, " C \nD \t E\n\n\n", " C\r\nD E\r\n"));
	test_assert(body_is(DKIM_CANON_SIMPLE, "", "\r\n"));
	test_assert(body_is(DKIM_CANON_SIMPLE, "\r\n\r\n", "\r\n"));
	test_assert(body_is(DKIM_CANON_RELAXED, "", ""));
	test_assert(body_is(DKIM_CANON_RELAXED, " \t\r\n\r\n", ""));
	test_assert(body_is(DKIM_CANON_SIMPLE, "x", "x\r\n"));
	test_assert(body_is(DKIM_CANON_RELAXED, "a\r\n\r\nb  \t", "a\r\n\r\nb\r\n"));
	/* an mbox From line and a colon-less line are not header fields */
	test_assert(headers_are(DKIM_CANON_RELAXED, "From x@y Mon\nA:1\njunk\nB:2\n\nbody",
	    "a:1\r\nb:2\r\n"));
	test_end();
}

static void
test_tags(void)
{
	struct dkim_tag t[8];

	test_begin("tag lists");
	test_assert(dkim_tags_parse(STR_LIT("a=b; c = d e ;"), t, 8) == 2);
	test_assert(str_eq_cstr(t[1].name, "c") && str_eq_cstr(t[1].value, "d e"));
	test_assert(dkim_tags_parse(STR_LIT(" v=1;\r\n\tb=;"), t, 8) == 2);
	test_assert(t[1].value.len == 0);
	test_assert(dkim_tags_parse(STR_LIT("a=1; a=2"), t, 8) == -1);
	test_assert(dkim_tags_parse(STR_LIT("=1"), t, 8) == -1);
	test_assert(dkim_tags_parse(STR_LIT("a 1"), t, 8) == -1);
	test_assert(dkim_tags_parse(STR_LIT("1a=1"), t, 8) == -1);
	test_assert(dkim_tags_parse(STR_LIT(""), t, 8) == 0);
	test_assert(dkim_tags_parse(STR_LIT("a=1;b=2;c=3"), t, 2) == -1);
	test_end();
}

/* Verifies every signature of `msg`, key records from a name table */
static size_t
verify_msg(const char *msg, size_t len, const char *const *table, time_t now,
    enum dkim_result *res, size_t max, unsigned *bh_r)
{
	struct pool *pool = pool_new(0);
	struct dkim_verify v;
	size_t n;

	dkim_verify_init(&v, pool, msg, len, max, now, 3600);
	for (size_t i = 0; i < v.n_checks; i++) {
		struct dkim_check *c = &v.checks[i];
		const char *name, *rec = NULL;

		if (c->result != DKIM_RESULT_NONE)
			continue;
		name = dkim_check_key_name(&v, c);
		for (size_t k = 0; table[k] != NULL; k += 2) {
			if (strcmp(table[k], name) == 0)
				rec = table[k + 1];
		}
		if (rec == NULL) {
			c->result = DKIM_RESULT_PERMERROR;
			continue;
		}
		dkim_verify_record(&v, c, str_from_cstr(rec));
		if (c->result != DKIM_RESULT_PASS)
			fprintf(stderr, "  sig %zu (%s): %s (%s)\n", i, name,
			    dkim_result_name(c->result), c->reason);
	}
	n = MIN(v.n_checks, max);
	for (size_t i = 0; i < n; i++)
		res[i] = v.checks[i].result;
	if (bh_r != NULL)
		*bh_r = v.bh_computed;
	pool_free(&pool);
	return n;
}

static void
test_rfc_vectors(void)
{
	size_t len, rlen, elen;
	char *msg = read_data("rfc6376.signed.msg", &len);
	char *rsarec = read_data("test.txt", &rlen);
	char *exim = read_data("ed25519test2.msg", &elen);
	char *eximrec = read_data("eximtest.dns", &rlen);
	enum dkim_result r[4];

	test_begin("RFC 6376 / RFC 8463 examples (python3-dkim data)");
	if (msg == NULL || rsarec == NULL || exim == NULL || eximrec == NULL) {
		fprintf(stderr, "python3-dkim test data missing, skipped\n");
		test_end();
		return;
	}
	{
		const char *table[] = {
			"brisbane._domainkey.football.example.com", ED_RFC_REC,
			"test._domainkey.football.example.com", rsarec,
			"sed._domainkey.test.ex", eximrec,
			NULL,
		};

		test_assert(verify_msg(msg, len, table, time(NULL), r, 4, NULL) == 2);
		test_assert(r[0] == DKIM_RESULT_PASS);  /* ed25519-sha256 */
		test_assert(r[1] == DKIM_RESULT_PASS);  /* rsa-sha256 */
		test_assert(verify_msg(exim, elen, table, time(NULL), r, 4, NULL) == 1);
		test_assert(r[0] == DKIM_RESULT_PASS);  /* Exim's ed25519 */
		/* a changed body breaks both */
		msg = realloc(msg, len + 4);
		memcpy(msg + len - 1, "!\n", 2);
		test_assert(verify_msg(msg, len + 1, table, time(NULL), r, 4, NULL) == 2);
		test_assert(r[0] == DKIM_RESULT_FAIL && r[1] == DKIM_RESULT_FAIL);
	}
	free(msg);
	free(rsarec);
	free(exim);
	free(eximrec);
	test_end();
}

/* Signs MSG (or `body_msg`) and returns "DKIM-Signature: ...\n" + msg (heap) */
static char *
signed_copy(struct pool *pool, const char *msg, const struct dkim_privkey *key,
    const struct dkim_sign_params *p)
{
	const char *err = NULL;
	char *v = dkim_sign(pool, msg, strlen(msg), p, key, &err);
	size_t n;
	char *out;

	if (v == NULL) {
		fprintf(stderr, "sign: %s\n", err);
		return NULL;
	}
	n = strlen("DKIM-Signature: ") + strlen(v) + 1 + strlen(msg) + 1;
	out = malloc(n);
	snprintf(out, n, "DKIM-Signature: %s\n%s", v, msg);
	return out;
}

static struct dkim_privkey *
load_key(const char *name)
{
	struct dkim_privkey *k = NULL;
	char path[512], *err = NULL;

	snprintf(path, sizeof(path), DATA "%s", name);
	if (dkim_privkey_load(path, &k, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
	}
	return k;
}

static char *
record_for(const struct dkim_privkey *k, const char *extra)
{
	char *p64 = dkim_privkey_public_b64(k), *rec;
	size_t n = strlen(p64) + 128;

	rec = malloc(n);
	snprintf(rec, n, "v=DKIM1; k=%s; %sp=%s",
	    k->type == DKIM_KEY_ED25519 ? "ed25519" : "rsa", extra, p64);
	free(p64);
	return rec;
}

static enum dkim_result
one(const char *msg, const char *rec, time_t now)
{
	const char *table[] = { "sel._domainkey.example.com", rec, NULL };
	enum dkim_result r[1] = { DKIM_RESULT_NONE };

	verify_msg(msg, strlen(msg), table, now, r, 1, NULL);
	return r[0];
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void
roundtrip_key(const char *keyfile, const char *pyrec)
{
	struct pool *pool = pool_new(0);
	struct dkim_privkey *k = load_key(keyfile);
	struct dkim_sign_params p = { .domain = "example.com", .selector = "sel",
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = time(NULL) };
	char *rec, *sm, *bad;

	test_assert(k != NULL);
	if (k == NULL)
		return;
	rec = record_for(k, "");
	sm = signed_copy(pool, MSG, k, &p);
	test_assert(sm != NULL && one(sm, rec, time(NULL)) == DKIM_RESULT_PASS);
	if (pyrec != NULL)
		test_assert(one(sm, pyrec, time(NULL)) == DKIM_RESULT_PASS);
	bad = replace(sm, "We lost", "We won");
	test_assert(one(bad, rec, time(NULL)) == DKIM_RESULT_FAIL);
	free(bad);
	bad = replace(sm, "Subject: Is dinner", "Subject: Is lunch");
	test_assert(one(bad, rec, time(NULL)) == DKIM_RESULT_FAIL);
	free(bad);
	/* an added From is caught by the oversigned h= entry */
	bad = replace(sm, "To: Suzie", "From: evil@example.net\nTo: Suzie");
	test_assert(one(bad, rec, time(NULL)) == DKIM_RESULT_FAIL);
	free(bad);
	/* an unsigned header may be added */
	bad = replace(sm, "To: Suzie", "X-Added: yes\nTo: Suzie");
	test_assert(one(bad, rec, time(NULL)) == DKIM_RESULT_PASS);
	free(bad);
	/* the other canonicalizations too */
	p.hcanon = p.bcanon = DKIM_CANON_SIMPLE;
	free(sm);
	sm = signed_copy(pool, MSG, k, &p);
	test_assert(sm != NULL && one(sm, rec, time(NULL)) == DKIM_RESULT_PASS);
	free(sm);
	free(rec);
	dkim_privkey_free(&k);
	pool_free(&pool);
}

static void
test_roundtrip(void)
{
	test_begin("sign and verify: RSA PKCS#1, RSA PKCS#8, Ed25519");
	roundtrip_key("2048_testkey.key", NULL);
	roundtrip_key("2048_testkey_PKCS8.key", NULL);
	roundtrip_key("test.private", NULL);
	roundtrip_key("ed25519test.key",
	    "v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y=");
	test_end();
}

static void
test_header_list(void)
{
	struct pool *pool = pool_new(0);
	struct dkim_privkey *k = load_key("ed25519test.key");
	struct dkim_sign_params p = { .domain = "example.com", .selector = "sel",
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = 1 };
	const char *err = NULL;
	char *v, *h;

	test_begin("signed header list (oversigning as Rspamd)");
	v = k == NULL ? NULL : dkim_sign(pool, MSG, strlen(MSG), &p, k, &err);
	test_assert(v != NULL);
	if (v != NULL) {
		/* the same h= as Rspamd 3.4 for the same headers (unfolded) */
		struct buf b;

		buf_init(&b, 0);
		for (h = strstr(v, "h="); *h != ';'; h++) {
			if (*h != '\n' && *h != '\t' && *h != ' ')
				buf_putc(&b, *h);
		}
		test_assert(strcmp(b.data, "h=from:from:reply-to:subject:subject:date:date:"
		    "message-id:message-id:to:to:cc:mime-version:mime-version:content-type:"
		    "content-type") == 0);
		buf_deinit(&b);
		test_assert(strncmp(v, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"
		    " s=sel;\n\tt=1;", 64) == 0);
	}
	dkim_privkey_free(&k);
	pool_free(&pool);
	test_end();
}

static void
test_failures(void)
{
	struct pool *pool = pool_new(0);
	struct dkim_privkey *k = load_key("2048_testkey.key");
	struct dkim_sign_params p = { .domain = "example.com", .selector = "sel",
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = 1000000 };
	char *rec, *sm, *bad;

	test_begin("permerror and fail cases");
	if (k == NULL) {
		test_assert(k != NULL);
		test_end();
		return;
	}
	rec = record_for(k, "");
	sm = signed_copy(pool, MSG, k, &p);
	test_assert(one(sm, rec, 1000000) == DKIM_RESULT_PASS);
	test_assert(one(sm, "v=DKIM1; k=rsa; p=", 1000000) == DKIM_RESULT_PERMERROR);
	test_assert(one(sm, "v=DKIM1; k=rsa; p=AAAA", 1000000) == DKIM_RESULT_PERMERROR);
	test_assert(one(sm, "v=DKIM2; p=AAAA", 1000000) == DKIM_RESULT_PERMERROR);
	test_assert(one(sm, "garbage", 1000000) == DKIM_RESULT_PERMERROR);
	test_assert(one(sm, ED_RFC_REC, 1000000) == DKIM_RESULT_PERMERROR); /* k= mismatch */
	free(rec);
	rec = record_for(k, "h=sha1; ");
	test_assert(one(sm, rec, 1000000) == DKIM_RESULT_PERMERROR);
	free(rec);
	/* missing key: no record at all */
	{
		const char *table[] = { NULL };
		enum dkim_result r[1];

		verify_msg(sm, strlen(sm), table, 1000000, r, 1, NULL);
		test_assert(r[0] == DKIM_RESULT_PERMERROR);
	}
	/* t=s: an i= in a subdomain is refused, the same domain passes */
	rec = record_for(k, "t=s; ");
	test_assert(one(sm, rec, 1000000) == DKIM_RESULT_PASS);
	bad = replace(sm, "d=example.com;", "d=example.com; i=joe@sub.example.com;");
	test_assert(one(bad, rec, 1000000) == DKIM_RESULT_PERMERROR);
	free(bad);
	bad = replace(sm, "d=example.com;", "d=example.com; i=joe@example.org;");
	test_assert(one(bad, rec, 1000000) == DKIM_RESULT_PERMERROR);
	free(bad);
	free(rec);
	rec = record_for(k, "");
	/* dated in the future beyond the jitter; still fine within it */
	test_assert(one(sm, rec, 1000000 - 4000) == DKIM_RESULT_PERMERROR);
	test_assert(one(sm, rec, 1000000 - 3000) == DKIM_RESULT_PASS);
	free(sm);
	/* x= expiry */
	p.expire = 60;
	sm = signed_copy(pool, MSG, k, &p);
	test_assert(one(sm, rec, 1000030) == DKIM_RESULT_PASS);
	test_assert(one(sm, rec, 1000061) == DKIM_RESULT_PERMERROR);
	free(sm);
	/* l=: text appended after the signed length still passes */
	p.expire = 0;
	p.length_tag = true;
	sm = signed_copy(pool, MSG, k, &p);
	test_assert(strstr(sm, " l=") != NULL);
	test_assert(one(sm, rec, 1000000) == DKIM_RESULT_PASS);
	bad = malloc(strlen(sm) + 32);
	snprintf(bad, strlen(sm) + 32, "%sappended line\n", sm);
	test_assert(one(bad, rec, 1000000) == DKIM_RESULT_PASS);
	free(bad);
	bad = replace(sm, "\nJoe.\n", "\nJoe");
	test_assert(one(bad, rec, 1000000) == DKIM_RESULT_FAIL);
	free(bad);
	free(sm);
	free(rec);
	dkim_privkey_free(&k);
	pool_free(&pool);
	test_end();
}

static void
test_several(void)
{
	struct pool *pool = pool_new(0);
	struct dkim_privkey *rk = load_key("2048_testkey.key"), *ek = load_key("ed25519test.key");
	struct dkim_sign_params p = { .domain = "example.com", .selector = "sel",
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED, .now = time(NULL) };
	char *s1, *s2, *rrec, *erec;
	enum dkim_result r[8];
	unsigned bh = 0;

	test_begin("several signatures, body hash computed once, signature limit");
	if (rk == NULL || ek == NULL) {
		test_assert(false);
		test_end();
		return;
	}
	s1 = signed_copy(pool, MSG, rk, &p);
	p.selector = "ed";
	s2 = signed_copy(pool, s1, ek, &p);
	rrec = record_for(rk, "");
	erec = record_for(ek, "");
	{
		const char *table[] = { "sel._domainkey.example.com", rrec,
			"ed._domainkey.example.com", erec, NULL };

		test_assert(verify_msg(s2, strlen(s2), table, time(NULL), r, 8, &bh) == 2);
		test_assert(r[0] == DKIM_RESULT_PASS && r[1] == DKIM_RESULT_PASS);
		test_assert(bh == 1);
		test_assert(verify_msg(s2, strlen(s2), table, time(NULL), r, 1, NULL) == 1);
		test_assert(r[0] == DKIM_RESULT_PASS);
	}
	free(s1);
	free(s2);
	free(rrec);
	free(erec);
	dkim_privkey_free(&rk);
	dkim_privkey_free(&ek);
	pool_free(&pool);
	test_end();
}

static void
test_sig_syntax(void)
{
	struct pool *pool = pool_new(0);
	struct dkim_sig s;
	const char *err;

	test_begin("DKIM-Signature syntax");
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=Example.COM; s=x; "
	    "h=From : To; bh=AAAA; b=AA AA"), &s, &err) == 0);
	test_assert(strcmp(s.domain, "example.com") == 0 && s.n_headers == 2);
	test_assert(strcmp(s.auid, "@example.com") == 0);
	test_assert(s.hcanon == DKIM_CANON_SIMPLE && s.bcanon == DKIM_CANON_SIMPLE);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; s=x; "
	    "h=to; bh=AAAA; b=AAAA"), &s, &err) == -1);  /* From not signed */
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-md5; d=e.com; s=x; "
	    "h=from; bh=AAAA; b=AAAA"), &s, &err) == -1);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; s=x; "
	    "h=from; bh=AAAA; b=AAAA; c=odd"), &s, &err) == -1);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; s=x; "
	    "h=from; bh=AAAA; b=AAAA; c=relaxed; i=a@b.com"), &s, &err) == -1);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; s=x; "
	    "h=from; bh=AAAA; b=AAAA; c=relaxed; i=a@x.e.com"), &s, &err) == 0);
	test_assert(s.hcanon == DKIM_CANON_RELAXED && s.bcanon == DKIM_CANON_SIMPLE);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; s=x; "
	    "h=from; bh=AAAA; b=AAAA; t=20; x=10"), &s, &err) == -1);
	test_assert(dkim_sig_parse(pool, STR_LIT("v=1; a=rsa-sha256; d=e.com; "
	    "h=from; bh=AAAA; b=AAAA"), &s, &err) == -1);
	pool_free(&pool);
	test_end();
}

int
main(void)
{
	test_canon();
	test_tags();
	test_sig_syntax();
	test_rfc_vectors();
	test_roundtrip();
	test_header_list();
	test_failures();
	test_several();
	return test_exit();
}
