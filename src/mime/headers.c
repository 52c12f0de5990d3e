/*
 * headers.c - RFC 5322 header blocks: split, unfold, decode, look up.
 *
 * A header block runs to the first empty line. Both CRLF and bare LF end
 * lines. Names and raw values stay views into the message; only the
 * decoded value is copied. Hostile blocks are bounded by max_headers and
 * max_header_block: past either limit no more headers are recorded and the
 * rest of the block is only scanned (memchr) for its end, so a 100 MB
 * header costs one pass and no memory. A line that is neither a header
 * nor a continuation ends the block early: better to show such text to
 * the body rules than to hide it in a header nobody reads.
 */
#include "mime/mime_internal.h"

#include <string.h>

#include "core/pool.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at p (the LF, or end), never past end. */
static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl : end;
}

/* Returns the length of the field name, or 0 when the line is no header. */
static size_t
header_name_len(const char *p, const char *eol, const char **colon_r)
{
	const char *colon = memchr(p, ':', (size_t)(eol - p));
	const char *q, *name_end;

	if (colon == NULL || colon == p)
		return 0;
	name_end = colon;
	while (name_end > p && is_wsp(name_end[-1]))
		name_end--;
	if (name_end == p)
		return 0;
	for (q = p; q < name_end; q++) {
		unsigned char c = (unsigned char)*q;

		if (c <= ' ' || c >= 127)
			return 0;
	}
	*colon_r = colon;
	return (size_t)(name_end - p);
}

char *
mime_unfold(struct pool *pool, struct str raw, size_t *len_r)
{
	char *out = pool_alloc(pool, raw.len + 1);
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < raw.len; i++) {
		char c = raw.ptr[i];

		if (c == '\r' || c == '\n')
			continue;
		out[n++] = c == '\0' ? ' ' : c;
	}
	while (n > 0 && ascii_isspace(out[n - 1]))
		n--;
	i = 0;
	while (i < n && is_wsp(out[i]))
		i++;
	out[n] = '\0';
	if (len_r != NULL)
		*len_r = n - i;
	return out + i;
}

static bool
needs_decoding(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || (c == '=' && i + 1 < len && s[i + 1] == '?'))
			return true;
	}
	return false;
}

static int
header_add(struct mime_ctx *ctx, struct mime_headers *h, struct str name,
    struct str raw, unsigned *flags_r)
{
	struct mime_header *hdr = pool_alloc(ctx->pool, sizeof(*hdr));
	size_t len;
	char *v;

	if (hdr == NULL)
		return -1;
	hdr->name = name;
	hdr->raw = raw;
	v = mime_unfold(ctx->pool, raw, &len);
	if (v == NULL)
		return -1;
	if (needs_decoding(v, len)) {
		bool had_8bit = false;

		v = mime_rfc2047_decode(ctx->pool, v, len, &len, &had_8bit);
		if (v == NULL)
			return -1;
		if (had_8bit) {
			hdr->decoded_8bit = true;
			*flags_r |= MIME_PART_8BIT_HEADERS;
		}
	}
	hdr->value = v;
	if (h->last == NULL)
		h->first = hdr;
	else
		h->last->next = hdr;
	h->last = hdr;
	h->count++;
	return 0;
}

/* Position after the next empty line at or after p, or NULL. */
static const char *
find_blank_line(const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return NULL;
		p = nl + 1;
		if (p < end && *p == '\n')
			return p + 1;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return p + 2;
	}
	return NULL;
}

/* Blank line at p? Returns its length (1 or 2) or 0. */
static size_t
blank_line_at(const char *p, const char *end)
{
	if (*p == '\n')
		return 1;
	if (*p == '\r' && end - p >= 2 && p[1] == '\n')
		return 2;
	return 0;
}

static void
skip_rest_of_block(const char *p, const char *end, struct str *body_r,
    unsigned *flags_r)
{
	size_t bl = blank_line_at(p, end);
	const char *b = bl > 0 ? p + bl : find_blank_line(p, end);

	if (b == NULL) {
		*flags_r |= MIME_PART_NO_HEADERS_END;
		b = end;
	}
	*body_r = str_make(b, (size_t)(end - b));
}

int
mime_headers_parse(struct mime_ctx *ctx, struct str in,
    struct mime_headers *h, struct str *body_r, unsigned *flags_r)
{
	const char *p = in.ptr, *end = in.ptr + in.len;
	const char *limit = in.ptr + MIN(in.len, ctx->limits->max_header_block);

	while (p < end) {
		const char *eol, *colon = NULL, *v, *vend;
		size_t bl = blank_line_at(p, end), nlen;

		if (bl > 0) {
			*body_r = str_make(p + bl, (size_t)(end - p - bl));
			return 0;
		}
		if (h->count >= ctx->limits->max_headers || p >= limit) {
			*flags_r |= MIME_PART_TRUNCATED;
			ctx->msg->flags |= MIME_MSG_HEADERS_TRUNCATED;
			skip_rest_of_block(p, end, body_r, flags_r);
			return 0;
		}
		eol = line_end(p, end);
		if (is_wsp(*p)) {
			/* Continuation without a header: junk, skip it. */
			*flags_r |= MIME_PART_BAD_HEADER_LINE;
			p = eol < end ? eol + 1 : end;
			continue;
		}
		nlen = header_name_len(p, eol, &colon);
		if (nlen == 0) {
			*flags_r |= MIME_PART_BAD_HEADER_LINE;
			*body_r = str_make(p, (size_t)(end - p));
			return 0;
		}
		/* Extend over continuation lines. */
		while (eol < end && eol + 1 < end && is_wsp(eol[1]) &&
		    eol < limit)
			eol = line_end(eol + 1, end);
		vend = eol;
		if (vend > limit) {
			vend = limit;
			*flags_r |= MIME_PART_TRUNCATED;
			ctx->msg->flags |= MIME_MSG_HEADERS_TRUNCATED;
		}
		if (vend > p && vend < end && vend[-1] == '\r')
			vend--;
		v = colon + 1;
		while (v < vend && is_wsp(*v))
			v++;
		if (v > vend)
			v = vend;
		if (header_add(ctx, h, str_make(p, nlen),
		    str_make(v, (size_t)(vend - v)), flags_r) < 0)
			return -1;
		p = eol < end ? eol + 1 : end;
	}
	*flags_r |= MIME_PART_NO_HEADERS_END;
	*body_r = str_make(end, 0);
	return 0;
}

const struct mime_header *
mime_headers_find(const struct mime_headers *h, const char *name)
{
	const struct mime_header *hdr;

	for (hdr = h->first; hdr != NULL; hdr = hdr->next) {
		if (str_case_eq_cstr(hdr->name, name))
			return hdr;
	}
	return NULL;
}

unsigned
mime_headers_count(const struct mime_headers *h, const char *name)
{
	const struct mime_header *hdr;
	unsigned n = 0;

	for (hdr = h->first; hdr != NULL; hdr = hdr->next) {
		if (str_case_eq_cstr(hdr->name, name))
			n++;
	}
	return n;
}

const char *
mime_headers_get(const struct mime_headers *h, const char *name)
{
	const struct mime_header *hdr = mime_headers_find(h, name);

	return hdr != NULL ? hdr->value : NULL;
}
