/*
 * dkim_canon.c - the byte-level half of DKIM: splitting a raw message into
 * header fields and body, and the simple/relaxed canonicalizations of
 * RFC 6376 3.4 for both.
 *
 * Messages reach the scanner with CRLF or bare LF line ends (HTTP clients
 * mostly send LF); signatures are always computed over CRLF, so every line
 * end is treated as CRLF here. The body canonicalizer streams into a sink
 * so a large body is hashed without a second copy, and trailing empty
 * lines are held back as a counter until a non-empty line proves they are
 * not trailing.
 */
#include "auth/dkim.h"

#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/pool.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at `p` (index of its LF, or len) */
static size_t
line_end(const char *data, size_t len, size_t p)
{
	const char *nl = memchr(data + p, '\n', len - p);

	return nl == NULL ? len : (size_t)(nl - data);
}

/* Content length of a line without a CR before its LF */
static size_t
line_content_end(const char *data, size_t start, size_t end)
{
	if (end > start && data[end - 1] == '\r')
		return end - 1;
	return end;
}

static int
add_header(struct pool *pool, struct dkim_message *m, size_t *cap,
    const char *data, size_t start, size_t colon, size_t end)
{
	struct dkim_header *h;
	size_t nlen = colon - start;

	if (m->n_headers == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct dkim_header *n = pool_calloc(pool, ncap, sizeof(*n));

		if (n == NULL)
			return -1;
		if (m->n_headers > 0)
			memcpy(n, m->headers, m->n_headers * sizeof(*n));
		m->headers = n;
		*cap = ncap;
	}
	while (nlen > 0 && is_wsp(data[start + nlen - 1]))
		nlen--;
	h = &m->headers[m->n_headers++];
	h->name = str_make(data + start, nlen);
	h->field = str_make(data + start, end - start);
	return 0;
}

int
dkim_message_split(struct pool *pool, const char *data, size_t len,
    struct dkim_message *msg_r)
{
	size_t p = 0, cap = 0;

	memset(msg_r, 0, sizeof(*msg_r));
	if (len >= 5 && memcmp(data, "From ", 5) == 0)
		p = MIN(len, line_end(data, len, 0) + 1);
	while (p < len) {
		size_t e = line_end(data, len, p);
		size_t ce = line_content_end(data, p, e);
		const char *colon;

		if (ce == p) {  /* the empty line */
			p = MIN(len, e + 1);
			msg_r->body = str_make(data + p, len - p);
			return 0;
		}
		if (is_wsp(data[p])) {  /* continuation without a field */
			p = MIN(len, e + 1);
			continue;
		}
		colon = memchr(data + p, ':', ce - p);
		/* the field goes on while lines start with whitespace */
		while (e < len && e + 1 < len && is_wsp(data[e + 1])) {
			e = line_end(data, len, e + 1);
			ce = line_content_end(data, p, e);
		}
		if (colon != NULL && msg_r->n_headers < DKIM_MAX_HEADERS &&
		    add_header(pool, msg_r, &cap, data, p, (size_t)(colon - data), ce) < 0)
			return -1;
		p = MIN(len, e + 1);
	}
	msg_r->body = str_make(data + len, 0);
	return 0;
}

