/*
 * arc.c - ARC chain verification (RFC 8617 section 5.2).
 *
 * Structure first, signatures after: the sets must run 1..N without gaps
 * or duplicates (N <= 50), the first seal must say cv=none and the later
 * ones cv=pass; a newest seal with cv=fail ends the chain as failed
 * without any lookup. Then the newest ARC-Message-Signature and every
 * ARC-Seal are verified, one key each. The AMS goes through the DKIM
 * helper's verifier unchanged: its tag list is DKIM's minus v= plus an
 * instance i=, so it is re-parsed as a DKIM-Signature with v=1 and no i=,
 * and dkim_verify_key() hashes body and headers and strips b= exactly as
 * for DKIM. Seals hash the ARC header sets in instance order, each set as
 * AAR, AMS, AS with relaxed canonicalization, the verified seal last with
 * an empty b= and no final CRLF (5.1.1).
 */
#include "auth/arc.h"
#include "auth/dkim_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"

#define ARC_NO_HEADER ((size_t)-1)

const char *
arc_cv_name(enum arc_cv cv)
{
	switch (cv) {
	case ARC_CV_PASS:
		return "pass";
	case ARC_CV_FAIL:
		return "fail";
	case ARC_CV_NONE:
		break;
	}
	return "none";
}

static struct str
arc_header_value(struct str field)
{
	ptrdiff_t colon = str_find_chr(field, ':');

	if (colon < 0)
		return STR_NULL;
	return str_slice(field, (size_t)colon + 1, field.len - (size_t)colon - 1);
}

static const struct dkim_tag *
arc_tag(const struct dkim_tag *tags, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (str_eq_cstr(tags[i].name, name))
			return &tags[i];
	return NULL;
}

/* i= of an ARC header: 1..50, or 0 when missing or malformed. */
static unsigned
arc_instance_of(struct str value)
{
	struct str v = str_trim(value);
	uint64_t n;
	size_t end = 0;

	/* the AAR is not a tag list: "i=N; authserv-id; ..." */
	while (end < v.len && v.ptr[end] != ';')
		end++;
	v = str_trim(str_slice(v, 0, end));
	if (v.len < 3 || ascii_tolower(v.ptr[0]) != 'i')
		return 0;
	v = str_trim(str_slice(v, 1, v.len - 1));
	if (v.len < 2 || v.ptr[0] != '=')
		return 0;
	v = str_trim(str_slice(v, 1, v.len - 1));
	if (str_to_u64(v, &n) < 0 || n < 1 || n > ARC_MAX_INSTANCES)
		return 0;
	return (unsigned)n;
}

static int
arc_invalid(struct arc_verify *av, const char *reason)
{
	av->result = ARC_RESULT_INVALID;
	av->reason = reason;
	return 0;
}

/* Places header `h` into its set; -1 with the reason on a structure error. */
static int
arc_collect_one(struct arc_verify *av, size_t h, size_t *slot_of,
    const char **error_r)
{
	const struct dkim_header *hd = &av->dv.msg.headers[h];
	unsigned inst = arc_instance_of(arc_header_value(hd->field));
	size_t *slot;

	if (inst == 0) {
		*error_r = "ARC header without a valid i=";
		return -1;
	}
	slot = &slot_of[(inst - 1) * 3];
	if (str_case_eq_cstr(hd->name, "ARC-Authentication-Results"))
		slot += 0;
	else if (str_case_eq_cstr(hd->name, "ARC-Message-Signature"))
		slot += 1;
	else
		slot += 2;
	if (*slot != ARC_NO_HEADER) {
		*error_r = "duplicate ARC header for one instance";
		return -1;
	}
	*slot = h;
	if (inst > av->n_sets)
		av->n_sets = inst;
	return 0;
}

static bool
arc_is_arc_header(struct str name)
{
	return str_case_eq_cstr(name, "ARC-Authentication-Results") ||
	    str_case_eq_cstr(name, "ARC-Message-Signature") ||
	    str_case_eq_cstr(name, "ARC-Seal");
}

