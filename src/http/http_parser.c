/*
 * http_parser.c - incremental HTTP/1.x request/response parser.
 *
 * The parser is a byte-driven state machine with no I/O. The head (start
 * line and headers) is copied into one buffer capped at max_header_bytes
 * and validated line by line as each LF arrives, so garbage is rejected on
 * its first line and an endless header is cut off at the cap instead of
 * being buffered. Header positions are kept as offsets while the head
 * buffer may still move (realloc) and turned into `struct str` views only
 * when the head is complete. The body is decoded (de-chunked) into a
 * second buffer capped at max_body.
 *
 * Smuggling-relevant choices are strict on purpose (see http_parser.h):
 * Content-Length with Transfer-Encoding, differing Content-Lengths,
 * whitespace before a colon and obs-fold are all rejected rather than
 * guessed at, because a proxy in front of us might guess differently.
 */
#include "http/http_parser.h"
#include "core/str.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define MAX_LEADING_EMPTY_LINES 8
#define MAX_CHUNK_LINE 4096

enum parse_state {
	PS_HEAD,
	PS_BODY_LEN,
	PS_CHUNK_SIZE,
	PS_CHUNK_DATA,
	PS_CHUNK_CRLF,
	PS_TRAILER,
	PS_BODY_EOF,
	PS_DONE,
	PS_ERROR,
};

struct span {
	size_t off, len;
};

struct hdr_span {
	struct span name, value;
};

struct http_parser {
	bool response;
	struct http_limits lim;
	enum parse_state state;
	bool in_progress;
	bool no_body_next;

	struct buf head;
	size_t line_start;      /* offset of the current line in head */
	bool got_start;         /* start line parsed */
	bool start_sp_seen;     /* first SP of the start line arrived */
	unsigned empty_lines;   /* skipped before the start line */
	struct span method, target, reason;
	struct hdr_span *hs;
	unsigned n_hs, cap_hs;

	struct buf body;
	struct buf line;        /* chunk-size and trailer lines */
	uint64_t remaining;     /* bytes left of the body or current chunk */
	bool crlf_cr;           /* PS_CHUNK_CRLF: CR seen */
	size_t trailer_bytes;

	struct http_message msg;
	struct http_header *headers;
	unsigned cap_headers;

	int err_status;
	const char *err_text;
};

