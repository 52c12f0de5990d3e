/*
 * dkim_tags.c - DKIM tag lists (RFC 6376 3.2) and the two things written
 * in them: the DKIM-Signature header and the key record in DNS.
 *
 * All input here is hostile (message headers, DNS answers), so parsing is
 * strict about syntax, bounded in tag count and h= entries, and never
 * aborts: a bad signature or record is a PERMERROR for that one
 * signature. Parsed values are copied into the caller's pool.
 */
#include "auth/dkim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/codec.h"
#include "core/pool.h"
#include "core/xmalloc.h"

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnum_(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static size_t
skip_fws(struct str t, size_t i)
{
	while (i < t.len && is_fws(t.ptr[i]))
		i++;
	return i;
}

/* Parses one "name = value" spec ending at ';' or the end; -1 on junk */
static int
parse_one_tag(struct str t, size_t *pos, struct dkim_tag *tag_r)
{
	size_t i = skip_fws(t, *pos), ns, ve;
	const char *semi;

	ns = i;
	if (i >= t.len || !is_alpha(t.ptr[i]))
		return -1;
	while (i < t.len && is_alnum_(t.ptr[i]))
		i++;
	tag_r->name = str_make(t.ptr + ns, i - ns);
	i = skip_fws(t, i);
	if (i >= t.len || t.ptr[i] != '=')
		return -1;
	i = skip_fws(t, i + 1);
	semi = memchr(t.ptr + i, ';', t.len - i);
	ve = semi == NULL ? t.len : (size_t)(semi - t.ptr);
	*pos = semi == NULL ? t.len : ve + 1;
	while (ve > i && is_fws(t.ptr[ve - 1]))
		ve--;
	for (size_t k = i; k < ve; k++) {
		unsigned char c = (unsigned char)t.ptr[k];

		/* tval is VCHAR except ';', with FWS between */
		if (c < 0x21 && !is_fws((char)c))
			return -1;
		if (c == 0x7f)
			return -1;
	}
	tag_r->value = str_make(t.ptr + i, ve - i);
	return 0;
}

int
dkim_tags_parse(struct str text, struct dkim_tag *tags, size_t max)
{
	size_t pos = 0, n = 0;

	while (skip_fws(text, pos) < text.len) {
		struct dkim_tag tag;

		if (n == max || parse_one_tag(text, &pos, &tag) < 0)
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (str_eq(tags[k].name, tag.name))
				return -1;
		}
		tags[n++] = tag;
	}
	return (int)n;
}

static const struct dkim_tag *
tag_find(const struct dkim_tag *tags, int n, const char *name)
{
	for (int i = 0; i < n; i++) {
		if (str_eq_cstr(tags[i].name, name))
			return &tags[i];
	}
	return NULL;
}

/* Decimal tag value (t=, x=, l=); -1 on junk */
static int
tag_number(const struct dkim_tag *t, int64_t *v_r)
{
	uint64_t v;

	if (t->value.len == 0 || t->value.len > 18 || str_to_u64(t->value, &v) < 0)
		return -1;
	*v_r = (int64_t)v;
	return 0;
}

/* base64 with FWS anywhere; -1 when it does not decode cleanly */
static int
tag_base64(struct pool *pool, struct str v, unsigned char **out_r, size_t *len_r)
{
	bool damaged = false;
	unsigned char *out = pool_alloc(pool, BASE64_DECODED_MAX(v.len) + 1);

	if (out == NULL)
		return -1;
	*len_r = base64_decode(v.ptr, v.len, out, &damaged);
	*out_r = out;
	return damaged ? -1 : 0;
}

static char *
lower_dup(struct pool *pool, struct str s)
{
	char *d = str_dup_cstr(pool, s);

	for (char *p = d; p != NULL && *p != '\0'; p++)
		*p = ascii_tolower(*p);
	return d;
}

static int
parse_alg(struct str v, enum dkim_alg *alg_r)
{
	if (str_case_eq_cstr(v, "rsa-sha256"))
		*alg_r = DKIM_ALG_RSA_SHA256;
	else if (str_case_eq_cstr(v, "ed25519-sha256"))
		*alg_r = DKIM_ALG_ED25519_SHA256;
	else if (str_case_eq_cstr(v, "rsa-sha1"))
		*alg_r = DKIM_ALG_RSA_SHA1;
	else
		return -1;
	return 0;
}

