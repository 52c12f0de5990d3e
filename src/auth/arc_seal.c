/*
 * arc_seal.c - ARC sealing (RFC 8617 section 5.1): the next set of
 * ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal for a
 * message we relay.
 *
 * The AMS is a DKIM signature with i= in place of v=, so it is hashed with
 * the DKIM helper's body hash and header digest (relaxed/relaxed); ARC
 * headers are never in its h= list, they belong to the seal. The seal
 * hashes every set in instance order (AAR, AMS, AS), relaxed, the new
 * seal last with an empty b= and without its CRLF; when the received
 * chain failed, only the new set is hashed (5.1.2), so the chain stays
 * recognisably dead instead of being papered over.
 *
 * The header list follows dkim_signing's sign_headers syntax ("(o)from:
 * (x)sender:list-*"), expanded and signed by the DKIM signer's pieces.
 */
#include "auth/arc.h"
#include "auth/dkim_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"

/* Signs `dg` and appends b= in folded lines; returns the pool value. */
static char *
arc_seal_finish(struct pool *pool, struct buf *b, const struct dkim_privkey *key,
    const unsigned char *dg, size_t dlen)
{
	unsigned char sig[1024];
	size_t slen = sizeof(sig);

	if (EVP_PKEY_get_size(key->pkey) > (int)sizeof(sig) ||
	    dkim_sign_digest(key, dg, dlen, sig, &slen) < 0 ||
	    dkim_append_b64_folded(b, sig, slen) < 0)
		return NULL;
	return pool_strndup(pool, b->data, b->len);
}