static bool
is_tchar(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return true;
	if (c >= 'A' && c <= 'Z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
fail(struct http_parser *p, int status, const char *text)
{
	p->state = PS_ERROR;
	p->err_status = status;
	p->err_text = text;
	return -1;
}

static struct str
span_str(const struct http_parser *p, struct span s)
{
	if (s.len == 0)
		return str_make(p->head.data != NULL ? p->head.data + s.off : "", 0);
	return str_make(p->head.data + s.off, s.len);
}

struct http_parser *
http_parser_new(bool response, const struct http_limits *limits)
{
	struct http_parser *p = xcalloc(1, sizeof(*p));

	p->response = response;
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_header_bytes == 0)
		p->lim.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	if (p->lim.max_headers == 0)
		p->lim.max_headers = HTTP_DEFAULT_MAX_HEADERS;
	if (p->lim.max_body == 0)
		p->lim.max_body = HTTP_DEFAULT_MAX_BODY;
	if (p->lim.max_line == 0)
		p->lim.max_line = HTTP_DEFAULT_MAX_LINE;
	if (p->lim.max_line > p->lim.max_header_bytes)
		p->lim.max_line = p->lim.max_header_bytes;
	buf_init(&p->head, p->lim.max_header_bytes);
	buf_init(&p->body, p->lim.max_body);
	buf_init(&p->line, MAX_CHUNK_LINE);
	http_parser_reset(p);
	return p;
}

void
http_parser_free(struct http_parser **pp)
{
	struct http_parser *p = *pp;

	if (p == NULL)
		return;
	buf_deinit(&p->head);
	buf_deinit(&p->body);
	buf_deinit(&p->line);
	free(p->hs);
	free(p->headers);
	free(p);
	*pp = NULL;
}

void
http_parser_reset(struct http_parser *p)
{
	/* Large buffers from a big message are not kept for the next one. */
	if (p->body.cap > 1024 * 1024)
		buf_deinit(&p->body);
	buf_reset(&p->head);
	buf_reset(&p->body);
	buf_reset(&p->line);
	p->state = PS_HEAD;
	p->in_progress = false;
	p->line_start = 0;
	p->got_start = false;
	p->start_sp_seen = false;
	p->empty_lines = 0;
	p->method = p->target = p->reason = (struct span){ 0, 0 };
	p->n_hs = 0;
	p->remaining = 0;
	p->crlf_cr = false;
	p->trailer_bytes = 0;
	memset(&p->msg, 0, sizeof(p->msg));
	p->err_status = 0;
	p->err_text = NULL;
}

void
http_parser_set_no_body(struct http_parser *p)
{
	p->no_body_next = true;
}

bool
http_parser_head_done(const struct http_parser *p)
{
	return p->state != PS_HEAD && p->state != PS_ERROR;
}

bool
http_parser_in_progress(const struct http_parser *p)
{
	return p->in_progress;
}

const struct http_message *
http_parser_message(const struct http_parser *p)
{
	return &p->msg;
}

/* "HTTP/1.x" -> minor; -2 for a well-formed other major, -1 for junk. */
static int
parse_version(struct str v)
{
	if (v.len != 8 || memcmp(v.ptr, "HTTP/", 5) != 0 || v.ptr[6] != '.')
		return -1;
	if (v.ptr[5] < '0' || v.ptr[5] > '9' || v.ptr[7] < '0' || v.ptr[7] > '9')
		return -1;
	if (v.ptr[5] != '1')
		return -2;
	return v.ptr[7] - '0';
}

static struct span
sub_span(const struct http_parser *p, const char *ptr, size_t len)
{
	return (struct span){ (size_t)(ptr - p->head.data), len };
}

static int
parse_legacy_line(struct http_parser *p, struct str method, struct str proto)
{
	if (!str_has_prefix_case(proto, "RSPAMC/1.") || proto.len != 10 ||
	    proto.ptr[9] < '0' || proto.ptr[9] > '9')
		return fail(p, 400, "bad request line");
	p->msg.legacy_rspamc = true;
	p->msg.legacy_minor = proto.ptr[9] - '0';
	p->msg.version_minor = 0;
	p->method = sub_span(p, method.ptr, method.len);
	p->target = (struct span){ method.ptr - p->head.data, 0 };
	return 0;
}

static bool
target_ok(struct str t)
{
	size_t i;

	if (t.len == 0)
		return false;
	for (i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.ptr[i];

		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

static int
parse_request_line(struct http_parser *p, struct str line)
{
	ptrdiff_t sp1, sp2;
	struct str method, rest, target, version;
	int minor;
	size_t i;

	sp1 = str_find_chr(line, ' ');
	if (sp1 <= 0)
		return fail(p, 400, "bad request line");
	method = str_slice(line, 0, (size_t)sp1);
	for (i = 0; i < method.len; i++)
		if (!is_tchar((unsigned char)method.ptr[i]))
			return fail(p, 400, "bad request method");
	rest = str_slice(line, (size_t)sp1 + 1, line.len - (size_t)sp1 - 1);
	sp2 = str_find_chr(rest, ' ');
	if (sp2 < 0)
		return parse_legacy_line(p, method, rest);
	target = str_slice(rest, 0, (size_t)sp2);
	version = str_slice(rest, (size_t)sp2 + 1, rest.len - (size_t)sp2 - 1);
	if (!target_ok(target))
		return fail(p, 400, "bad request target");
	minor = parse_version(version);
	if (minor == -2)
		return fail(p, 505, "HTTP version not supported");
	if (minor < 0)
		return fail(p, 400, "bad request line");
	p->msg.version_minor = minor;
	p->method = sub_span(p, method.ptr, method.len);
	p->target = sub_span(p, target.ptr, target.len);
	return 0;
}

static int
parse_status_line(struct http_parser *p, struct str line)
{
	struct str version, code, reason = STR_NULL;
	int minor;

	if (line.len < 12 || line.ptr[8] != ' ')
		return fail(p, 400, "bad status line");
	version = str_slice(line, 0, 8);
	code = str_slice(line, 9, 3);
	if (line.len > 12) {
		if (line.ptr[12] != ' ')
			return fail(p, 400, "bad status line");
		reason = str_slice(line, 13, line.len - 13);
	}
	minor = parse_version(version);
	if (minor == -2)
		return fail(p, 505, "HTTP version not supported");
	if (minor < 0)
		return fail(p, 400, "bad status line");
	if (code.ptr[0] < '1' || code.ptr[0] > '5' ||
	    code.ptr[1] < '0' || code.ptr[1] > '9' ||
	    code.ptr[2] < '0' || code.ptr[2] > '9')
		return fail(p, 400, "bad status code");
	p->msg.version_minor = minor;
	p->msg.status = (code.ptr[0] - '0') * 100 + (code.ptr[1] - '0') * 10 +
	    (code.ptr[2] - '0');
	if (reason.len > 0)
		p->reason = sub_span(p, reason.ptr, reason.len);
	return 0;
}

static int
add_header_line(struct http_parser *p, struct str line)
{
	ptrdiff_t colon;
	struct str name, value;
	size_t i;

	if (line.ptr[0] == ' ' || line.ptr[0] == '\t')
		return fail(p, 400, "obsolete header folding");
	colon = str_find_chr(line, ':');
	if (colon <= 0)
		return fail(p, 400, "header without colon");
	name = str_slice(line, 0, (size_t)colon);
	for (i = 0; i < name.len; i++)
		if (!is_tchar((unsigned char)name.ptr[i]))
			return fail(p, 400, "bad header name");
	if (p->n_hs >= p->lim.max_headers)
		return fail(p, 431, "too many headers");
	value = str_slice(line, (size_t)colon + 1, line.len - (size_t)colon - 1);
	while (value.len > 0 && (value.ptr[0] == ' ' || value.ptr[0] == '\t')) {
		value.ptr++;
		value.len--;
	}
	while (value.len > 0 && (value.ptr[value.len - 1] == ' ' ||
	    value.ptr[value.len - 1] == '\t'))
		value.len--;
	if (p->n_hs == p->cap_hs) {
		p->cap_hs = p->cap_hs ? p->cap_hs * 2 : 16;
		p->hs = xrealloc(p->hs, p->cap_hs * sizeof(*p->hs));
	}
	p->hs[p->n_hs].name = sub_span(p, name.ptr, name.len);
	p->hs[p->n_hs].value = value.len ? sub_span(p, value.ptr, value.len) :
	    (struct span){ (size_t)(name.ptr - p->head.data), 0 };
	p->n_hs++;
	return 0;
}

static int finish_head(struct http_parser *p);

/* One complete head line (LF and a final CR removed). */
static int
process_head_line(struct http_parser *p, struct str line)
{
	if (memchr(line.ptr, '\0', line.len) != NULL)
		return fail(p, 400, "NUL in header");
	if (memchr(line.ptr, '\r', line.len) != NULL)
		return fail(p, 400, "bare CR in header");
	if (!p->got_start) {
		if (line.len == 0) {
			if (++p->empty_lines > MAX_LEADING_EMPTY_LINES)
				return fail(p, 400, "too many empty lines");
			return 0;
		}
		p->got_start = true;
		return p->response ? parse_status_line(p, line) :
		    parse_request_line(p, line);
	}
	if (line.len == 0)
		return finish_head(p);
	return add_header_line(p, line);
}

/* Early junk detection on a start line still arriving. */
static int
check_start_prefix(struct http_parser *p, const char *data, size_t n)
{
	size_t i, have;

	if (p->response) {
		have = p->head.len - p->line_start;
		for (i = 0; i < n && have + i < 5; i++)
			if (data[i] != "HTTP/"[have + i] &&
			    !(have + i == 0 && (data[i] == '\r' || data[i] == '\n')))
				return fail(p, 400, "bad status line");
		return 0;
	}
	for (i = 0; i < n && !p->start_sp_seen; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == ' ')
			p->start_sp_seen = true;
		else if (c != '\r' && c != '\n' && !is_tchar(c))
			return fail(p, 400, "bad request line");
	}
	return 0;
}

static int
step_head(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	const char *nl;
	size_t take, line_len, cur = p->head.len - p->line_start;
	struct str line;

	/* Look at most one byte past the start-line limit, so the verdict
	 * (400 junk vs 414 too long) does not depend on how input is split. */
	if (!p->got_start && len > p->lim.max_line + 3 - cur)
		len = p->lim.max_line + 3 - cur;
	nl = memchr(data, '\n', len);
	take = nl != NULL ? (size_t)(nl - data) + 1 : len;
	line_len = cur + take;
	*used_r = take;
	if (!p->got_start && check_start_prefix(p, data, take) < 0)
		return -1;
	if (!p->got_start && line_len > p->lim.max_line + 2)
		return fail(p, 414, "start line too long");
	if (buf_append(&p->head, data, take) < 0)
		return fail(p, 431, "request header too large");
	if (nl == NULL)
		return 0;
	line = str_make(p->head.data + p->line_start,
	    p->head.len - p->line_start - 1);
	if (line.len > 0 && line.ptr[line.len - 1] == '\r')
		line.len--;
	p->line_start = p->head.len;
	if (!p->got_start && line.len == 0)
		p->start_sp_seen = false;
	return process_head_line(p, line);
}

/* Walks a comma-separated header list; returns false at the end. */
static bool
list_next(struct str *rest, struct str *item_r)
{
	ptrdiff_t comma;

	while (rest->len > 0) {
		comma = str_find_chr(*rest, ',');
		if (comma < 0) {
			*item_r = str_trim(*rest);
			*rest = str_slice(*rest, rest->len, 0);
		} else {
			*item_r = str_trim(str_slice(*rest, 0, (size_t)comma));
			*rest = str_slice(*rest, (size_t)comma + 1,
			    rest->len - (size_t)comma - 1);
		}
		if (item_r->len > 0)
			return true;
	}
	return false;
}

static void
build_headers(struct http_parser *p)
{
	unsigned i;

	if (p->n_hs > p->cap_headers) {
		p->cap_headers = p->n_hs;
		p->headers = xrealloc(p->headers,
		    p->cap_headers * sizeof(*p->headers));
	}
	for (i = 0; i < p->n_hs; i++) {
		p->headers[i].name = span_str(p, p->hs[i].name);
		p->headers[i].value = span_str(p, p->hs[i].value);
	}
	p->msg.headers = p->n_hs ? p->headers : NULL;
	p->msg.n_headers = p->n_hs;
}

static void
split_target(struct http_parser *p)
{
	struct str t = span_str(p, p->target);
	ptrdiff_t q, slash;

	/* absolute-form: drop scheme and authority */
	if (str_has_prefix_case(t, "http://") || str_has_prefix_case(t, "https://")) {
		size_t skip = t.ptr[4] == ':' ? 7 : 8;
		struct str auth = str_slice(t, skip, t.len - skip);

		slash = str_find_chr(auth, '/');
		q = str_find_chr(auth, '?');
		if (slash < 0 || (q >= 0 && q < slash))
			t = STR_LIT("/");
		else
			t = str_slice(auth, (size_t)slash, auth.len - (size_t)slash);
	}
	q = str_find_chr(t, '?');
	if (q < 0) {
		p->msg.path = t;
		p->msg.query = str_make(t.ptr + t.len, 0);
	} else {
		p->msg.path = str_slice(t, 0, (size_t)q);
		p->msg.query = str_slice(t, (size_t)q + 1, t.len - (size_t)q - 1);
	}
}

static void
set_connection_flags(struct http_parser *p)
{
	const struct http_header *h = NULL;
	bool close = false, ka = false;
	struct str rest, item;

	while ((h = http_message_header_next(&p->msg, h, "Connection")) != NULL) {
		rest = h->value;
		while (list_next(&rest, &item)) {
			if (str_case_eq_cstr(item, "close"))
				close = true;
			else if (str_case_eq_cstr(item, "keep-alive"))
				ka = true;
		}
	}
	if (p->msg.legacy_rspamc || close)
		p->msg.keep_alive = false;
	else if (p->msg.version_minor >= 1)
		p->msg.keep_alive = true;
	else
		p->msg.keep_alive = ka;
	h = http_message_header(&p->msg, "Expect");
	p->msg.expect_continue = !p->response && h != NULL &&
	    p->msg.version_minor >= 1 && str_case_eq_cstr(h->value, "100-continue");
}

/* Transfer-Encoding: 1 = chunked, 0 = absent, -1 = error (set). */
static int
parse_transfer_encoding(struct http_parser *p)
{
	const struct http_header *h = NULL;
	struct str rest, item;
	unsigned n_chunked = 0, n_items = 0;
	bool last_chunked = false;

	while ((h = http_message_header_next(&p->msg, h, "Transfer-Encoding")) != NULL) {
		rest = h->value;
		while (list_next(&rest, &item)) {
			n_items++;
			last_chunked = str_case_eq_cstr(item, "chunked");
			if (last_chunked)
				n_chunked++;
			else if (!str_case_eq_cstr(item, "identity"))
				return fail(p, 501, "unsupported transfer coding");
		}
	}
	if (h == NULL && n_items == 0) {
		if (http_message_header(&p->msg, "Transfer-Encoding") != NULL)
			return fail(p, 400, "empty Transfer-Encoding");
		return 0;
	}
	if (n_chunked != 1 || !last_chunked)
		return fail(p, 400, "bad Transfer-Encoding");
	return 1;
}

/* Content-Length: 1 = present (*len_r), 0 = absent, -1 = error (set). */
static int
parse_content_length(struct http_parser *p, uint64_t *len_r)
{
	const struct http_header *h = NULL;
	uint64_t v;
	bool have = false;

	while ((h = http_message_header_next(&p->msg, h, "Content-Length")) != NULL) {
		if (str_to_u64(h->value, &v) < 0)
			return fail(p, 400, "bad Content-Length");
		if (have && v != *len_r)
			return fail(p, 400, "conflicting Content-Length");
		*len_r = v;
		have = true;
	}
	return have ? 1 : 0;
}

static int
finish_message(struct http_parser *p)
{
	p->msg.body = p->body.len > 0 ? p->body.data : NULL;
	p->msg.body_len = p->body.len;
	p->state = PS_DONE;
	return 1;
}

static bool
response_has_no_body(const struct http_parser *p)
{
	int s = p->msg.status;

	/*
	 * RFC 9110 gives 204 no body, but Rspamd answers "204 ... learn
	 * conditions denied" with a JSON body and a Content-Length, and its
	 * clients print that body: honour an explicit length on 204.
	 */
	if (s == 204)
		return p->no_body_next || http_message_header(&p->msg, "Content-Length") == NULL;
	return p->no_body_next || (s >= 100 && s < 200) || s == 304;
}

static int
finish_head(struct http_parser *p)
{
	uint64_t clen = 0;
	int te, cl;

	build_headers(p);
	if (!p->response) {
		p->msg.method = span_str(p, p->method);
		split_target(p);
	} else {
		p->msg.reason = span_str(p, p->reason);
	}
	set_connection_flags(p);
	if ((te = parse_transfer_encoding(p)) < 0)
		return -1;
	if ((cl = parse_content_length(p, &clen)) < 0)
		return -1;
	if (te > 0 && cl > 0)
		return fail(p, 400, "both Content-Length and Transfer-Encoding");
	if (p->response && response_has_no_body(p))
		return finish_message(p);
	p->msg.chunked = te > 0;
	if (te > 0) {
		p->state = PS_CHUNK_SIZE;
		return 0;
	}
	if (cl > 0) {
		if (clen > p->lim.max_body)
			return fail(p, 413, "body too large");
		if (clen == 0)
			return finish_message(p);
		p->remaining = clen;
		p->state = PS_BODY_LEN;
		return 0;
	}
	if (p->response) {
		p->state = PS_BODY_EOF;
		return 0;
	}
	return finish_message(p);
}

static int
append_body(struct http_parser *p, const char *data, size_t n)
{
	if (buf_append(&p->body, data, n) < 0)
		return fail(p, 413, "body too large");
	return 0;
}

static int
step_body_len(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	size_t take = p->remaining < len ? (size_t)p->remaining : len;

	*used_r = take;
	if (append_body(p, data, take) < 0)
		return -1;
	p->remaining -= take;
	return p->remaining == 0 ? finish_message(p) : 0;
}

/* A complete chunk-size line: hex [BWS] [; extensions]. */
static int
parse_chunk_size(struct http_parser *p, struct str line)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < line.len; i++) {
		char c = line.ptr[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX >> 4))
			return fail(p, 413, "chunk size overflow");
		v = (v << 4) | d;
	}
	if (i == 0)
		return fail(p, 400, "bad chunk size");
	while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
		i++;
	if (i < line.len && line.ptr[i] != ';')
		return fail(p, 400, "bad chunk size");
	if (memchr(line.ptr, '\0', line.len) != NULL)
		return fail(p, 400, "NUL in chunk extension");
	if (v > p->lim.max_body - p->body.len)
		return fail(p, 413, "body too large");
	p->remaining = v;
	p->state = v == 0 ? PS_TRAILER : PS_CHUNK_DATA;
	return 0;
}

