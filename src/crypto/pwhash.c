/*
 * pwhash.c - `rspamadm pw` password hashes: the encoded format, random
 * salts, verification, and the $1$ KDF (PBKDF2 whose PRF is keyed
 * BLAKE2b-512, the password being the key). The $2$ KDF is in catena.c.
 *
 * Keyed BLAKE2b comes from OpenSSL's BLAKE2BMAC; it refuses an empty key,
 * and keyed BLAKE2b with an empty key is by definition plain BLAKE2b, so
 * an empty password takes the digest path instead. Passwords longer than
 * a BLAKE2b key (64 bytes) are hashed first, as Rspamd does.
 */
#include "crypto/pwhash.h"
#include "crypto/base32.h"
#include "crypto/pwhash_internal.h"
#include "core/str.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define BLAKE2B_LEN 64

/* The PRF: out = BLAKE2b-512 keyed with the password (or unkeyed). */
struct prf {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	EVP_MD *md;
	EVP_MD_CTX *md_ctx;
	bool keyed;
};

static int
prf_init(struct prf *p, const uint8_t *key, size_t key_len)
{
	memset(p, 0, sizeof(*p));
	p->keyed = key_len > 0;
	if (!p->keyed) {
		p->md = EVP_MD_fetch(NULL, "BLAKE2B-512", NULL);
		p->md_ctx = EVP_MD_CTX_new();
		return p->md != NULL && p->md_ctx != NULL ? 0 : -1;
	}
	p->mac = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
	if (p->mac == NULL || (p->ctx = EVP_MAC_CTX_new(p->mac)) == NULL)
		return -1;
	return EVP_MAC_init(p->ctx, key, key_len, NULL) == 1 ? 0 : -1;
}

static void
prf_deinit(struct prf *p)
{
	EVP_MAC_CTX_free(p->ctx);
	EVP_MAC_free(p->mac);
	EVP_MD_CTX_free(p->md_ctx);
	EVP_MD_free(p->md);
}

