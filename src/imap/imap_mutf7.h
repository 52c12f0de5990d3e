/*
 * imap_mutf7.h - modified UTF-7 mailbox names (RFC 3501 section 5.1.3)
 * to and from UTF-8.
 *
 * Both directions are strict, so a name has exactly one spelling on the
 * wire and one on disk: decoding rejects "&" runs that are empty ("&-" is
 * the only way to write '&'), unterminated, use bits that are not zero
 * padding, encode printable ASCII, hold a lone or misordered surrogate,
 * or follow another encoded run directly ("&AGE-&AGI-" must be one run);
 * bytes outside 0x20..0x7e are rejected. Encoding rejects invalid UTF-8
 * (overlongs, surrogates, > U+10FFFF) and control characters.
 */
#ifndef IMAP_IMAP_MUTF7_H
#define IMAP_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/*
 * Appends the modified UTF-7 form of `len` bytes of UTF-8 `in` to out.
 * Returns 0, or -1 with a static *error_r (out is left as it was).
 */
int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out,
    const char **error_r);

/*
 * Appends the UTF-8 form of `len` bytes of modified UTF-7 `in` to out.
 * Returns 0, or -1 with a static *error_r (out is left as it was).
 */
int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out,
    const char **error_r);

/* Whether `in` is valid, canonical modified UTF-7. */
bool imap_mutf7_valid(const char *in, size_t len);

#endif