/* Collects one LF-terminated line into p->line; 1 when complete. */
static int
collect_line(struct http_parser *p, const char *data, size_t len,
    size_t *used_r, struct str *line_r)
{
	const char *nl = memchr(data, '\n', len);
	size_t take = nl != NULL ? (size_t)(nl - data) + 1 : len;

	*used_r = take;
	if (buf_append(&p->line, data, take) < 0)
		return fail(p, 400, "chunk line too long");
	if (nl == NULL)
		return 0;
	*line_r = str_make(p->line.data, p->line.len - 1);
	if (line_r->len > 0 && line_r->ptr[line_r->len - 1] == '\r')
		line_r->len--;
	return 1;
}

static int
step_chunk_size(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	struct str line;
	int ret = collect_line(p, data, len, used_r, &line);

	if (ret <= 0)
		return ret;
	ret = parse_chunk_size(p, line);
	buf_reset(&p->line);
	return ret;
}

static int
step_chunk_data(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	size_t take = p->remaining < len ? (size_t)p->remaining : len;

	*used_r = take;
	if (append_body(p, data, take) < 0)
		return -1;
	p->remaining -= take;
	if (p->remaining == 0) {
		p->state = PS_CHUNK_CRLF;
		p->crlf_cr = false;
	}
	return 0;
}