static int
parse_one_canon(struct str v, enum dkim_canon *c_r)
{
	if (str_case_eq_cstr(v, "simple"))
		*c_r = DKIM_CANON_SIMPLE;
	else if (str_case_eq_cstr(v, "relaxed"))
		*c_r = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

static int
parse_canon(struct str v, struct dkim_sig *sig)
{
	ptrdiff_t slash = str_find_chr(v, '/');

	sig->bcanon = DKIM_CANON_SIMPLE;
	if (slash < 0)
		return parse_one_canon(v, &sig->hcanon);
	if (parse_one_canon(str_slice(v, 0, (size_t)slash), &sig->hcanon) < 0)
		return -1;
	return parse_one_canon(str_slice(v, (size_t)slash + 1, v.len - (size_t)slash - 1),
	    &sig->bcanon);
}

/* h= into trimmed names; must list From */
static int
parse_hlist(struct pool *pool, struct str v, struct dkim_sig *sig)
{
	size_t n = 1, k = 0, start = 0;
	bool from = false;

	for (size_t i = 0; i < v.len; i++)
		n += v.ptr[i] == ':';
	if (n > DKIM_MAX_SIGNED_HEADERS)
		return -1;
	sig->headers = pool_calloc(pool, n, sizeof(struct str));
	if (sig->headers == NULL)
		return -1;
	for (size_t i = 0; i <= v.len; i++) {
		struct str name;

		if (i < v.len && v.ptr[i] != ':')
			continue;
		name = str_trim(str_slice(v, start, i - start));
		if (name.len == 0)
			return -1;
		from |= str_case_eq_cstr(name, "from");
		sig->headers[k++] = name;
		start = i + 1;
	}
	sig->n_headers = k;
	return from ? 0 : -1;
}

/* i= must be in d= or a subdomain of it */
static bool
auid_in_domain(const char *auid, const char *domain)
{
	const char *at = strrchr(auid, '@');
	size_t al, dl = strlen(domain);

	if (at == NULL)
		return false;
	at++;
	al = strlen(at);
	if (al == dl)
		return strcasecmp(at, domain) == 0;
	return al > dl && at[al - dl - 1] == '.' && strcasecmp(at + al - dl, domain) == 0;
}

static int
sig_required(struct pool *pool, const struct dkim_tag *tags, int n, struct dkim_sig *sig,
    const char **error_r)
{
	const struct dkim_tag *t;

	t = tag_find(tags, n, "v");
	if (t == NULL || !str_eq_cstr(t->value, "1"))
		return *error_r = "missing or bad v=", -1;
	t = tag_find(tags, n, "a");
	if (t == NULL || parse_alg(t->value, &sig->alg) < 0)
		return *error_r = "missing or unknown a=", -1;
	t = tag_find(tags, n, "b");
	if (t == NULL || tag_base64(pool, t->value, &sig->b, &sig->b_len) < 0 ||
	    sig->b_len == 0)
		return *error_r = "missing or bad b=", -1;
	t = tag_find(tags, n, "bh");
	if (t == NULL || t->value.len > 100)
		return *error_r = "missing or bad bh=", -1;
	{
		unsigned char *bh;

		if (tag_base64(pool, t->value, &bh, &sig->bh_len) < 0 || sig->bh_len == 0 ||
		    sig->bh_len > sizeof(sig->bh))
			return *error_r = "bad bh=", -1;
		memcpy(sig->bh, bh, sig->bh_len);
	}
	t = tag_find(tags, n, "h");
	if (t == NULL || parse_hlist(pool, t->value, sig) < 0)
		return *error_r = "missing or bad h= (From must be signed)", -1;
	return 0;
}

static int
sig_optional(struct pool *pool, const struct dkim_tag *tags, int n, struct dkim_sig *sig,
    const char **error_r)
{
	const struct dkim_tag *t;

	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if ((t = tag_find(tags, n, "c")) != NULL && parse_canon(t->value, sig) < 0)
		return *error_r = "bad c=", -1;
	if ((t = tag_find(tags, n, "q")) != NULL && !str_has_prefix_case(t->value, "dns/txt"))
		return *error_r = "unsupported q=", -1;
	if ((t = tag_find(tags, n, "l")) != NULL && tag_number(t, &sig->length) < 0)
		return *error_r = "bad l=", -1;
	if ((t = tag_find(tags, n, "t")) != NULL && tag_number(t, &sig->timestamp) < 0)
		return *error_r = "bad t=", -1;
	if ((t = tag_find(tags, n, "x")) != NULL && tag_number(t, &sig->expire) < 0)
		return *error_r = "bad x=", -1;
	if (sig->expire >= 0 && sig->timestamp >= 0 && sig->expire < sig->timestamp)
		return *error_r = "x= before t=", -1;
	if ((t = tag_find(tags, n, "i")) != NULL) {
		sig->auid = str_dup_cstr(pool, t->value);
		if (sig->auid == NULL || !auid_in_domain(sig->auid, sig->domain))
			return *error_r = "i= not within d=", -1;
	} else
		sig->auid = pool_printf(pool, "@%s", sig->domain);
	return sig->auid == NULL ? (*error_r = "out of memory", -1) : 0;
}

int
dkim_sig_parse(struct pool *pool, struct str value, struct dkim_sig *sig_r,
    const char **error_r)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *t;
	int n;

	memset(sig_r, 0, sizeof(*sig_r));
	sig_r->length = sig_r->timestamp = sig_r->expire = -1;
	n = dkim_tags_parse(value, tags, ARRAY_SIZE(tags));
	if (n < 0)
		return *error_r = "bad tag list", -1;
	/* d= and s= first, so even a broken signature reports its domain */
	t = tag_find(tags, n, "d");
	if (t != NULL && t->value.len > 0 && t->value.len < 256)
		sig_r->domain = lower_dup(pool, t->value);
	t = tag_find(tags, n, "s");
	if (t != NULL && t->value.len > 0 && t->value.len < 256)
		sig_r->selector = str_dup_cstr(pool, t->value);
	if (sig_r->domain == NULL || sig_r->selector == NULL)
		return *error_r = "missing d= or s=", -1;
	if (sig_required(pool, tags, n, sig_r, error_r) < 0)
		return -1;
	return sig_optional(pool, tags, n, sig_r, error_r);
}

