/*
 * pwhash_internal.h - the two KDFs behind pwhash.c, shared within
 * src/crypto only.
 */
#ifndef CRYPTO_PWHASH_INTERNAL_H
#define CRYPTO_PWHASH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PWHASH_PBKDF2_ROUNDS 16000
#define PWHASH_CATENA_LAMBDA 4
#define PWHASH_CATENA_GARLIC 10
#define PWHASH_CATENA_MIN_GARLIC 10

/* Both return 0, or -1 when OpenSSL failed. out_len at most 64. */
int pwhash_pbkdf2_blake2b(const void *password, size_t len, const uint8_t *salt,
    size_t salt_len, unsigned rounds, uint8_t *out, size_t out_len);
int pwhash_catena_blake2b(const void *password, size_t len, const uint8_t *salt,
    size_t salt_len, uint8_t *out, size_t out_len);

#endif