static int
step_chunk_crlf(struct http_parser *p, const char *data, size_t *used_r)
{
	*used_r = 1;
	if (data[0] == '\r' && !p->crlf_cr) {
		p->crlf_cr = true;
		return 0;
	}
	if (data[0] != '\n')
		return fail(p, 400, "missing CRLF after chunk");
	p->state = PS_CHUNK_SIZE;
	return 0;
}

static int
step_trailer(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	struct str line;
	int ret = collect_line(p, data, len, used_r, &line);

	p->trailer_bytes += *used_r;
	if (ret < 0 || p->trailer_bytes > p->lim.max_header_bytes)
		return fail(p, 431, "trailer too large");
	if (ret == 0)
		return 0;
	if (line.len == 0) {
		buf_reset(&p->line);
		return finish_message(p);
	}
	if (memchr(line.ptr, '\0', line.len) != NULL ||
	    str_find_chr(line, ':') <= 0)
		return fail(p, 400, "bad trailer");
	buf_reset(&p->line);
	return 0; /* trailers are validated and dropped */
}

static int
step(struct http_parser *p, const char *data, size_t len, size_t *used_r)
{
	switch (p->state) {
	case PS_HEAD:
		return step_head(p, data, len, used_r);
	case PS_BODY_LEN:
		return step_body_len(p, data, len, used_r);
	case PS_CHUNK_SIZE:
		return step_chunk_size(p, data, len, used_r);
	case PS_CHUNK_DATA:
		return step_chunk_data(p, data, len, used_r);
	case PS_CHUNK_CRLF:
		return step_chunk_crlf(p, data, used_r);
	case PS_TRAILER:
		return step_trailer(p, data, len, used_r);
	case PS_BODY_EOF:
		*used_r = len;
		return append_body(p, data, len);
	case PS_DONE:
		*used_r = 0;
		return 1;
	case PS_ERROR:
		break;
	}
	*used_r = 0;
	return -1;
}

