/*
 * codec.h - base64 and quoted-printable codecs.
 *
 * The decoders are for hostile mail: they never fail, skip garbage, accept
 * missing padding and broken escapes, and report through *damaged_r whether
 * anything was wrong. The output buffer is supplied by the caller and must
 * hold the *_DECODED_MAX / *_ENCODED_LEN bytes for the input length.
 */
#ifndef CORE_CODEC_H
#define CORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>

/* Upper bound of the decoded size of `n` base64 bytes. */
#define BASE64_DECODED_MAX(n) (((n) / 4 + 1) * 3)
/* Exact encoded size (no line breaks, padded) of `n` bytes, without NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Decodes base64 from `in` into `out` (room for BASE64_DECODED_MAX(len)).
 * Whitespace is skipped silently; other non-alphabet bytes, data after
 * padding and a dangling partial quantum set *damaged_r. Returns the
 * number of bytes written.
 */
size_t base64_decode(const char *in, size_t len, unsigned char *out,
    bool *damaged_r);

/* Standard alphabet with padding, no line breaks. Returns bytes written. */
size_t base64_encode(const void *in, size_t len, char *out);

/*
 * Decodes quoted-printable into `out` (room for `len` bytes). Soft line
 * breaks ("=" at end of line, CRLF or LF) are removed; bad escapes are kept
 * literally and set *damaged_r. With `header_mode`, '_' means space (the
 * RFC 2047 Q encoding). Line endings are copied as they are. Returns the
 * number of bytes written.
 */
size_t qp_decode(const char *in, size_t len, unsigned char *out,
    bool header_mode, bool *damaged_r);

#endif