static const char *
arc_seal_alg(const struct dkim_privkey *key)
{
	return key->type == DKIM_KEY_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* The ARC-Message-Signature value for instance `inst`. */
static char *
arc_seal_ams(struct pool *pool, const struct dkim_message *m, unsigned inst,
    const struct arc_seal_params *p, const struct dkim_privkey *key,
    const char **error_r)
{
	struct dkim_sig sig = { .hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED,
		.length = -1 };
	unsigned char bh[64], dg[64];
	char bh64[BASE64_ENCODED_LEN(64) + 1];
	struct buf b, field;
	uint64_t clen;
	char *ret = NULL;
	int bhlen, dlen = -1;

	sig.alg = key->type == DKIM_KEY_ED25519 ? DKIM_ALG_ED25519_SHA256 :
	    DKIM_ALG_RSA_SHA256;
	if (dkim_expand_sign_headers(pool, m, p->sign_headers != NULL ? p->sign_headers :
	    DKIM_DEFAULT_SIGN_HEADERS, true, &sig) < 0)
		return *error_r = "out of memory", NULL;
	if (sig.n_headers == 0)
		return *error_r = "no header to sign", NULL;
	bhlen = dkim_body_hash(DKIM_CANON_RELAXED, sig.alg, m->body, -1, bh, &clen);
	if (bhlen < 0)
		return *error_r = "body hash failed", NULL;
	bh64[base64_encode(bh, (size_t)bhlen, bh64)] = '\0';
	buf_init(&b, 0);
	buf_init(&field, 0);
	if (buf_printf(&b, "i=%u; a=%s; c=relaxed/relaxed; d=%s; s=%s;\n\tt=%lld;\n\t",
	    inst, arc_seal_alg(key), p->domain, p->selector, (long long)p->now) == 0 &&
	    dkim_append_hlist(&b, &sig) == 0 &&
	    buf_printf(&b, "bh=%s;\n\tb=", bh64) == 0 &&
	    buf_append_cstr(&field, "ARC-Message-Signature: ") == 0 &&
	    buf_append(&field, b.data, b.len) == 0)
		dlen = dkim_header_digest(m, &sig, SIZE_MAX,
		    str_make(field.data, field.len), dg);
	if (dlen >= 0)
		ret = arc_seal_finish(pool, &b, key, dg, (size_t)dlen);
	if (ret == NULL)
		*error_r = "signing the ARC-Message-Signature failed";
	buf_deinit(&field);
	buf_deinit(&b);
	return ret;
}

/* Appends "Name: value" canonicalized (relaxed), with CRLF when `crlf`. */
static int
arc_seal_canon_new(struct buf *out, const char *name, const char *value, size_t vlen,
    bool crlf)
{
	struct buf f;
	int r;

	buf_init(&f, 0);
	r = buf_printf(&f, "%s: ", name) == 0 && buf_append(&f, value, vlen) == 0 ?
	    dkim_canon_header(DKIM_CANON_RELAXED, str_make(f.data, f.len), crlf, out) : -1;
	buf_deinit(&f);
	return r;
}

/*
 * The ARC-Seal value: the existing sets of `av` (unless cv=fail) and the
 * new AAR and AMS, then the seal itself with b= empty.
 */
static char *
arc_seal_as(struct pool *pool, const struct arc_verify *av, struct arc_seal *s,
    const struct arc_seal_params *p, const struct dkim_privkey *key,
    const char **error_r)
{
	const struct dkim_header *hs = av->dv.msg.headers;
	unsigned char dg[64];
	unsigned int dlen = 0;
	struct buf b, in;
	char *ret = NULL;
	int r = 0;

	buf_init(&b, 0);
	buf_init(&in, 0);
	for (unsigned i = 0; s->cv != ARC_CV_FAIL && i < av->n_sets && r == 0; i++) {
		const struct arc_set *set = &av->sets[i];

		if (dkim_canon_header(DKIM_CANON_RELAXED, hs[set->aar].field, true, &in) < 0 ||
		    dkim_canon_header(DKIM_CANON_RELAXED, hs[set->ams].field, true, &in) < 0 ||
		    dkim_canon_header(DKIM_CANON_RELAXED, hs[set->as].field, true, &in) < 0)
			r = -1;
	}
	if (r == 0 && buf_printf(&b, "i=%u; cv=%s; a=%s; d=%s; s=%s;\n\tt=%lld;\n\tb=",
	    s->instance, arc_cv_name(s->cv), arc_seal_alg(key), p->domain, p->selector,
	    (long long)p->now) == 0 &&
	    arc_seal_canon_new(&in, "ARC-Authentication-Results", s->aar, strlen(s->aar),
	    true) == 0 &&
	    arc_seal_canon_new(&in, "ARC-Message-Signature", s->ams, strlen(s->ams),
	    true) == 0 &&
	    arc_seal_canon_new(&in, "ARC-Seal", b.data, b.len, false) == 0 &&
	    EVP_Digest(in.data, in.len, dg, &dlen, EVP_sha256(), NULL) == 1)
		ret = arc_seal_finish(pool, &b, key, dg, dlen);
	if (ret == NULL)
		*error_r = "signing the ARC-Seal failed";
	buf_deinit(&in);
	buf_deinit(&b);
	return ret;
}

/* Highest i= among the ARC headers (for a failed chain of any shape). */
static unsigned
arc_seal_highest(const struct dkim_message *m)
{
	unsigned top = 0;

	for (size_t h = 0; h < m->n_headers; h++) {
		struct str f = m->headers[h].field, v;
		ptrdiff_t colon = str_find_chr(f, ':'), eq, semi;
		uint64_t n;

		if (!dkim_is_arc_header(m->headers[h].name) || colon < 0)
			continue;
		v = str_trim(str_slice(f, (size_t)colon + 1, f.len - (size_t)colon - 1));
		eq = str_find_chr(v, '=');
		semi = str_find_chr(v, ';');
		if (eq < 1 || ascii_tolower(v.ptr[0]) != 'i' ||
		    str_trim(str_slice(v, 1, (size_t)eq - 1)).len != 0)
			continue;
		v = str_slice(v, (size_t)eq + 1, (semi > eq ? (size_t)semi : v.len) -
		    (size_t)eq - 1);
		if (str_to_u64(str_trim(v), &n) == 0 && n > top && n <= ARC_MAX_INSTANCES)
			top = (unsigned)n;
	}
	return top;
}

/* Checks cv against the chain as found; sets the new instance. */
static int
arc_seal_instance(const struct arc_verify *av, struct arc_seal *s,
    const char **error_r)
{
	if (av->n_sets > 0 && av->sets != NULL &&
	    av->sets[av->n_sets - 1].cv == ARC_CV_FAIL)
		return *error_r = "the newest seal already says cv=fail", -1;
	if (s->cv == ARC_CV_NONE && av->result != ARC_RESULT_NONE)
		return *error_r = "cv=none on a message with ARC headers", -1;
	if (s->cv == ARC_CV_PASS && av->result != ARC_RESULT_PENDING &&
	    av->result != ARC_RESULT_PASS)
		return *error_r = "cv=pass on a broken chain", -1;
	s->instance = (s->cv == ARC_CV_FAIL ? arc_seal_highest(&av->dv.msg) :
	    av->n_sets) + 1;
	if (s->cv == ARC_CV_FAIL && s->instance == 1)
		return *error_r = "cv=fail on a message without ARC headers", -1;
	if (s->instance > ARC_MAX_INSTANCES)
		return *error_r = "the chain has the maximum of 50 sets", -1;
	return 0;
}

int
arc_seal_message(struct pool *pool, const char *data, size_t len, enum arc_cv cv,
    const struct arc_seal_params *p, const struct dkim_privkey *key,
    struct arc_seal *seal_r, const char **error_r)
{
	struct arc_verify *av = pool_calloc(pool, 1, sizeof(*av));

	memset(seal_r, 0, sizeof(*seal_r));
	seal_r->cv = cv;
	if (av == NULL || arc_verify_init(av, pool, data, len) < 0)
		return *error_r = "out of memory", -1;
	if (arc_seal_instance(av, seal_r, error_r) < 0)
		return -1;
	seal_r->aar = pool_printf(pool, "i=%u; %s; %s", seal_r->instance,
	    p->authserv_id, p->results != NULL && p->results[0] != '\0' ?
	    p->results : "none");
	if (seal_r->aar == NULL)
		return *error_r = "out of memory", -1;
	seal_r->ams = arc_seal_ams(pool, &av->dv.msg, seal_r->instance, p, key, error_r);
	if (seal_r->ams == NULL)
		return -1;
	seal_r->as = arc_seal_as(pool, av, seal_r, p, key, error_r);
	return seal_r->as == NULL ? -1 : 0;
}
