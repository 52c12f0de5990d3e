/*
 * dkim_sign.c - DKIM signing: private keys and the DKIM-Signature value
 * for a message (RFC 6376 section 5, RFC 8463 for Ed25519).
 *
 * The header list follows Rspamd's sign_headers syntax, with oversigning:
 * a header name listed once more than the message has it makes a
 * verifier hash an empty field for the extra entry, so a header added in
 * transit (a second From, a Subject where there was none) breaks the
 * signature. The algorithm follows the key: rsa-sha256 for RSA keys,
 * ed25519-sha256 for Ed25519 keys.
 *
 * The value is folded with "\n\t" like Rspamd's reply; relaxed header
 * canonicalization turns any folding into single spaces, so the folding
 * used when hashing (b= empty) and the final one may differ freely.
 */
#include "auth/dkim.h"
#include "auth/dkim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define DKIM_MAX_KEY_FILE (64 * 1024)

static EVP_PKEY *
raw_ed25519_seed(const char *text, size_t len)
{
	unsigned char seed[BASE64_DECODED_MAX(64)];
	struct str t = str_trim(str_make(text, len));
	bool damaged = false;
	size_t n;

	if (t.len == 0 || t.len > 64)
		return NULL;
	n = base64_decode(t.ptr, t.len, seed, &damaged);
	if (damaged || n != 32)
		return NULL;
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

int
dkim_privkey_parse(const char *text, size_t len, struct dkim_privkey **key_r,
    const char **error_r)
{
	struct dkim_privkey k = { .type = DKIM_KEY_RSA };
	BIO *bio;
	int id;

	*key_r = NULL;
	if (len > DKIM_MAX_KEY_FILE)
		return *error_r = "key file too large", -1;
	bio = BIO_new_mem_buf(text, (int)len);
	if (bio == NULL)
		return *error_r = "out of memory", -1;
	k.pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (k.pkey == NULL)
		k.pkey = raw_ed25519_seed(text, len);
	if (k.pkey == NULL)
		return *error_r = "not a PEM RSA or Ed25519 private key", -1;
	id = EVP_PKEY_get_base_id(k.pkey);
	if (id == EVP_PKEY_ED25519)
		k.type = DKIM_KEY_ED25519;
	else if (id != EVP_PKEY_RSA) {
		EVP_PKEY_free(k.pkey);
		return *error_r = "key is neither RSA nor Ed25519", -1;
	}
	k.bits = (unsigned)EVP_PKEY_get_bits(k.pkey);
	if (k.type == DKIM_KEY_RSA && k.bits < 1024) {
		EVP_PKEY_free(k.pkey);
		return *error_r = "RSA key shorter than 1024 bits", -1;
	}
	*key_r = xmemdup(&k, sizeof(k));
	return 0;
}

int
dkim_privkey_load(const char *path, struct dkim_privkey **key_r, char **error_r)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	const char *err = NULL;
	int ret;

	*key_r = NULL;
	if (f == NULL) {
		*error_r = xasprintf("%s: cannot read DKIM key: %s", path, strerror(errno));
		return -1;
	}
	text = xmalloc(DKIM_MAX_KEY_FILE + 1);
	n = fread(text, 1, DKIM_MAX_KEY_FILE + 1, f);
	if (ferror(f)) {
		*error_r = xasprintf("%s: cannot read DKIM key: %s", path, strerror(errno));
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	ret = dkim_privkey_parse(text, n, key_r, &err);
	OPENSSL_cleanse(text, DKIM_MAX_KEY_FILE + 1);
	free(text);
	if (ret < 0)
		*error_r = xasprintf("%s: %s", path, err);
	return ret;
}

void
dkim_privkey_free(struct dkim_privkey **key)
{
	if (*key == NULL)
		return;
	EVP_PKEY_free((*key)->pkey);
	free(*key);
	*key = NULL;
}

char *
dkim_privkey_public_b64(const struct dkim_privkey *key)
{
	unsigned char raw[32], *der = NULL;
	size_t n = sizeof(raw);
	char *out;
	int dlen;

	if (key->type == DKIM_KEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) != 1)
			return NULL;
		out = xmalloc(BASE64_ENCODED_LEN(n) + 1);
		out[base64_encode(raw, n, out)] = '\0';
		return out;
	}
	dlen = i2d_PUBKEY(key->pkey, &der);
	if (dlen <= 0)
		return NULL;
	out = xmalloc(BASE64_ENCODED_LEN((size_t)dlen) + 1);
	out[base64_encode(der, (size_t)dlen, out)] = '\0';
	OPENSSL_free(der);
	return out;
}

