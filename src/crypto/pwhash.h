/*
 * pwhash.h - password hashes in the format of `rspamadm pw`
 * (spec/config.md section 5.1): "$<id>$<salt>$<key>", salt and key in
 * Rspamd's base32 (crypto/base32.h).
 *
 *   $1$  PBKDF2 (16000 iterations) with keyed BLAKE2b-512 as the PRF
 *   $2$  Catena-Butterfly-Full over BLAKE2b-512 (lambda 4, garlic 10), the
 *        default
 *
 * Both derive 32 bytes from the password and a 20-byte random salt. Costs
 * are fixed by the format (the encoded string does not carry them), so a
 * hash made here verifies in Rspamd and the other way round. Derivation
 * costs milliseconds to tens of milliseconds: callers that verify often
 * (the controller) cache the outcome.
 */
#ifndef CRYPTO_PWHASH_H
#define CRYPTO_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pwhash_type {
	PWHASH_PBKDF2 = 1,
	PWHASH_CATENA = 2,
};

#define PWHASH_SALT_LEN 20
#define PWHASH_KEY_LEN 32
/* "$2$" + 32 + "$" + 52 + NUL, with room to spare. */
#define PWHASH_ENCODED_MAX 128

/* "pbkdf2" / "1" and "catena" / "2". Returns 0, or -1 for another name. */
int pwhash_type_parse(const char *name, enum pwhash_type *type_r);

/*
 * Derives PWHASH_KEY_LEN bytes into key_r. The password is binary (len
 * bytes); salt_len at most 64. Returns 0, or -1 if OpenSSL failed.
 */
int pwhash_derive(enum pwhash_type type, const void *password, size_t len,
    const uint8_t *salt, size_t salt_len, uint8_t key_r[PWHASH_KEY_LEN]);

/*
 * Hashes `password` with a fresh random salt and writes the encoded form
 * ("$2$...$...") into out. Returns 0, or -1 (RNG/OpenSSL failure or
 * out_size < PWHASH_ENCODED_MAX).
 */
int pwhash_make(enum pwhash_type type, const void *password, size_t len,
    char *out, size_t out_size);

/*
 * True when `s` has the shape of a hash ("$<digits>$..."): such config
 * values are verified with the KDF, anything else is a plaintext password.
 */
bool pwhash_is_hash(const char *s);

/*
 * Checks `password` against the encoded hash. The final comparison is
 * constant-time. Returns 1 on a match, 0 on a mismatch, -1 when `encoded`
 * is malformed or names an unknown algorithm (or OpenSSL failed).
 */
int pwhash_verify(const char *encoded, const void *password, size_t len);

#endif