/* Does the colon-separated list `v` hold `word` (case-insensitive)? */
static bool
list_has(struct str v, const char *word)
{
	size_t start = 0;

	for (size_t i = 0; i <= v.len; i++) {
		if (i < v.len && v.ptr[i] != ':')
			continue;
		if (str_case_eq_cstr(str_trim(str_slice(v, start, i - start)), word))
			return true;
		start = i + 1;
	}
	return false;
}

static EVP_PKEY *
pubkey_from_der(enum dkim_key_type type, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pk;

	if (type == DKIM_KEY_ED25519) {
		if (len != 32)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, len);
	}
	pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk == NULL) {  /* some records carry a bare PKCS#1 RSAPublicKey */
		p = der;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	}
	if (pk != NULL && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

static int
key_flags(const struct dkim_tag *tags, int n, struct dkim_key *k, const char **error_r)
{
	const struct dkim_tag *t;

	k->allow_sha1 = k->allow_sha256 = true;
	if ((t = tag_find(tags, n, "h")) != NULL) {
		k->allow_sha1 = list_has(t->value, "sha1");
		k->allow_sha256 = list_has(t->value, "sha256");
	}
	if ((t = tag_find(tags, n, "s")) != NULL && !list_has(t->value, "*") &&
	    !list_has(t->value, "email"))
		return *error_r = "key not for e-mail (s=)", -1;
	if ((t = tag_find(tags, n, "t")) != NULL) {
		k->strict = list_has(t->value, "s");
		k->testing = list_has(t->value, "y");
	}
	return 0;
}

int
dkim_key_parse(struct str record, struct dkim_key **key_r, bool *revoked_r,
    const char **error_r)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	const struct dkim_tag *t;
	struct dkim_key k = { .type = DKIM_KEY_RSA };
	unsigned char der[BASE64_DECODED_MAX(4096)];
	size_t dlen;
	bool damaged = false;
	int n;

	*key_r = NULL;
	*revoked_r = false;
	n = dkim_tags_parse(record, tags, ARRAY_SIZE(tags));
	if (n < 0)
		return *error_r = "bad key record syntax", -1;
	t = tag_find(tags, n, "v");
	if (t != NULL && (&tags[0] != t || !str_eq_cstr(t->value, "DKIM1")))
		return *error_r = "bad key record version", -1;
	if ((t = tag_find(tags, n, "k")) != NULL) {
		if (str_case_eq_cstr(t->value, "ed25519"))
			k.type = DKIM_KEY_ED25519;
		else if (!str_case_eq_cstr(t->value, "rsa"))
			return *error_r = "unknown key type k=", -1;
	}
	if (key_flags(tags, n, &k, error_r) < 0)
		return -1;
	t = tag_find(tags, n, "p");
	if (t == NULL)
		return *error_r = "no p= in key record", -1;
	if (t->value.len == 0) {
		*revoked_r = true;
		return *error_r = "key revoked", -1;
	}
	if (t->value.len > 4096)
		return *error_r = "key too long", -1;
	dlen = base64_decode(t->value.ptr, t->value.len, der, &damaged);
	if (damaged || (k.pkey = pubkey_from_der(k.type, der, dlen)) == NULL)
		return *error_r = "bad public key", -1;
	k.bits = (unsigned)EVP_PKEY_get_bits(k.pkey);
	if (k.type == DKIM_KEY_RSA && k.bits < 1024) {
		EVP_PKEY_free(k.pkey);
		return *error_r = "RSA key shorter than 1024 bits", -1;
	}
	*key_r = xmemdup(&k, sizeof(k));
	return 0;
}

void
dkim_key_free(struct dkim_key **key)
{
	if (*key == NULL)
		return;
	EVP_PKEY_free((*key)->pkey);
	free(*key);
	*key = NULL;
}