/* How often `name` (or, with `prefix`, any name starting with it) occurs */
static size_t
count_headers(const struct dkim_message *m, struct str name, bool prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_headers; i++) {
		struct str h = m->headers[i].name;

		if (prefix ? (h.len >= name.len && str_case_eq(str_slice(h, 0, name.len), name)) :
		    str_case_eq(h, name))
			n++;
	}
	return n;
}

bool
dkim_is_arc_header(struct str name)
{
	return str_case_eq_cstr(name, "ARC-Authentication-Results") ||
	    str_case_eq_cstr(name, "ARC-Message-Signature") ||
	    str_case_eq_cstr(name, "ARC-Seal");
}

static int
hlist_add(struct pool *pool, struct str *list, size_t *n, struct str name, size_t times,
    bool no_arc)
{
	char *low;

	/* An ARC-Message-Signature never covers ARC headers: they are the seal's. */
	if (no_arc && dkim_is_arc_header(name))
		return 0;
	for (; times > 0; times--) {
		if (*n == DKIM_MAX_SIGNED_HEADERS)
			return 0;
		low = str_dup_cstr(pool, name);
		if (low == NULL)
			return -1;
		for (char *p = low; *p != '\0'; p++)
			*p = ascii_tolower(*p);
		list[(*n)++] = str_make(low, name.len);
	}
	return 0;
}

/* "list-*": each distinct matching name, as often as present */
static int
hlist_add_prefix(struct pool *pool, const struct dkim_message *m, struct str prefix,
    struct str *list, size_t *n, bool no_arc)
{
	for (size_t i = 0; i < m->n_headers; i++) {
		struct str h = m->headers[i].name;
		bool dup = false;

		if (h.len < prefix.len || !str_case_eq(str_slice(h, 0, prefix.len), prefix))
			continue;
		for (size_t k = 0; k < i && !dup; k++)
			dup = str_case_eq(m->headers[k].name, h);
		if (!dup && hlist_add(pool, list, n, h, count_headers(m, h, false), no_arc) < 0)
			return -1;
	}
	return 0;
}

static int
expand_one(struct pool *pool, const struct dkim_message *m, struct str e,
    struct str *list, size_t *n, bool no_arc)
{
	bool over = false, if_present = false;
	size_t present;

	e = str_trim(e);
	if (e.len >= 3 && e.ptr[0] == '(' && e.ptr[2] == ')') {
		over = e.ptr[1] == 'o' || e.ptr[1] == 'x';
		if_present = e.ptr[1] == 'x';
		e = str_trim(str_slice(e, 3, e.len - 3));
	}
	if (e.len == 0)
		return 0;
	if (e.ptr[e.len - 1] == '*')
		return hlist_add_prefix(pool, m, str_slice(e, 0, e.len - 1), list, n, no_arc);
	present = count_headers(m, e, false);
	if (over && (present > 0 || !if_present))
		present++;
	return hlist_add(pool, list, n, e, present, no_arc);
}

