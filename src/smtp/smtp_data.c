/*
 * smtp_data.c - the streaming DATA decoder (see smtp_data.h).
 *
 * States remember just enough of the previous bytes to survive a CRLF or
 * a "." split across reads: whether we are at the start of a line that
 * followed a real CRLF, after a leading dot, after ".\r", in the middle of
 * a line, or after a CR in the middle of a line. Ordinary bytes are copied
 * in runs (memchr-style scan) so big messages cost one append per line
 * rather than per byte.
 */
#include "smtp/smtp_data.h"
#include "core/buf.h"

#include <string.h>

enum {
	DS_LINE_START,  /* after CRLF (or at the very start) */
	DS_DOT,         /* line started with '.' */
	DS_DOT_CR,      /* ".\r" at the start of a line */
	DS_MID,         /* inside a line */
	DS_CR,          /* '\r' inside a line */
};

void
smtp_data_init(struct smtp_data_decoder *d, size_t limit)
{
	memset(d, 0, sizeof(*d));
	d->state = DS_LINE_START;
	d->limit = limit;
}

/* Content bytes: appended while within the limit, always counted. */
static int
emit(struct smtp_data_decoder *d, struct buf *out, const char *p, size_t n)
{
	size_t room;

	if (n == 0)
		return 0;
	if (d->limit != 0 && d->size + n > d->limit) {
		room = d->size < d->limit ? d->limit - d->size : 0;
		d->overflow = true;
	} else {
		room = n;
	}
	d->size += n;
	/* The stored prefix is the same however the input was split. */
	if (room > 0 && buf_append(out, p, room) < 0)
		return -1;
	return 0;
}

/* Bytes of an ordinary run starting at in[i], up to the next CR or LF. */
static size_t
run_length(const char *in, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && in[j] != '\r' && in[j] != '\n')
		j++;
	return j - i;
}

/* One step in DS_MID / DS_CR at in[*i]; updates state and *i. */
static int
step_line(struct smtp_data_decoder *d, const char *in, size_t len, size_t *i,
    struct buf *out)
{
	char ch = in[*i];
	size_t n;

	if (d->state == DS_CR) {
		if (ch == '\n') {
			(*i)++;
			d->state = DS_LINE_START;
			return emit(d, out, "\r\n", 2);
		}
		d->state = DS_MID;
		if (emit(d, out, "\r", 1) < 0)
			return -1;
		if (ch == '\r') {
			d->state = DS_CR;
			(*i)++;
		}
		return 0;
	}
	if (ch == '\r') {
		d->state = DS_CR;
		(*i)++;
		return 0;
	}
	if (ch == '\n') {
		d->bare_lf = true;
		(*i)++;
		return emit(d, out, "\r\n", 2);
	}
	n = run_length(in, len, *i);
	if (emit(d, out, in + *i, n) < 0)
		return -1;
	*i += n;
	return 0;
}

int
smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len,
    struct buf *out, size_t *used_r)
{
	size_t i = 0;

	while (i < len) {
		switch (d->state) {
		case DS_LINE_START:
			if (in[i] == '.') {
				d->state = DS_DOT;
				i++;
				continue;
			}
			d->state = DS_MID;
			break;
		case DS_DOT:
			/* The leading dot is dropped unless the line is just
			 * "." + CRLF, which is the end. */
			if (in[i] == '\r') {
				d->state = DS_DOT_CR;
				i++;
				continue;
			}
			d->state = DS_MID;
			break;
		case DS_DOT_CR:
			if (in[i] == '\n') {
				*used_r = i + 1;
				return 1;
			}
			/* ".\r" + something: the dot was stuffing, the CR
			 * is content. */
			d->state = DS_CR;
			break;
		default:
			break;
		}
		if (step_line(d, in, len, &i, out) < 0)
			return -1;
	}
	*used_r = len;
	return 0;
}
