/*
 * base32.h - Rspamd's base32 flavour: the zbase32 alphabet with the bits
 * of the input taken least-significant first (a little-endian bit stream
 * cut into 5-bit groups from the low end), no padding. Password hashes
 * ($1$/$2$ salt and key) are written this way; a standard zbase32 codec
 * would produce different text for the same bytes.
 */
#ifndef CRYPTO_BASE32_H
#define CRYPTO_BASE32_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed for `len` bytes (without the NUL). */
#define BASE32_ENCODED_LEN(len) (((len) * 8 + 4) / 5)

/*
 * Writes the encoding of in[0..len) and a NUL into out. Returns the number
 * of characters, or -1 when out_size is too small (out is then "").
 */
int base32_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

/*
 * Decodes `len` characters into out. Returns the number of bytes, or -1
 * for a character outside the alphabet or when out_size is too small.
 * Trailing bits that do not fill a byte are dropped.
 */
int base32_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

#endif
