/*
 * codec.c - base64 and quoted-printable, tuned for hostile mail.
 *
 * Mail bodies are routinely damaged: lines wrapped at odd places, stray
 * characters from broken gateways, missing padding, "=" escapes with junk
 * after them. Rejecting such input would hide the content from the
 * scanner, which is exactly what a spammer wants, so the decoders recover
 * what they can and only report that damage was seen. Both run in one pass
 * with a lookup table and never write more than the documented bound.
 */
#include "core/codec.h"
#include "core/str.h"

#include <stdint.h>
#include <string.h>

/* 0..63 for the alphabet, 64 for whitespace, 65 for '=', 66 for junk. */
#define B64_WS 64
#define B64_PAD 65
#define B64_BAD 66

static const unsigned char b64_table[256] = {
#define X8 B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD
	/* 0x00 */ B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_WS, B64_WS, B64_WS, B64_WS, B64_WS,
	B64_BAD, B64_BAD,
	/* 0x10 */ X8, X8,
	/* 0x20 */ B64_WS, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD, B64_BAD, 62, B64_BAD, B64_BAD, B64_BAD, 63,
	/* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, B64_BAD, B64_BAD,
	B64_BAD, B64_PAD, B64_BAD, B64_BAD,
	/* 0x40 */ B64_BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	/* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD,
	/* 0x60 */ B64_BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
	39, 40,
	/* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, B64_BAD, B64_BAD,
	B64_BAD, B64_BAD, B64_BAD,
	/* 0x80 */ X8, X8, X8, X8, X8, X8, X8, X8,
	/* 0xc0 */ X8, X8, X8, X8, X8, X8, X8, X8,
#undef X8
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Bytes after "=" padding are treated as the start of a new stream: some
 * mailers concatenate separately encoded chunks, and decoding them beats
 * dropping them. It is still reported as damage.
 */
size_t
base64_decode(const char *in, size_t len, unsigned char *out, bool *damaged_r)
{
	const unsigned char *p = (const unsigned char *)in;
	const unsigned char *end = p + len;
	unsigned char *o = out;
	uint32_t acc = 0;
	unsigned n = 0;
	bool damaged = false, padded = false;

	while (p < end) {
		/* Fast path: four alphabet bytes in a row at a quantum start. */
		if (n == 0 && end - p >= 4) {
			unsigned a = b64_table[p[0]], b = b64_table[p[1]];
			unsigned c = b64_table[p[2]], d = b64_table[p[3]];

			if ((a | b | c | d) < 64) {
				uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;

				o[0] = (unsigned char)(v >> 16);
				o[1] = (unsigned char)(v >> 8);
				o[2] = (unsigned char)v;
				o += 3;
				p += 4;
				continue;
			}
		}
		unsigned v = b64_table[*p++];

		if (v < 64) {
			if (padded) {
				damaged = true;
				padded = false;
			}
			acc = (acc << 6) | v;
			if (++n == 4) {
				o[0] = (unsigned char)(acc >> 16);
				o[1] = (unsigned char)(acc >> 8);
				o[2] = (unsigned char)acc;
				o += 3;
				n = 0;
				acc = 0;
			}
		} else if (v == B64_PAD) {
			if (n == 2) {
				*o++ = (unsigned char)(acc >> 4);
			} else if (n == 3) {
				*o++ = (unsigned char)(acc >> 10);
				*o++ = (unsigned char)(acc >> 2);
			} else if (n == 1) {
				damaged = true;
			}
			n = 0;
			acc = 0;
			padded = true;
		} else if (v == B64_BAD) {
			damaged = true;
		}
	}
	/* Missing padding is common and harmless; a lone sextet is not. */
	if (n == 2) {
		*o++ = (unsigned char)(acc >> 4);
	} else if (n == 3) {
		*o++ = (unsigned char)(acc >> 10);
		*o++ = (unsigned char)(acc >> 2);
	} else if (n == 1) {
		damaged = true;
	}
	if (damaged_r != NULL)
		*damaged_r = damaged;
	return (size_t)(o - out);
}

size_t
base64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	char *o = out;
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
		    p[i + 2];

		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);

		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	return (size_t)(o - out);
}

/*
 * Returns the length of a soft line break starting at the "=" at p[0]:
 * "=" followed by optional trailing blanks and then LF or CRLF, or 0.
 */
static size_t
qp_soft_break(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q = p + 1;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q < end && *q == '\n')
		return (size_t)(q + 1 - p);
	if (q + 1 < end && q[0] == '\r' && q[1] == '\n')
		return (size_t)(q + 2 - p);
	if (q == end)
		return (size_t)(q - p); /* "=" at the very end: drop it */
	return 0;
}

size_t
qp_decode(const char *in, size_t len, unsigned char *out, bool header_mode,
    bool *damaged_r)
{
	const unsigned char *p = (const unsigned char *)in;
	const unsigned char *end = p + len;
	unsigned char *o = out;
	bool damaged = false;

	while (p < end) {
		const unsigned char *eq = header_mode ? p :
		    memchr(p, '=', (size_t)(end - p));

		if (!header_mode) {
			if (eq == NULL)
				eq = end;
			memcpy(o, p, (size_t)(eq - p));
			o += eq - p;
			p = eq;
			if (p == end)
				break;
		} else if (*p != '=') {
			*o++ = *p == '_' ? ' ' : *p;
			p++;
			continue;
		}
		/* *p == '=' */
		if (end - p >= 3) {
			int hi = ascii_hex_value(p[1]), lo = ascii_hex_value(p[2]);

			if (hi >= 0 && lo >= 0) {
				*o++ = (unsigned char)(hi << 4 | lo);
				p += 3;
				continue;
			}
		}
		size_t soft = qp_soft_break(p, end);

		if (soft > 0) {
			p += soft;
			continue;
		}
		damaged = true;
		*o++ = *p++;
	}
	if (damaged_r != NULL)
		*damaged_r = damaged;
	return (size_t)(o - out);
}
