/*
 * catena.c - Catena-Butterfly-Full over BLAKE2b-512, the `$2$` password
 * hash of `rspamadm pw`, written from the description in spec/config.md
 * section 5.1 (the Catena paper's butterfly graph with full hashes in
 * every cell).
 *
 * The graph for garlic g has 2^g cells per row and 2g-1 rows per round;
 * only two rows are alive at a time, so the rows share one array of
 * 1.5 * 2^g cells and a row's cells are found through idx(), which rotates
 * the three half-row slots by `co` after each round. That is why memory
 * stays at 96 KiB for garlic 10 instead of a full row pair.
 *
 * All hashing goes through one reused EVP_MD_CTX; an OpenSSL failure is
 * remembered in the context and reported once at the end, so the graph
 * code is not cluttered with checks on every cell.
 */
#include "crypto/pwhash_internal.h"
#include "core/xmalloc.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CELL 64

struct catena {
	EVP_MD_CTX *md_ctx;
	EVP_MD *md;
	bool failed;
	uint8_t *r;       /* cells of the butterfly */
	uint64_t c;       /* cells per row: 2^g */
	uint64_t m;       /* half a row */
	unsigned g;
	unsigned co;      /* row slot rotation, see idx() */
	uint64_t rng[16]; /* xorshift1024* state for the gamma step */
	unsigned rng_p;
};

static void
hash_begin(struct catena *k)
{
	if (EVP_DigestInit_ex2(k->md_ctx, k->md, NULL) != 1)
		k->failed = true;
}

static void
hash_add(struct catena *k, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(k->md_ctx, p, n) != 1)
		k->failed = true;
}

/* out may alias one of the inputs: the digest is written only at the end. */
static void
hash_end(struct catena *k, uint8_t out[CELL])
{
	unsigned int n = CELL;

	if (EVP_DigestFinal_ex(k->md_ctx, out, &n) != 1 || n != CELL)
		k->failed = true;
}

static void
hash2(struct catena *k, const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[CELL])
{
	hash_begin(k);
	hash_add(k, a, alen);
	hash_add(k, b, blen);
	hash_end(k, out);
}

static uint8_t *
cell(struct catena *k, uint64_t i)
{
	return k->r + i * CELL;
}

/* Array index of cell j of butterfly row `row` in the current rotation. */
static uint64_t
idx(const struct catena *k, unsigned row, uint64_t j)
{
	switch ((row + k->co) % 3) {
	case 0:
		return j;
	case 1:
		return j < k->m ? j + k->c : j - k->m;
	default:
		return j + k->m;
	}
}

static uint64_t
sigma(const struct catena *k, unsigned row, uint64_t j)
{
	if (row < k->g)
		return j ^ ((uint64_t)1 << (k->g - 1 - row));
	return j ^ ((uint64_t)1 << (row - k->g + 1));
}

static uint64_t
load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
rng_next(struct catena *k)
{
	uint64_t s0 = k->rng[k->rng_p];
	uint64_t s1;

	k->rng_p = (k->rng_p + 1) & 15;
	s1 = k->rng[k->rng_p];
	s1 ^= s1 << 31;
	k->rng[k->rng_p] = s1 ^ s0 ^ (s1 >> 11) ^ (s0 >> 30);
	return k->rng[k->rng_p] * UINT64_C(1181783497276652981);
}

/* Fills the first row from x: a hash chain seeded by two tagged hashes. */
static void
flap_init(struct catena *k, const uint8_t x[CELL])
{
	static const uint8_t zero = 0, one = 1;
	uint8_t v1[CELL], v2[CELL];

	hash2(k, &zero, 1, x, CELL, v1);
	hash2(k, &one, 1, x, CELL, v2);
	hash2(k, v1, CELL, v2, CELL, cell(k, 0));
	hash2(k, cell(k, 0), CELL, v1, CELL, cell(k, 1));
	for (uint64_t i = 2; i < k->c; i++)
		hash2(k, cell(k, i - 1), CELL, cell(k, i - 2), CELL, cell(k, i));
}

/* Salt-dependent random overwrites of first-row cells. */
static void
flap_gamma(struct catena *k, const uint8_t *salt, size_t salt_len)
{
	uint8_t t1[CELL], t2[CELL];
	uint64_t rounds = (uint64_t)1 << ((3 * k->g + 3) / 4);

	hash2(k, salt, salt_len, NULL, 0, t1);
	hash2(k, t1, CELL, NULL, 0, t2);
	for (int i = 0; i < 8; i++) {
		k->rng[i] = load_le64(t1 + i * 8);
		k->rng[i + 8] = load_le64(t2 + i * 8);
	}
	k->rng_p = 0;
	for (uint64_t i = 0; i < rounds; i++) {
		uint64_t j = rng_next(k) >> (64 - k->g);
		uint64_t j2 = rng_next(k) >> (64 - k->g);

		hash2(k, cell(k, j), CELL, cell(k, j2), CELL, cell(k, j));
	}
}

