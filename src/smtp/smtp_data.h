/*
 * smtp_data.h - the DATA phase decoder: dot-unstuffing and end-of-data
 * detection as a streaming state machine (RFC 5321 4.5.2), plus the size
 * limit.
 *
 * Only "<CRLF>.<CRLF>" ends the data (the start of the data counts as
 * following a CRLF). A bare LF is accepted as a line end of the content
 * and stored as CRLF, but a dot after a bare LF is neither unstuffed nor
 * taken as the end: treating "<LF>.<LF>" or "<LF>.<CRLF>" as the end is
 * what makes SMTP smuggling possible. Bare CRs are kept as they are.
 */
#ifndef SMTP_SMTP_DATA_H
#define SMTP_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

struct smtp_data_decoder {
	int state;
	size_t limit;     /* 0 = unlimited */
	size_t size;      /* decoded octets so far (counted past the limit) */
	bool overflow;    /* size went past limit: output stopped growing */
	bool bare_lf;     /* at least one bare LF was seen */
};

/* Ready for a new message; `limit` is the most octets kept in the output. */
void smtp_data_init(struct smtp_data_decoder *d, size_t limit);

/*
 * Decodes `len` bytes of `in`, appending the content to `out` as long as
 * the total stays within the limit (beyond, bytes are only counted).
 * Returns 1 when the end-of-data line was seen, with *used_r = bytes of
 * `in` consumed up to and including it; 0 when all of `in` was consumed
 * and more is needed; -1 if `out` refused an append (its own max).
 */
int smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len,
    struct buf *out, size_t *used_r);

#endif
