/*
 * base32.c - Rspamd-compatible base32 (see base32.h): bits are consumed
 * from the low end of each byte, so the codec is a small bit accumulator
 * rather than the usual 40-bit block loop.
 */
#include "crypto/base32.h"

static const char base32_alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

int
base32_encode(const uint8_t *in, size_t len, char *out, size_t out_size)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	if (out_size == 0)
		return -1;
	if (BASE32_ENCODED_LEN(len) + 1 > out_size) {
		out[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		acc |= (uint32_t)in[i] << bits;
		bits += 8;
		while (bits >= 5) {
			out[n++] = base32_alphabet[acc & 31];
			acc >>= 5;
			bits -= 5;
		}
	}
	if (bits > 0)
		out[n++] = base32_alphabet[acc & 31];
	out[n] = '\0';
	return (int)n;
}

static int
base32_value(char c)
{
	for (int i = 0; i < 32; i++) {
		if (base32_alphabet[i] == c)
			return i;
	}
	return -1;
}

int
base32_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = base32_value(in[i]);

		if (v < 0)
			return -1;
		acc |= (uint32_t)v << bits;
		bits += 5;
		if (bits >= 8) {
			if (n == out_size)
				return -1;
			out[n++] = (uint8_t)(acc & 0xff);
			acc >>= 8;
			bits -= 8;
		}
	}
	return (int)n;
}