static int
arc_parse_seal(struct arc_verify *av, struct arc_set *set)
{
	struct str value = arc_header_value(av->dv.msg.headers[set->as].field);
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *a, *b, *cv, *d, *s;
	int n = dkim_tags_parse(value, tags, DKIM_MAX_TAGS);
	bool damaged = false;

	if (n < 0)
		return -1;
	a = arc_tag(tags, n, "a");
	b = arc_tag(tags, n, "b");
	cv = arc_tag(tags, n, "cv");
	d = arc_tag(tags, n, "d");
	s = arc_tag(tags, n, "s");
	if (a == NULL || b == NULL || cv == NULL || d == NULL || s == NULL ||
	    arc_tag(tags, n, "h") != NULL || d->value.len == 0 ||
	    s->value.len == 0)
		return -1;
	if (str_case_eq_cstr(a->value, "rsa-sha256"))
		set->as_alg = DKIM_ALG_RSA_SHA256;
	else if (str_case_eq_cstr(a->value, "ed25519-sha256"))
		set->as_alg = DKIM_ALG_ED25519_SHA256;
	else
		return -1;
	if (str_case_eq_cstr(cv->value, "none"))
		set->cv = ARC_CV_NONE;
	else if (str_case_eq_cstr(cv->value, "pass"))
		set->cv = ARC_CV_PASS;
	else if (str_case_eq_cstr(cv->value, "fail"))
		set->cv = ARC_CV_FAIL;
	else
		return -1;
	set->as_domain = str_dup_cstr(av->dv.pool, d->value);
	set->as_selector = str_dup_cstr(av->dv.pool, s->value);
	set->as_b = pool_alloc(av->dv.pool, BASE64_DECODED_MAX(b->value.len));
	if (set->as_domain == NULL || set->as_selector == NULL || set->as_b == NULL)
		return -1;
	set->as_b_len = base64_decode(b->value.ptr, b->value.len, set->as_b,
	    &damaged);
	return damaged || set->as_b_len == 0 ? -1 : 0;
}

/*
 * The AMS tags re-written as a DKIM-Signature ("v=1;" first, i= dropped)
 * and parsed by dkim_sig_parse.
 */
static int
arc_parse_ams(struct arc_verify *av, struct arc_set *set)
{
	struct str value = arc_header_value(av->dv.msg.headers[set->ams].field);
	struct dkim_tag tags[DKIM_MAX_TAGS];
	int n = dkim_tags_parse(value, tags, DKIM_MAX_TAGS);
	const char *err = NULL;
	struct buf b;
	char *text;
	int rc = -1;

	if (n < 0 || arc_tag(tags, n, "v") != NULL)
		return -1;
	buf_init(&b, 0);
	buf_append_cstr(&b, "v=1");
	for (int i = 0; i < n; i++) {
		if (str_eq_cstr(tags[i].name, "i"))
			continue;
		buf_printf(&b, "; %.*s=%.*s", (int)tags[i].name.len,
		    tags[i].name.ptr, (int)tags[i].value.len, tags[i].value.ptr);
	}
	set->ams_check.hdr_index = set->ams;
	/* in the pool: the parsed h= names are views into the text */
	text = pool_memdup(av->dv.pool, b.data, b.len);
	if (text != NULL && dkim_sig_parse(av->dv.pool, str_make(text, b.len),
	    &set->ams_check.sig, &err) == 0) {
		rc = 0;
		for (size_t i = 0; i < set->ams_check.sig.n_headers; i++)
			if (str_case_eq_cstr(set->ams_check.sig.headers[i], "ARC-Seal"))
				rc = -1;
	}
	buf_deinit(&b);
	return rc;
}

