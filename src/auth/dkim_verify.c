/*
 * dkim_verify.c - checks the DKIM signatures of one message against their
 * key records (RFC 6376 section 6, RFC 8463).
 *
 * dkim_verify_init() parses every DKIM-Signature (up to a limit) once;
 * the caller fetches each key record however it likes (the scan rule over
 * the async resolver, unit tests from a table) and settles each signature
 * with dkim_verify_record(). Body hashes are cached per (canonicalization,
 * hash, l=) so several signatures over the same body hash it once.
 *
 * The header hash is computed here and handed to OpenSSL as a digest:
 * RSA verifies PKCS#1 v1.5 over it, and Ed25519 signs the SHA-256 digest
 * of the header data itself (RFC 8463 section 3), which is the same
 * digest, so both algorithms share the hashing code.
 */
#include "auth/dkim.h"
#include "auth/dkim_internal.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/buf.h"
#include "core/pool.h"

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "none";
}

static struct str
header_value(struct str field)
{
	ptrdiff_t colon = str_find_chr(field, ':');

	if (colon < 0)
		return STR_NULL;
	return str_slice(field, (size_t)colon + 1, field.len - (size_t)colon - 1);
}

static void
check_times(struct dkim_check *c, time_t now, unsigned jitter)
{
	if (c->sig.expire >= 0 && c->sig.expire < (int64_t)now) {
		c->result = DKIM_RESULT_PERMERROR;
		c->reason = "signature expired";
	} else if (c->sig.timestamp >= 0 && c->sig.timestamp > (int64_t)now + jitter) {
		c->result = DKIM_RESULT_PERMERROR;
		c->reason = "signature dated in the future";
	}
}

int
dkim_verify_init(struct dkim_verify *v, struct pool *pool, const char *data,
    size_t len, size_t max_sigs, time_t now, unsigned jitter)
{
	size_t n = 0;

	memset(v, 0, sizeof(*v));
	v->pool = pool;
	if (dkim_message_split(pool, data, len, &v->msg) < 0)
		return -1;
	for (size_t i = 0; i < v->msg.n_headers; i++)
		n += str_case_eq_cstr(v->msg.headers[i].name, "DKIM-Signature");
	n = MIN(n, max_sigs);
	if (n == 0)
		return 0;
	v->checks = pool_calloc(pool, n, sizeof(*v->checks));
	if (v->checks == NULL)
		return -1;
	for (size_t i = 0; i < v->msg.n_headers && v->n_checks < n; i++) {
		struct dkim_check *c;
		const char *err = NULL;

		if (!str_case_eq_cstr(v->msg.headers[i].name, "DKIM-Signature"))
			continue;
		c = &v->checks[v->n_checks++];
		c->hdr_index = i;
		if (dkim_sig_parse(pool, header_value(v->msg.headers[i].field), &c->sig,
		    &err) < 0) {
			c->result = DKIM_RESULT_PERMERROR;
			c->reason = err;
			continue;
		}
		check_times(c, now, jitter);
	}
	return 0;
}

char *
dkim_check_key_name(struct dkim_verify *v, const struct dkim_check *c)
{
	return pool_printf(v->pool, "%s._domainkey.%s", c->sig.selector, c->sig.domain);
}

static const struct dkim_bh_cache *
body_hash(struct dkim_verify *v, const struct dkim_sig *sig)
{
	bool sha1 = sig->alg == DKIM_ALG_RSA_SHA1;
	struct dkim_bh_cache *e;

	for (size_t i = 0; i < v->n_bh_cache; i++) {
		e = &v->bh_cache[i];
		if (e->canon == sig->bcanon && e->sha1 == sha1 && e->limit == sig->length)
			return e;
	}
	/* a full cache recycles the last slot: correct, just slower */
	e = &v->bh_cache[v->n_bh_cache < ARRAY_SIZE(v->bh_cache) ? v->n_bh_cache++ :
	    ARRAY_SIZE(v->bh_cache) - 1];
	e->canon = sig->bcanon;
	e->sha1 = sha1;
	e->limit = sig->length;
	e->len = dkim_body_hash(sig->bcanon, sig->alg, v->msg.body, sig->length, e->hash,
	    &e->canon_len);
	v->bh_computed++;
	return e;
}

/*
 * The signature's own field with the value of b= removed (RFC 6376
 * 3.7): everything from after "b=" to the next ';' or the end, keeping
 * whitespace that follows the value.
 */
static struct str
strip_b_value(struct pool *pool, struct str field)
{
	size_t colon = (size_t)str_find_chr(field, ':'), i = colon + 1;

	while (i < field.len) {
		size_t s = i, e, ve;
		const char *semi;

		while (s < field.len && ascii_isspace(field.ptr[s]))
			s++;
		semi = memchr(field.ptr + s, ';', field.len - s);
		e = semi == NULL ? field.len : (size_t)(semi - field.ptr);
		if (s < e && field.ptr[s] == 'b') {
			size_t k = s + 1;

			while (k < e && ascii_isspace(field.ptr[k]))
				k++;
			if (k < e && field.ptr[k] == '=') {
				char *out;

				ve = e;
				while (ve > k + 1 && ascii_isspace(field.ptr[ve - 1]))
					ve--;
				out = pool_alloc(pool, field.len);
				if (out == NULL)
					return STR_NULL;
				memcpy(out, field.ptr, k + 1);
				memcpy(out + k + 1, field.ptr + ve, field.len - ve);
				return str_make(out, field.len - (ve - k - 1));
			}
		}
		i = e + 1;
	}
	return field;
}