int
http_parser_feed(struct http_parser *p, const char *data, size_t len,
    size_t *consumed_r, int *status_r, const char **error_r)
{
	size_t pos = 0, used;
	int ret = 0;

	if (p->state == PS_DONE) {
		*consumed_r = 0;
		return 1;
	}
	if (len > 0 && p->state != PS_ERROR)
		p->in_progress = true;
	if (p->state == PS_ERROR)
		ret = -1;
	while (ret == 0 && pos < len) {
		ret = step(p, data + pos, len - pos, &used);
		pos += used;
	}
	*consumed_r = pos;
	if (ret < 0) {
		*status_r = p->err_status;
		*error_r = p->err_text;
		return -1;
	}
	return ret;
}

int
http_parser_finish(struct http_parser *p, int *status_r, const char **error_r)
{
	switch (p->state) {
	case PS_DONE:
		return 1;
	case PS_BODY_EOF:
		p->no_body_next = false;
		return finish_message(p);
	case PS_HEAD:
		/* Only empty lines so far counts as a clean close. */
		if (!p->in_progress ||
		    (!p->got_start && p->line_start == p->head.len))
			return 0;
		fail(p, 400, "connection closed inside the header");
		break;
	case PS_BODY_LEN:
		fail(p, 400, "body shorter than Content-Length");
		break;
	case PS_CHUNK_SIZE:
	case PS_CHUNK_DATA:
	case PS_CHUNK_CRLF:
	case PS_TRAILER:
		fail(p, 400, "connection closed inside a chunked body");
		break;
	case PS_ERROR:
		break;
	}
	*status_r = p->err_status;
	*error_r = p->err_text;
	return -1;
}

