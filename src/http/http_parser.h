/*
 * http_parser.h - incremental HTTP/1.x message parser (requests and
 * responses), plus the legacy "CHECK RSPAMC/1.3" request form used by Exim.
 *
 * Pure: no I/O, no clock, no config. Bytes are fed in any split; the parser
 * copies what it consumes, so the caller may drop fed input at once. The
 * views in the finished message (method, path, headers, body) point into
 * parser-owned storage and stay valid until http_parser_reset() or
 * http_parser_free().
 *
 * Policy on hostile or ambiguous input (all -1 with a status):
 *   400  bad syntax, header without colon, space before colon, NUL or bare
 *        CR in the head, obs-fold continuation lines (rejected, not
 *        unfolded), Content-Length together with Transfer-Encoding
 *        (request smuggling), several differing or non-numeric
 *        Content-Length values, bad chunk sizes, body shorter than declared
 *        at EOF (http_parser_finish()).
 *   413  declared or decoded body above limits.max_body.
 *   414  request/status line longer than limits.max_line.
 *   431  head (start line + headers) above max_header_bytes or more than
 *        max_headers fields; detected while the bytes arrive, so a 100 MB
 *        header costs at most max_header_bytes of memory.
 *   501  a transfer coding other than chunked.
 *   505  an HTTP version other than 1.0 / 1.x.
 * LF-only line endings are accepted everywhere; up to a few empty lines
 * before a request line are skipped (stray CRLF after a previous body).
 */
#ifndef HTTP_HTTP_PARSER_H
#define HTTP_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct pool;

struct http_limits {
	size_t max_header_bytes; /* start line + headers; 0 = 64 KiB */
	unsigned max_headers;    /* 0 = 100 */
	size_t max_body;         /* 0 = 50 MiB */
	size_t max_line;         /* start line; 0 = 16 KiB */
};

#define HTTP_DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_DEFAULT_MAX_HEADERS 100
#define HTTP_DEFAULT_MAX_BODY ((size_t)50 * 1024 * 1024)
#define HTTP_DEFAULT_MAX_LINE (16 * 1024)

struct http_header {
	struct str name;
	struct str value; /* leading/trailing whitespace trimmed */
};

struct http_message { /* request or response */
	int version_minor;   /* 1.x; 0 for the legacy form */
	bool legacy_rspamc;  /* "CHECK RSPAMC/1.3": method holds CHECK/SYMBOLS/... */
	int legacy_minor;    /* the x of RSPAMC/1.x */
	struct str method, path, query; /* request: path without '?', query after it */
	int status;          /* response */
	struct str reason;   /* response */
	struct http_header *headers;
	unsigned n_headers;
	const char *body;    /* decoded (de-chunked); NULL when empty */
	size_t body_len;
	bool chunked;        /* body came with Transfer-Encoding: chunked */
	bool expect_continue; /* request carried Expect: 100-continue */
	/* HTTP/1.1 unless "Connection: close"; 1.0 only with
	 * "Connection: keep-alive"; legacy never. */
	bool keep_alive;
};

struct http_parser; /* opaque */

/* `limits` is copied; NULL or zero fields mean the defaults above. */
struct http_parser *http_parser_new(bool response, const struct http_limits *limits);
/* Frees and NULLs *p; accepts NULL. */
void http_parser_free(struct http_parser **p);

/*
 * Feed bytes. Returns 1 when a complete message is available; *consumed_r
 * then tells how many of these input bytes belong to it (the rest starts
 * the next, pipelined, message: feed it again after http_parser_reset()).
 * Returns 0 when more input is needed (all `len` bytes consumed). Returns
 * -1 on error with an HTTP status in *status_r and static text in *error_r;
 * the parser stays in the error state until reset. Feeding a finished
 * message again returns 1 with *consumed_r = 0.
 */
int http_parser_feed(struct http_parser *p, const char *data, size_t len,
    size_t *consumed_r, int *status_r, const char **error_r);

/*
 * Signal EOF from the peer. Returns 1 when that completes a message
 * (a response read until close), 0 when no message had started (clean
 * close between messages), -1 when a message was cut short (truncated
 * head, Content-Length that lied, unfinished chunk) with status and text.
 */
int http_parser_finish(struct http_parser *p, int *status_r, const char **error_r);

/*
 * True once the head of a request has been parsed and its body is still
 * to come, so a server knows to answer Expect: 100-continue (and whether
 * the message is legacy) before the body arrives.
 */
bool http_parser_head_done(const struct http_parser *p);
/* True when some bytes of a message have been fed (not between messages). */
bool http_parser_in_progress(const struct http_parser *p);

/* For responses to HEAD requests: from now on (until the parser is freed)
 * response messages have no body, whatever their headers say. */
void http_parser_set_no_body(struct http_parser *p);

/* The finished message (valid only after feed/finish returned 1). */
const struct http_message *http_parser_message(const struct http_parser *p);
/* Ready for the next message on the same connection; keeps buffers. */
void http_parser_reset(struct http_parser *p);

/* First header called `name` (case-insensitive), or NULL. */
const struct http_header *http_message_header(const struct http_message *m,
    const char *name);
/* The next header after `prev` with that name (Rcpt: repeated), or NULL.
 * prev = NULL starts from the beginning. */
const struct http_header *http_message_header_next(const struct http_message *m,
    const struct http_header *prev, const char *name);

/*
 * Percent-decode (and '+' -> space) the first query parameter called
 * `name` (case-insensitive) into a NUL-terminated string in `pool`.
 * Returns NULL when absent or at the pool cap. A key without '=' gives "".
 */
char *http_query_param(const struct http_message *m, const char *name,
    struct pool *pool);

/*
 * Percent-decode `in` into pool memory (NUL-terminated; '+' becomes a
 * space when plus_is_space). Bad escapes are kept literally. NULL at cap.
 */
char *http_url_decode(struct str in, bool plus_is_space, struct pool *pool,
    size_t *len_r);

/*
 * Scan protocol §1: every ?key=value pair of the URL counts as a request
 * header. Fills *out_r with a shallow copy of `m` whose header array (in
 * `pool`) holds m's headers followed by one decoded pseudo header per
 * query pair (in URL order). Returns 0, or -1 at the pool cap.
 */
int http_message_with_query_headers(const struct http_message *m,
    struct pool *pool, struct http_message *out_r);

/* Standard reason phrase for a status ("Unknown" if none). */
const char *http_status_reason(int status);

#endif