static int
canon_header_simple(struct str f, bool crlf, struct buf *out)
{
	for (size_t i = 0; i < f.len; i++) {
		if (f.ptr[i] == '\n' && (i == 0 || f.ptr[i - 1] != '\r')) {
			if (buf_append(out, "\r\n", 2) < 0)
				return -1;
		} else if (buf_putc(out, f.ptr[i]) < 0)
			return -1;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

static int
canon_header_relaxed(struct str f, bool crlf, struct buf *out)
{
	size_t i = 0, name_end;
	bool space = false, started = false;

	while (i < f.len && f.ptr[i] != ':')
		i++;
	name_end = i;
	while (name_end > 0 && is_wsp(f.ptr[name_end - 1]))
		name_end--;
	for (size_t k = 0; k < name_end; k++) {
		if (buf_putc(out, ascii_tolower(f.ptr[k])) < 0)
			return -1;
	}
	if (buf_putc(out, ':') < 0)
		return -1;
	for (i++; i < f.len; i++) {
		char c = f.ptr[i];

		if (c == '\r' || c == '\n')
			continue;  /* unfolding */
		if (is_wsp(c)) {
			space = started;
			continue;
		}
		if (space && buf_putc(out, ' ') < 0)
			return -1;
		space = false;
		started = true;
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

int
dkim_canon_header(enum dkim_canon c, struct str field, bool crlf, struct buf *out)
{
	if (c == DKIM_CANON_SIMPLE)
		return canon_header_simple(field, crlf, out);
	return canon_header_relaxed(field, crlf, out);
}

struct body_state {
	dkim_sink_fn *sink;
	void *ud;
	uint64_t empty_pending;
	uint64_t total;
};

static void
body_emit(struct body_state *st, const char *p, size_t n)
{
	st->sink(st->ud, p, n);
	st->total += n;
}

static void
body_flush_empty(struct body_state *st)
{
	for (; st->empty_pending > 0; st->empty_pending--)
		body_emit(st, "\r\n", 2);
}

/* One relaxed line: WSP runs become one SP, trailing WSP goes */
static void
body_line_relaxed(struct body_state *st, const char *p, size_t n)
{
	size_t end = n, i = 0;

	while (end > 0 && is_wsp(p[end - 1]))
		end--;
	if (end == 0) {
		st->empty_pending++;
		return;
	}
	body_flush_empty(st);
	while (i < end) {
		size_t j = i;

		if (is_wsp(p[i])) {
			while (j < end && is_wsp(p[j]))
				j++;
			body_emit(st, " ", 1);
		} else {
			while (j < end && !is_wsp(p[j]))
				j++;
			body_emit(st, p + i, j - i);
		}
		i = j;
	}
	body_emit(st, "\r\n", 2);
}

uint64_t
dkim_canon_body(enum dkim_canon c, struct str body, dkim_sink_fn *sink, void *ud)
{
	struct body_state st = { .sink = sink, .ud = ud };
	size_t p = 0;

	while (p < body.len) {
		size_t e = line_end(body.ptr, body.len, p);
		size_t ce = line_content_end(body.ptr, p, e);

		if (c == DKIM_CANON_RELAXED)
			body_line_relaxed(&st, body.ptr + p, ce - p);
		else if (ce == p)
			st.empty_pending++;
		else {
			body_flush_empty(&st);
			body_emit(&st, body.ptr + p, ce - p);
			body_emit(&st, "\r\n", 2);
		}
		p = e + 1;
	}
	/* an empty simple body is a single CRLF (RFC 6376 3.4.3) */
	if (c == DKIM_CANON_SIMPLE && st.total == 0)
		body_emit(&st, "\r\n", 2);
	return st.total;
}

struct hash_sink {
	EVP_MD_CTX *ctx;
	int64_t left;   /* -1: no limit */
	bool failed;
};

static void
hash_sink_fn(void *ud, const char *p, size_t n)
{
	struct hash_sink *hs = ud;

	if (hs->left >= 0) {
		if ((uint64_t)hs->left < n)
			n = (size_t)hs->left;
		hs->left -= (int64_t)n;
	}
	if (n > 0 && EVP_DigestUpdate(hs->ctx, p, n) != 1)
		hs->failed = true;
}

int
dkim_body_hash(enum dkim_canon c, enum dkim_alg alg, struct str body, int64_t limit,
    unsigned char out[64], uint64_t *canon_len_r)
{
	const EVP_MD *md = alg == DKIM_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
	struct hash_sink hs = { .left = limit < 0 ? -1 : limit };
	unsigned int olen = 0;
	int ret = -1;

	hs.ctx = EVP_MD_CTX_new();
	if (hs.ctx == NULL || EVP_DigestInit_ex(hs.ctx, md, NULL) != 1)
		goto out;
	*canon_len_r = dkim_canon_body(c, body, hash_sink_fn, &hs);
	if (!hs.failed && EVP_DigestFinal_ex(hs.ctx, out, &olen) == 1)
		ret = (int)olen;
out:
	EVP_MD_CTX_free(hs.ctx);
	return ret;
}