const struct http_header *
http_message_header_next(const struct http_message *m,
    const struct http_header *prev, const char *name)
{
	unsigned i = prev == NULL ? 0 : (unsigned)(prev - m->headers) + 1;

	for (; i < m->n_headers; i++)
		if (str_case_eq_cstr(m->headers[i].name, name))
			return &m->headers[i];
	return NULL;
}

const struct http_header *
http_message_header(const struct http_message *m, const char *name)
{
	return http_message_header_next(m, NULL, name);
}

char *
http_url_decode(struct str in, bool plus_is_space, struct pool *pool,
    size_t *len_r)
{
	char *out = pool_alloc(pool, in.len + 1);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < in.len; i++) {
		char c = in.ptr[i];

		if (c == '%' && i + 2 < in.len &&
		    ascii_hex_value(in.ptr[i + 1]) >= 0 && ascii_hex_value(in.ptr[i + 2]) >= 0) {
			out[o++] = (char)(ascii_hex_value(in.ptr[i + 1]) * 16 +
			    ascii_hex_value(in.ptr[i + 2]));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = c;
		}
	}
	out[o] = '\0';
	if (len_r != NULL)
		*len_r = o;
	return out;
}

/* Next key=value pair of a query string; false at the end. */
static bool
query_next(struct str *rest, struct str *key_r, struct str *value_r)
{
	ptrdiff_t amp, eq;
	struct str pair;

	while (rest->len > 0) {
		amp = str_find_chr(*rest, '&');
		if (amp < 0) {
			pair = *rest;
			*rest = str_slice(*rest, rest->len, 0);
		} else {
			pair = str_slice(*rest, 0, (size_t)amp);
			*rest = str_slice(*rest, (size_t)amp + 1,
			    rest->len - (size_t)amp - 1);
		}
		if (pair.len == 0)
			continue;
		eq = str_find_chr(pair, '=');
		if (eq < 0) {
			*key_r = pair;
			*value_r = str_make(pair.ptr + pair.len, 0);
		} else {
			*key_r = str_slice(pair, 0, (size_t)eq);
			*value_r = str_slice(pair, (size_t)eq + 1,
			    pair.len - (size_t)eq - 1);
		}
		if (key_r->len > 0)
			return true;
	}
	return false;
}