static int
prf(struct prf *p, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[BLAKE2B_LEN])
{
	size_t n = 0;
	unsigned int un = 0;

	if (!p->keyed) {
		if (EVP_DigestInit_ex2(p->md_ctx, p->md, NULL) != 1 ||
		    EVP_DigestUpdate(p->md_ctx, a, alen) != 1 ||
		    (blen > 0 && EVP_DigestUpdate(p->md_ctx, b, blen) != 1) ||
		    EVP_DigestFinal_ex(p->md_ctx, out, &un) != 1)
			return -1;
		return un == BLAKE2B_LEN ? 0 : -1;
	}
	/* A NULL key re-initialises with the key given to prf_init. */
	if (EVP_MAC_init(p->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(p->ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_MAC_update(p->ctx, b, blen) != 1) ||
	    EVP_MAC_final(p->ctx, out, &n, BLAKE2B_LEN) != 1)
		return -1;
	return n == BLAKE2B_LEN ? 0 : -1;
}

/* The password as a BLAKE2b key: itself, or its digest when too long. */
static int
pbkdf2_key(const void *password, size_t len, uint8_t digest[BLAKE2B_LEN],
    const uint8_t **key_r, size_t *key_len_r)
{
	unsigned int n = 0;

	if (len <= BLAKE2B_LEN) {
		*key_r = password;
		*key_len_r = len;
		return 0;
	}
	if (EVP_Digest(password, len, digest, &n, EVP_blake2b512(), NULL) != 1 ||
	    n != BLAKE2B_LEN)
		return -1;
	*key_r = digest;
	*key_len_r = BLAKE2B_LEN;
	return 0;
}

int
pwhash_pbkdf2_blake2b(const void *password, size_t len, const uint8_t *salt,
    size_t salt_len, unsigned rounds, uint8_t *out, size_t out_len)
{
	static const uint8_t block1[4] = { 0, 0, 0, 1 };
	uint8_t digest[BLAKE2B_LEN], u[BLAKE2B_LEN], acc[BLAKE2B_LEN];
	const uint8_t *key;
	size_t key_len;
	struct prf p;
	int rc = -1;

	if (out_len > BLAKE2B_LEN || rounds == 0 ||
	    pbkdf2_key(password, len, digest, &key, &key_len) < 0)
		return -1;
	if (prf_init(&p, key, key_len) < 0)
		goto out;
	/* One output block is enough for up to 64 bytes: U1 = PRF(salt || 1). */
	if (prf(&p, salt, salt_len, block1, sizeof(block1), u) < 0)
		goto out;
	memcpy(acc, u, sizeof(acc));
	for (unsigned i = 1; i < rounds; i++) {
		if (prf(&p, u, sizeof(u), NULL, 0, u) < 0)
			goto out;
		for (size_t j = 0; j < sizeof(acc); j++)
			acc[j] ^= u[j];
	}
	memcpy(out, acc, out_len);
	rc = 0;
out:
	prf_deinit(&p);
	OPENSSL_cleanse(digest, sizeof(digest));
	OPENSSL_cleanse(u, sizeof(u));
	OPENSSL_cleanse(acc, sizeof(acc));
	return rc;
}

int
pwhash_type_parse(const char *name, enum pwhash_type *type_r)
{
	if (strcmp(name, "pbkdf2") == 0 || strcmp(name, "1") == 0)
		*type_r = PWHASH_PBKDF2;
	else if (strcmp(name, "catena") == 0 || strcmp(name, "2") == 0)
		*type_r = PWHASH_CATENA;
	else
		return -1;
	return 0;
}

int
pwhash_derive(enum pwhash_type type, const void *password, size_t len,
    const uint8_t *salt, size_t salt_len, uint8_t key_r[PWHASH_KEY_LEN])
{
	if (salt_len > 64)
		return -1;
	switch (type) {
	case PWHASH_PBKDF2:
		return pwhash_pbkdf2_blake2b(password, len, salt, salt_len,
		    PWHASH_PBKDF2_ROUNDS, key_r, PWHASH_KEY_LEN);
	case PWHASH_CATENA:
		return pwhash_catena_blake2b(password, len, salt, salt_len,
		    key_r, PWHASH_KEY_LEN);
	}
	return -1;
}

int
pwhash_make(enum pwhash_type type, const void *password, size_t len,
    char *out, size_t out_size)
{
	uint8_t salt[PWHASH_SALT_LEN], key[PWHASH_KEY_LEN];
	char salt_txt[BASE32_ENCODED_LEN(PWHASH_SALT_LEN) + 1];
	char key_txt[BASE32_ENCODED_LEN(PWHASH_KEY_LEN) + 1];
	if (out_size < PWHASH_ENCODED_MAX || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    pwhash_derive(type, password, len, salt, sizeof(salt), key) < 0)
		return -1;
	base32_encode(salt, sizeof(salt), salt_txt, sizeof(salt_txt));
	base32_encode(key, sizeof(key), key_txt, sizeof(key_txt));
	OPENSSL_cleanse(key, sizeof(key));
	return str_format(out, out_size, "$%d$%s$%s", (int)type, salt_txt, key_txt) < 0 ? -1 : 0;
}

bool
pwhash_is_hash(const char *s)
{
	size_t i = 1;

	if (s == NULL || s[0] != '$')
		return false;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return i > 1 && s[i] == '$';
}

int
pwhash_verify(const char *encoded, const void *password, size_t len)
{
	uint8_t salt[64], want[PWHASH_KEY_LEN + 1], got[PWHASH_KEY_LEN];
	const char *salt_txt, *key_txt;
	enum pwhash_type type;
	int salt_len, rc;

	if (!pwhash_is_hash(encoded) || encoded[2] != '$')
		return -1;
	if (encoded[1] == '1')
		type = PWHASH_PBKDF2;
	else if (encoded[1] == '2')
		type = PWHASH_CATENA;
	else
		return -1;
	salt_txt = encoded + 3;
	key_txt = strchr(salt_txt, '$');
	if (key_txt == NULL)
		return -1;
	salt_len = base32_decode(salt_txt, (size_t)(key_txt - salt_txt), salt, sizeof(salt));
	key_txt++;
	if (salt_len <= 0 || base32_decode(key_txt, strlen(key_txt), want,
	    sizeof(want)) != PWHASH_KEY_LEN)
		return -1;
	if (pwhash_derive(type, password, len, salt, (size_t)salt_len, got) < 0)
		return -1;
	rc = CRYPTO_memcmp(got, want, PWHASH_KEY_LEN) == 0 ? 1 : 0;
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}