/* Sets, cv= sequence and the parse of every seal and the newest AMS. */
static int
arc_check_structure(struct arc_verify *av, const size_t *slot_of)
{
	av->sets = pool_calloc(av->dv.pool, av->n_sets, sizeof(*av->sets));
	if (av->sets == NULL)
		return -1;
	for (unsigned i = 0; i < av->n_sets; i++) {
		struct arc_set *set = &av->sets[i];
		set->instance = i + 1;
		set->aar = slot_of[i * 3];
		set->ams = slot_of[i * 3 + 1];
		set->as = slot_of[i * 3 + 2];
		if (set->aar == ARC_NO_HEADER || set->ams == ARC_NO_HEADER ||
		    set->as == ARC_NO_HEADER)
			return arc_invalid(av, "incomplete ARC set");
		if (arc_parse_seal(av, set) < 0)
			return arc_invalid(av, "unparsable ARC-Seal");
	}
	if (av->sets[av->n_sets - 1].cv == ARC_CV_FAIL) {
		av->result = ARC_RESULT_FAIL;
		av->reason = "newest seal says cv=fail";
		return 0;
	}
	for (unsigned i = 0; i < av->n_sets; i++) {
		enum arc_cv want = i == 0 ? ARC_CV_NONE : ARC_CV_PASS;
		if (av->sets[i].cv != want)
			return arc_invalid(av, "wrong cv= in the chain");
	}
	if (arc_parse_ams(av, &av->sets[av->n_sets - 1]) < 0)
		return arc_invalid(av, "unparsable ARC-Message-Signature");
	av->result = ARC_RESULT_PENDING;
	return 0;
}

int
arc_verify_init(struct arc_verify *av, struct pool *pool, const char *data,
    size_t len)
{
	size_t slot_of[ARC_MAX_INSTANCES * 3];
	const char *error = NULL;

	memset(av, 0, sizeof(*av));
	if (dkim_verify_init(&av->dv, pool, data, len, 0, 0, 0) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(slot_of); i++)
		slot_of[i] = ARC_NO_HEADER;
	for (size_t h = 0; h < av->dv.msg.n_headers; h++) {
		if (!arc_is_arc_header(av->dv.msg.headers[h].name))
			continue;
		if (arc_collect_one(av, h, slot_of, &error) < 0)
			return arc_invalid(av, error);
	}
	if (av->n_sets == 0) {
		av->result = ARC_RESULT_NONE;
		return 0;
	}
	return arc_check_structure(av, slot_of);
}

size_t
arc_verify_n_keys(const struct arc_verify *av)
{
	return av->result == ARC_RESULT_PENDING ? (size_t)av->n_sets + 1 : 0;
}

char *
arc_verify_key_name(struct arc_verify *av, size_t k)
{
	const struct arc_set *set;

	if (k == 0)
		return dkim_check_key_name(&av->dv,
		    &av->sets[av->n_sets - 1].ams_check);
	set = &av->sets[k - 1];
	return pool_printf(av->dv.pool, "%s._domainkey.%s", set->as_selector,
	    set->as_domain);
}

/* The seal's own field with the value of b= removed. */
static struct str
arc_strip_b(struct pool *pool, struct str field)
{
	struct str value = arc_header_value(field);
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *b;
	int n = dkim_tags_parse(value, tags, DKIM_MAX_TAGS);
	size_t head, tail;
	char *out;

	if (n < 0 || (b = arc_tag(tags, n, "b")) == NULL)
		return STR_NULL;
	head = (size_t)(b->value.ptr - field.ptr);
	tail = field.len - head - b->value.len;
	if ((out = pool_alloc(pool, head + tail + 1)) == NULL)
		return STR_NULL;
	memcpy(out, field.ptr, head);
	memcpy(out + head, b->value.ptr + b->value.len, tail);
	return str_make(out, head + tail);
}

/* The seal's hash input: sets 1..inst, the seal of `inst` stripped, last. */
static int
arc_seal_input(struct arc_verify *av, unsigned inst, struct str self,
    struct buf *out)
{
	const struct dkim_header *hs = av->dv.msg.headers;

	for (unsigned i = 0; i < inst; i++) {
		const struct arc_set *set = &av->sets[i];
		if (dkim_canon_header(DKIM_CANON_RELAXED, hs[set->aar].field, true,
		    out) < 0 ||
		    dkim_canon_header(DKIM_CANON_RELAXED, hs[set->ams].field, true,
		    out) < 0)
			return -1;
		if (i + 1 == inst)
			return dkim_canon_header(DKIM_CANON_RELAXED, self, false, out);
		if (dkim_canon_header(DKIM_CANON_RELAXED, hs[set->as].field, true,
		    out) < 0)
			return -1;
	}
	return -1;
}