int
dkim_expand_sign_headers(struct pool *pool, const struct dkim_message *m, const char *spec,
    bool no_arc, struct dkim_sig *sig)
{
	struct str s = str_from_cstr(spec);
	size_t start = 0;

	sig->headers = pool_calloc(pool, DKIM_MAX_SIGNED_HEADERS, sizeof(struct str));
	if (sig->headers == NULL)
		return -1;
	for (size_t i = 0; i <= s.len; i++) {
		if (i < s.len && s.ptr[i] != ':')
			continue;
		if (expand_one(pool, m, str_slice(s, start, i - start), sig->headers,
		    &sig->n_headers, no_arc) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

int
dkim_append_hlist(struct buf *b, const struct dkim_sig *sig)
{
	size_t col = 2;

	if (buf_append_cstr(b, "h=") < 0)
		return -1;
	for (size_t i = 0; i < sig->n_headers; i++) {
		if (col + sig->headers[i].len > 72) {
			if (buf_append_cstr(b, "\n\t ") < 0)
				return -1;
			col = 1;
		}
		if (buf_append(b, sig->headers[i].ptr, sig->headers[i].len) < 0 ||
		    (i + 1 < sig->n_headers && buf_putc(b, ':') < 0))
			return -1;
		col += sig->headers[i].len + 1;
	}
	return buf_append_cstr(b, ";\n\t");
}

int
dkim_sign_digest(const struct dkim_privkey *key, const unsigned char *dg, size_t dlen,
    unsigned char *sig, size_t *slen)
{
	int ok;

	if (key->type == DKIM_KEY_ED25519) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();

		ok = mctx != NULL &&
		    EVP_DigestSignInit(mctx, NULL, NULL, NULL, key->pkey) == 1 &&
		    EVP_DigestSign(mctx, sig, slen, dg, dlen) == 1;
		EVP_MD_CTX_free(mctx);
	} else {
		EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key->pkey, NULL);

		ok = pctx != NULL && EVP_PKEY_sign_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pctx, sig, slen, dg, dlen) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok ? 0 : -1;
}

/* The value up to "b=" (what is hashed, and the start of the result) */
static int
build_unsigned(struct buf *b, const struct dkim_sign_params *p, const struct dkim_sig *sig,
    const unsigned char *bh, size_t bhlen, uint64_t clen)
{
	char bh64[BASE64_ENCODED_LEN(64) + 1];

	bh64[base64_encode(bh, bhlen, bh64)] = '\0';
	if (buf_printf(b, "v=1; a=%s; c=%s/%s; d=%s; s=%s;\n\tt=%lld;",
	    sig->alg == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256",
	    p->hcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple",
	    p->bcanon == DKIM_CANON_RELAXED ? "relaxed" : "simple",
	    p->domain, p->selector, (long long)p->now) < 0)
		return -1;
	if (p->expire > 0 && buf_printf(b, " x=%lld;", (long long)p->now + p->expire) < 0)
		return -1;
	if (p->length_tag && buf_printf(b, " l=%llu;", (unsigned long long)clen) < 0)
		return -1;
	if (buf_append_cstr(b, "\n\t") < 0 || dkim_append_hlist(b, sig) < 0)
		return -1;
	return buf_printf(b, "bh=%s;\n\tb=", bh64);
}

int
dkim_append_b64_folded(struct buf *b, const unsigned char *sig, size_t slen)
{
	char *b64 = xmalloc(BASE64_ENCODED_LEN(slen) + 1);
	size_t n = base64_encode(sig, slen, b64);
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i += 72) {
		if (i > 0)
			ret = buf_append_cstr(b, "\n\t ");
		if (ret == 0)
			ret = buf_append(b, b64 + i, MIN(72, n - i));
	}
	free(b64);
	return ret;
}

static char *
sign_finish(struct pool *pool, struct buf *b, const struct dkim_message *m,
    const struct dkim_sig *sig, const struct dkim_privkey *key, const char **error_r)
{
	unsigned char digest[64], sigbytes[1024];
	size_t slen = sizeof(sigbytes);
	struct buf field;
	int dlen;

	buf_init(&field, 0);
	if (buf_append_cstr(&field, "DKIM-Signature: ") < 0 ||
	    buf_append(&field, b->data, b->len) < 0) {
		buf_deinit(&field);
		return *error_r = "out of memory", NULL;
	}
	dlen = dkim_header_digest(m, sig, SIZE_MAX, str_make(field.data, field.len), digest);
	buf_deinit(&field);
	if (dlen < 0 || EVP_PKEY_get_size(key->pkey) > (int)sizeof(sigbytes) ||
	    dkim_sign_digest(key, digest, (size_t)dlen, sigbytes, &slen) < 0)
		return *error_r = "signing failed", NULL;
	if (dkim_append_b64_folded(b, sigbytes, slen) < 0)
		return *error_r = "out of memory", NULL;
	return pool_strndup(pool, b->data, b->len);
}

char *
dkim_sign(struct pool *pool, const char *data, size_t len,
    const struct dkim_sign_params *p, const struct dkim_privkey *key,
    const char **error_r)
{
	struct dkim_message m;
	struct dkim_sig sig = { .length = -1 };
	unsigned char bh[64];
	uint64_t clen;
	struct buf b;
	char *ret = NULL;
	int bhlen;

	sig.alg = key->type == DKIM_KEY_ED25519 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	sig.hcanon = p->hcanon;
	sig.bcanon = p->bcanon;
	if (dkim_message_split(pool, data, len, &m) < 0 ||
	    dkim_expand_sign_headers(pool, &m, p->sign_headers != NULL ? p->sign_headers :
	    DKIM_DEFAULT_SIGN_HEADERS, false, &sig) < 0)
		return *error_r = "out of memory", NULL;
	if (sig.n_headers == 0)
		return *error_r = "no header to sign", NULL;
	bhlen = dkim_body_hash(p->bcanon, sig.alg, m.body, -1, bh, &clen);
	if (bhlen < 0)
		return *error_r = "body hash failed", NULL;
	buf_init(&b, 0);
	if (build_unsigned(&b, p, &sig, bh, (size_t)bhlen, clen) < 0)
		*error_r = "out of memory";
	else
		ret = sign_finish(pool, &b, &m, &sig, key, error_r);
	buf_deinit(&b);
	return ret;
}