char *
http_query_param(const struct http_message *m, const char *name,
    struct pool *pool)
{
	struct str rest = m->query, key, value;
	char *dkey;
	size_t klen;

	while (query_next(&rest, &key, &value)) {
		dkey = http_url_decode(key, true, pool, &klen);
		if (dkey == NULL)
			return NULL;
		if (str_case_eq_cstr(str_make(dkey, klen), name))
			return http_url_decode(value, true, pool, NULL);
	}
	return NULL;
}

int
http_message_with_query_headers(const struct http_message *m,
    struct pool *pool, struct http_message *out_r)
{
	struct str rest = m->query, key, value;
	struct http_header *hs;
	unsigned n = 0, i = 0;
	size_t len;
	char *s;

	*out_r = *m;
	while (query_next(&rest, &key, &value))
		n++;
	if (n == 0)
		return 0;
	hs = pool_calloc(pool, m->n_headers + n, sizeof(*hs));
	if (hs == NULL)
		return -1;
	if (m->n_headers > 0)
		memcpy(hs, m->headers, m->n_headers * sizeof(*hs));
	rest = m->query;
	while (query_next(&rest, &key, &value)) {
		struct http_header *h = &hs[m->n_headers + i++];

		if ((s = http_url_decode(key, true, pool, &len)) == NULL)
			return -1;
		h->name = str_make(s, len);
		if ((s = http_url_decode(value, true, pool, &len)) == NULL)
			return -1;
		h->value = str_trim(str_make(s, len));
	}
	out_r->headers = hs;
	out_r->n_headers = m->n_headers + n;
	return 0;
}

const char *
http_status_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 204, "No Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" },
		{ 304, "Not Modified" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 411, "Length Required" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}