static bool
arc_crypto_verify(const struct dkim_key *key, enum dkim_alg alg,
    const unsigned char *sig, size_t slen, const unsigned char *dg, size_t dlen)
{
	bool ok = false;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		ok = mctx != NULL &&
		    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey) == 1 &&
		    EVP_DigestVerify(mctx, sig, slen, dg, dlen) == 1;
		EVP_MD_CTX_free(mctx);
	} else {
		EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key->pkey, NULL);
		ok = pctx != NULL && EVP_PKEY_verify_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_verify(pctx, sig, slen, dg, dlen) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok;
}

static void
arc_verify_seal(struct arc_verify *av, struct arc_set *set,
    const struct dkim_key *key)
{
	struct str self;
	struct buf in;
	unsigned char dg[64];
	unsigned int dlen = 0;

	if ((set->as_alg == DKIM_ALG_ED25519_SHA256) !=
	    (key->type == DKIM_KEY_ED25519)) {
		set->as_result = DKIM_RESULT_PERMERROR;
		set->as_reason = "key type does not match a=";
		return;
	}
	self = arc_strip_b(av->dv.pool, av->dv.msg.headers[set->as].field);
	buf_init(&in, 0);
	if (self.ptr == NULL || arc_seal_input(av, set->instance, self, &in) < 0 ||
	    EVP_Digest(in.data, in.len, dg, &dlen, EVP_sha256(), NULL) != 1 ||
	    !arc_crypto_verify(key, set->as_alg, set->as_b, set->as_b_len, dg,
	    dlen)) {
		set->as_result = DKIM_RESULT_FAIL;
		set->as_reason = "seal does not verify";
	} else {
		set->as_result = DKIM_RESULT_PASS;
	}
	buf_deinit(&in);
}

void
arc_verify_key_record(struct arc_verify *av, size_t k, struct str record)
{
	struct dkim_key *key = NULL;
	const char *err = NULL;
	bool revoked = false;
	struct arc_set *set;

	if (av->result != ARC_RESULT_PENDING || k > av->n_sets)
		return;
	if (k == 0) {
		dkim_verify_record(&av->dv, &av->sets[av->n_sets - 1].ams_check,
		    record);
		return;
	}
	set = &av->sets[k - 1];
	if (dkim_key_parse(record, &key, &revoked, &err) < 0) {
		set->as_result = DKIM_RESULT_PERMERROR;
		set->as_reason = revoked ? "revoked key" : err;
		return;
	}
	arc_verify_seal(av, set, key);
	dkim_key_free(&key);
}

void
arc_verify_key_missing(struct arc_verify *av, size_t k, bool temporary)
{
	enum dkim_result r = temporary ? DKIM_RESULT_TEMPERROR :
	    DKIM_RESULT_PERMERROR;

	if (av->result != ARC_RESULT_PENDING || k > av->n_sets)
		return;
	if (k == 0) {
		av->sets[av->n_sets - 1].ams_check.result = r;
		av->sets[av->n_sets - 1].ams_check.reason = "no key";
	} else {
		av->sets[k - 1].as_result = r;
		av->sets[k - 1].as_reason = "no key";
	}
}

/* Folds one check result into the chain result (temperror beats fail). */
static void
arc_merge(struct arc_verify *av, enum dkim_result r, const char *reason)
{
	if (r == DKIM_RESULT_PASS)
		return;
	if (r == DKIM_RESULT_TEMPERROR) {
		av->result = ARC_RESULT_TEMPERROR;
		av->reason = "key lookup failed";
	} else if (av->result != ARC_RESULT_TEMPERROR) {
		av->result = ARC_RESULT_FAIL;
		av->reason = reason != NULL ? reason : "not verified";
	}
}

void
arc_verify_finish(struct arc_verify *av)
{
	const struct dkim_check *ams;

	if (av->result != ARC_RESULT_PENDING)
		return;
	av->result = ARC_RESULT_PASS;
	ams = &av->sets[av->n_sets - 1].ams_check;
	arc_merge(av, ams->result, ams->reason);
	for (unsigned i = av->n_sets; i-- > 0;)
		arc_merge(av, av->sets[i].as_result, av->sets[i].as_reason);
	if (av->result == ARC_RESULT_PASS)
		av->reason = NULL;
}

const char *
arc_verify_last_domain(const struct arc_verify *av)
{
	if (av->n_sets == 0 || av->sets == NULL)
		return NULL;
	return av->sets[av->n_sets - 1].as_domain;
}