static void
xor_cells(uint8_t out[CELL], const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < CELL; i++)
		out[i] = a[i] ^ b[i];
}

/* One row of the butterfly from the previous one. */
static void
butterfly_row(struct catena *k, unsigned row)
{
	static const uint8_t zero = 0;
	unsigned p = row - 1;
	uint8_t tmp[CELL], inner[CELL];

	xor_cells(tmp, cell(k, idx(k, p, k->c - 1)), cell(k, idx(k, p, 0)));
	hash2(k, tmp, CELL, cell(k, idx(k, p, sigma(k, p, 0))), CELL, inner);
	hash2(k, &zero, 1, inner, CELL, cell(k, idx(k, row, 0)));
	for (uint64_t j = 1; j < k->c; j++) {
		xor_cells(tmp, cell(k, idx(k, row, j - 1)), cell(k, idx(k, p, j)));
		hash2(k, tmp, CELL, cell(k, idx(k, p, sigma(k, p, j))), CELL,
		    cell(k, idx(k, row, j)));
	}
}

/* x = Flap(x, garlic g). */
static void
flap(struct catena *k, unsigned g, uint8_t x[CELL], const uint8_t *salt, size_t salt_len)
{
	k->g = g;
	k->c = (uint64_t)1 << g;
	k->m = k->c >> 1;
	k->co = 0;
	flap_init(k, x);
	flap_gamma(k, salt, salt_len);
	for (unsigned round = 0; round < PWHASH_CATENA_LAMBDA; round++) {
		for (unsigned row = 1; row < 2 * g; row++)
			butterfly_row(k, row);
		k->co = (k->co + 2 * g - 1) % 3;
	}
	memcpy(x, cell(k, idx(k, 0, k->c - 1)), CELL);
}

/* x = H(H(version), tweak, H(associated data "rspamd"), password, salt). */
static void
catena_start(struct catena *k, const void *password, size_t len, const uint8_t *salt,
    size_t salt_len, size_t out_len, uint8_t x[CELL])
{
	static const char version[] = "Butterfly-Full", ad[] = "rspamd";
	uint8_t hv[CELL], hd[CELL];
	uint8_t tweak[4] = { 0, PWHASH_CATENA_LAMBDA, (uint8_t)out_len, (uint8_t)salt_len };

	hash2(k, version, sizeof(version) - 1, NULL, 0, hv);
	hash2(k, ad, sizeof(ad) - 1, NULL, 0, hd);
	hash_begin(k);
	hash_add(k, hv, CELL);
	hash_add(k, tweak, sizeof(tweak));
	hash_add(k, hd, CELL);
	hash_add(k, password, len);
	hash_add(k, salt, salt_len);
	hash_end(k, x);
}

int
pwhash_catena_blake2b(const void *password, size_t len, const uint8_t *salt,
    size_t salt_len, uint8_t *out, size_t out_len)
{
	struct catena k;
	uint8_t x[CELL];
	uint64_t max_cells = ((uint64_t)1 << PWHASH_CATENA_GARLIC) * 3 / 2;

	if (out_len == 0 || out_len > CELL || salt_len > 255)
		return -1;
	memset(&k, 0, sizeof(k));
	k.md = EVP_MD_fetch(NULL, "BLAKE2B-512", NULL);
	k.md_ctx = EVP_MD_CTX_new();
	if (k.md == NULL || k.md_ctx == NULL) {
		EVP_MD_free(k.md);
		EVP_MD_CTX_free(k.md_ctx);
		return -1;
	}
	k.r = xmalloc(max_cells * CELL);
	catena_start(&k, password, len, salt, salt_len, out_len, x);
	flap(&k, (PWHASH_CATENA_MIN_GARLIC + 1) / 2, x, salt, salt_len);
	for (unsigned g = PWHASH_CATENA_MIN_GARLIC; g <= PWHASH_CATENA_GARLIC; g++) {
		uint8_t gb = (uint8_t)g;

		flap(&k, g, x, salt, salt_len);
		hash2(&k, &gb, 1, x, CELL, x);
		memset(x + out_len, 0, CELL - out_len);
	}
	memcpy(out, x, out_len);
	OPENSSL_cleanse(x, sizeof(x));
	OPENSSL_cleanse(k.r, max_cells * CELL);
	free(k.r);
	EVP_MD_CTX_free(k.md_ctx);
	EVP_MD_free(k.md);
	return k.failed ? -1 : 0;
}