/* Appends the signed header fields in h= order, bottom-up per name */
static int
hash_input_headers(const struct dkim_message *m, const struct dkim_sig *sig,
    size_t self, struct buf *out)
{
	for (size_t i = 0; i < sig->n_headers; i++) {
		size_t seen = 0, want = 0;

		for (size_t k = 0; k < i; k++)
			want += str_case_eq(sig->headers[k], sig->headers[i]);
		for (size_t h = m->n_headers; h-- > 0;) {
			if (h == self || !str_case_eq(m->headers[h].name, sig->headers[i]))
				continue;
			if (seen++ == want) {
				if (dkim_canon_header(sig->hcanon, m->headers[h].field, true, out) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

int
dkim_header_digest(const struct dkim_message *m, const struct dkim_sig *sig,
    size_t self, struct str sigfield, unsigned char out[64])
{
	const EVP_MD *md = sig->alg == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
	struct buf b;
	unsigned int olen = 0;
	int ret = -1;

	buf_init(&b, 0);
	if (hash_input_headers(m, sig, self, &b) == 0 &&
	    dkim_canon_header(sig->hcanon, sigfield, false, &b) == 0 &&
	    EVP_Digest(b.data, b.len, out, &olen, md, NULL) == 1)
		ret = (int)olen;
	buf_deinit(&b);
	return ret;
}

static bool
crypto_verify(const struct dkim_key *key, const struct dkim_sig *sig,
    const unsigned char *digest, size_t dlen)
{
	bool ok = false;

	if (key->type == DKIM_KEY_ED25519) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();

		ok = mctx != NULL &&
		    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey) == 1 &&
		    EVP_DigestVerify(mctx, sig->b, sig->b_len, digest, dlen) == 1;
		EVP_MD_CTX_free(mctx);
	} else {
		EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key->pkey, NULL);
		const EVP_MD *md = sig->alg == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();

		ok = pctx != NULL && EVP_PKEY_verify_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, md) == 1 &&
		    EVP_PKEY_verify(pctx, sig->b, sig->b_len, digest, dlen) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok;
}

/* Key record constraints against the signature; reason or NULL */
static const char *
key_mismatch(const struct dkim_key *key, const struct dkim_sig *sig)
{
	bool ed = sig->alg == DKIM_ALG_ED25519_SHA256;

	if (ed != (key->type == DKIM_KEY_ED25519))
		return "key type does not match a=";
	if (sig->alg == DKIM_ALG_RSA_SHA1 ? !key->allow_sha1 : !key->allow_sha256)
		return "hash not allowed by key h=";
	if (key->strict) {
		const char *at = strrchr(sig->auid, '@');

		if (at == NULL || strcasecmp(at + 1, sig->domain) != 0)
			return "i= domain differs from d= (key t=s)";
	}
	return NULL;
}

void
dkim_verify_key(struct dkim_verify *v, struct dkim_check *c, const struct dkim_key *key)
{
	const struct dkim_header *self = &v->msg.headers[c->hdr_index];
	const struct dkim_bh_cache *bh;
	unsigned char digest[64];
	struct str sigfield;
	int dlen;

	if ((c->reason = key_mismatch(key, &c->sig)) != NULL) {
		c->result = DKIM_RESULT_PERMERROR;
		return;
	}
	bh = body_hash(v, &c->sig);
	if (bh->len < 0 || (c->sig.length >= 0 && (uint64_t)c->sig.length > bh->canon_len)) {
		c->result = DKIM_RESULT_FAIL;
		c->reason = bh->len < 0 ? "body hash failed" : "l= longer than the body";
		return;
	}
	if ((size_t)bh->len != c->sig.bh_len || memcmp(bh->hash, c->sig.bh, c->sig.bh_len) != 0) {
		c->result = DKIM_RESULT_FAIL;
		c->reason = "body hash mismatch";
		return;
	}
	sigfield = strip_b_value(v->pool, self->field);
	dlen = dkim_header_digest(&v->msg, &c->sig, c->hdr_index, sigfield, digest);
	if (sigfield.ptr == NULL || dlen < 0 || !crypto_verify(key, &c->sig, digest, (size_t)dlen)) {
		c->result = DKIM_RESULT_FAIL;
		c->reason = "signature does not verify";
		return;
	}
	c->result = DKIM_RESULT_PASS;
	c->reason = NULL;
}

void
dkim_verify_record(struct dkim_verify *v, struct dkim_check *c, struct str record)
{
	struct dkim_key *key = NULL;
	const char *err = NULL;
	bool revoked;

	if (dkim_key_parse(record, &key, &revoked, &err) < 0) {
		c->result = DKIM_RESULT_PERMERROR;
		c->reason = err;
		return;
	}
	dkim_verify_key(v, c, key);
	dkim_key_free(&key);
}
