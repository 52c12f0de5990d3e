/*
 * Unit tests for the HTTP/1.x parser: real client request shapes (rspamc
 * HTTP/1.0, Haraka chunked, Go, Exim legacy RSPAMC), pipelining, query
 * helpers, responses, and every rejection case. Each valid input is fed
 * whole, byte by byte and in odd chunk sizes, and the results must agree.
 */
#include "http/http_parser.h"
#include "core/buf.h"
#include "core/pool.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
	struct http_parser *p;
	struct buf out;      /* fingerprint of every message */
	int status;          /* error status, 0 if none */
	const char *error;
	int finish;          /* result of http_parser_finish */
};

static void
fingerprint(struct buf *out, const struct http_message *m)
{
	unsigned i;

	buf_printf(out, "[M=%.*s P=%.*s Q=%.*s S=%d R=%.*s V=%d KA=%d L=%d C=%d",
	    (int)m->method.len, m->method.ptr, (int)m->path.len, m->path.ptr,
	    (int)m->query.len, m->query.ptr, m->status, (int)m->reason.len,
	    m->reason.ptr, m->version_minor, m->keep_alive, m->legacy_rspamc,
	    m->chunked);
	for (i = 0; i < m->n_headers; i++)
		buf_printf(out, " H{%.*s=%.*s}", (int)m->headers[i].name.len,
		    m->headers[i].name.ptr, (int)m->headers[i].value.len,
		    m->headers[i].value.ptr);
	buf_printf(out, " B=");
	buf_append(out, m->body != NULL ? m->body : "", m->body_len);
	buf_printf(out, "]");
}

static int
feed_chunk(const void *data, size_t n, void *ctx)
{
	struct run *r = ctx;
	const char *d = data;
	size_t used;
	int ret;

	while (n > 0) {
		ret = http_parser_feed(r->p, d, n, &used, &r->status, &r->error);
		if (ret < 0)
			return -1;
		test_assert(used <= n);
		if (ret == 0) {
			test_assert(used == n);
			return 0;
		}
		fingerprint(&r->out, http_parser_message(r->p));
		http_parser_reset(r->p);
		d += used;
		n -= used;
	}
	return 0;
}

/* Feed `in` in chunks of `chunk` bytes; returns the fingerprint (heap). */
static char *
run_parser(bool response, const struct http_limits *lim, const char *in,
    size_t len, size_t chunk, int *status_r, int *finish_r)
{
	struct run r;
	size_t l;
	const char *err;
	int st = 0;

	memset(&r, 0, sizeof(r));
	r.p = http_parser_new(response, lim);
	buf_init(&r.out, 0);
	buf_append(&r.out, "", 0);
	if (test_trickle(in, len, chunk, feed_chunk, &r) == 0) {
		r.finish = http_parser_finish(r.p, &st, &err);
		if (r.finish == 1) {
			fingerprint(&r.out, http_parser_message(r.p));
		} else if (r.finish < 0) {
			r.status = st;
		}
	}
	*status_r = r.status;
	if (finish_r != NULL)
		*finish_r = r.finish;
	http_parser_free(&r.p);
	test_assert(r.p == NULL);
	return buf_steal(&r.out, &l);
}

/* Parses `in` whole and in several chunk sizes; all must agree. */
static char *
parse_all_ways(bool response, const char *in, size_t len, int *status_r)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64 };
	char *whole, *other;
	int st, st2;
	size_t i;

	whole = run_parser(response, NULL, in, len, len ? len : 1, &st, NULL);
	for (i = 0; i < ARRAY_SIZE(chunks); i++) {
		other = run_parser(response, NULL, in, len, chunks[i], &st2, NULL);
		if (!test_assert(strcmp(whole, other) == 0 && st == st2))
			fprintf(stderr, "chunk %zu:\n%s\nvs\n%s\n", chunks[i], whole, other);
		free(other);
	}
	*status_r = st;
	return whole;
}

static bool
has(const char *hay, const char *needle)
{
	bool ok = strstr(hay, needle) != NULL;

	if (!ok)
		fprintf(stderr, "missing '%s' in '%s'\n", needle, hay);
	return ok;
}

static void
test_rspamc_10(void)
{
	const char *in =
	    "POST /checkv2 HTTP/1.0\r\n"
	    "Content-Length: 11\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain\r\n"
	    "Rcpt: b@example.org\r\n"
	    "Rcpt: c@example.org\r\n"
	    "X-Custom:  v \r\n"
	    "\r\n"
	    "Subject: x\n";
	int st;
	char *fp;

	test_begin("rspamc HTTP/1.0 no Host, Content-Length, repeated Rcpt");
	fp = parse_all_ways(false, in, strlen(in), &st);
	test_assert(st == 0);
	test_assert(has(fp, "M=POST P=/checkv2 Q= S=0 R= V=0 KA=0 L=0 C=0"));
	test_assert(has(fp, "H{Rcpt=b@example.org} H{Rcpt=c@example.org}"));
	test_assert(has(fp, "H{X-Custom=v}"));
	test_assert(has(fp, "B=Subject: x\n]"));
	free(fp);
	test_end();
}

static void
test_headers_api(void)
{
	const char *in = "POST /checkv2?IP=1.2.3.4&Rcpt=%3Cx%40y%3E&flag&a+b=c+d HTTP/1.1\r\n"
	    "rcpt: one\r\nFrom: f\r\nRCPT: two\r\nContent-Length: 0\r\n\r\n";
	struct http_parser *p = http_parser_new(false, NULL);
	const struct http_message *m;
	const struct http_header *h;
	struct http_message q;
	struct pool *pool = pool_new(0);
	size_t used;
	int st;
	const char *err;
	char *v;

	test_begin("header lookup, repeated headers, query params");
	test_assert(http_parser_feed(p, in, strlen(in), &used, &st, &err) == 1);
	test_assert(used == strlen(in));
	m = http_parser_message(p);
	test_assert(str_eq_cstr(m->path, "/checkv2"));
	test_assert(m->keep_alive);
	h = http_message_header(m, "Rcpt");
	test_assert(h != NULL && str_eq_cstr(h->value, "one"));
	h = http_message_header_next(m, h, "rcpt");
	test_assert(h != NULL && str_eq_cstr(h->value, "two"));
	test_assert(http_message_header_next(m, h, "rcpt") == NULL);
	test_assert(http_message_header(m, "Nope") == NULL);
	v = http_query_param(m, "ip", pool);
	test_assert(v != NULL && strcmp(v, "1.2.3.4") == 0);
	v = http_query_param(m, "rcpt", pool);
	test_assert(v != NULL && strcmp(v, "<x@y>") == 0);
	v = http_query_param(m, "flag", pool);
	test_assert(v != NULL && strcmp(v, "") == 0);
	v = http_query_param(m, "a b", pool);
	test_assert(v != NULL && strcmp(v, "c d") == 0);
	test_assert(http_query_param(m, "password", pool) == NULL);
	test_assert(http_message_with_query_headers(m, pool, &q) == 0);
	test_assert(q.n_headers == m->n_headers + 4);
	h = http_message_header(&q, "IP");
	test_assert(h != NULL && str_eq_cstr(h->value, "1.2.3.4"));
	h = http_message_header_next(&q, http_message_header(&q, "rcpt"), "rcpt");
	h = http_message_header_next(&q, h, "rcpt");
	test_assert(h != NULL && str_eq_cstr(h->value, "<x@y>"));
	http_parser_free(&p);
	pool_free(&pool);
	test_end();
}

static void
test_haraka_chunked(void)
{
	const char *in =
	    "POST /checkv2 HTTP/1.1\r\n"
	    "Host: localhost:11333\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Queue-Id: ABC\r\n"
	    "\r\n"
	    "5;ext=1;x=\"y\"\r\nHello\r\n"
	    "7 \r\n, world\r\n"
	    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	    "0\r\n"
	    "X-Trailer: t\r\n"
	    "\r\n";
	int st;
	char *fp;

	test_begin("Haraka HTTP/1.1 chunked with extensions and trailers");
	fp = parse_all_ways(false, in, strlen(in), &st);
	test_assert(st == 0);
	test_assert(has(fp, "V=1 KA=1 L=0 C=1"));
	test_assert(has(fp, "B=Hello, worldabcdefghijklmnopqrstuvwxyz]"));
	test_assert(strstr(fp, "X-Trailer") == NULL);
	free(fp);
	test_end();
}

static void
test_pipelined(void)
{
	const char *in =
	    "POST /checkv2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /ping HTTP/1.1\r\n\r\n"
	    "\r\n" /* stray CRLF between requests is tolerated */
	    "POST /checkv2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
	    "POST /x HTTP/1.1\nContent-Length: 1\nConnection: close\n\nZ";
	int st;
	char *fp;

	test_begin("pipelined keep-alive requests, LF-only lines");
	fp = parse_all_ways(false, in, strlen(in), &st);
	test_assert(st == 0);
	test_assert(has(fp, "P=/checkv2 Q= S=0 R= V=1 KA=1 L=0 C=0 H{Content-Length=3} B=abc]"
	    "[M=GET P=/ping"));
	test_assert(has(fp, "B=xy][M=POST P=/x"));
	test_assert(has(fp, "KA=0 L=0 C=0 H{Content-Length=1} H{Connection=close} B=Z]"));
	free(fp);
	test_end();
}

static void
test_legacy(void)
{
	const char *in =
	    "CHECK RSPAMC/1.3\r\n"
	    "Content-length: 4\r\n"
	    "Queue-Id: 1abc\r\n"
	    "From: <a@b>\r\n"
	    "Recipient-Number: 2\r\n"
	    "Rcpt: <c@d>\r\n"
	    "Rcpt: <e@f>\r\n"
	    "\r\n"
	    "body";
	struct http_parser *p = http_parser_new(false, NULL);
	const struct http_message *m;
	size_t used;
	int st;
	const char *err;
	char *fp;

	test_begin("legacy CHECK RSPAMC/1.3 (Exim)");
	fp = parse_all_ways(false, in, strlen(in), &st);
	test_assert(st == 0);
	test_assert(has(fp, "[M=CHECK P= Q= S=0 R= V=0 KA=0 L=1"));
	test_assert(has(fp, "H{Rcpt=<c@d>} H{Rcpt=<e@f>} B=body]"));
	free(fp);
	test_assert(http_parser_feed(p, in, strlen(in), &used, &st, &err) == 1);
	m = http_parser_message(p);
	test_assert(m->legacy_rspamc && m->legacy_minor == 3 && !m->keep_alive);
	http_parser_reset(p);
	test_assert(http_parser_feed(p, "SYMBOLS RSPAMC/1.2\r\n\r\n", 22, &used, &st, &err) == 1);
	test_assert(http_parser_message(p)->legacy_rspamc);
	test_assert(str_eq_cstr(http_parser_message(p)->method, "SYMBOLS"));
	http_parser_free(&p);
	test_end();
}

static void
test_misc_valid(void)
{
	int st;
	char *fp;
	const char *abs = "GET http://example.com:80/ping?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *ka10 = "GET /ping HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	const char *te_ci = "POST / HTTP/1.1\r\nTransfer-Encoding: identity, CHUNKED\r\n\r\n0\r\n\r\n";
	const char *dup_cl = "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok";

	test_begin("absolute-form, 1.0 keep-alive, TE list, identical CLs");
	fp = parse_all_ways(false, abs, strlen(abs), &st);
	test_assert(st == 0 && has(fp, "P=/ping Q=x=1"));
	free(fp);
	fp = parse_all_ways(false, ka10, strlen(ka10), &st);
	test_assert(st == 0 && has(fp, "V=0 KA=1"));
	free(fp);
	fp = parse_all_ways(false, te_ci, strlen(te_ci), &st);
	test_assert(st == 0 && has(fp, "C=1"));
	free(fp);
	fp = parse_all_ways(false, dup_cl, strlen(dup_cl), &st);
	test_assert(st == 0 && has(fp, "B=ok]"));
	free(fp);
	test_end();
}

struct bad_case {
	const char *name;
	const char *in;
	int status;
};

static const struct bad_case bad_cases[] = {
	{ "CL + TE smuggling", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
	{ "TE + CL smuggling", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400 },
	{ "differing CL", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400 },
	{ "CL list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400 },
	{ "negative CL", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "plus CL", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400 },
	{ "overflowing CL", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400 },
	{ "CL above max_body", "POST / HTTP/1.1\r\nContent-Length: 52428801\r\n\r\n", 413 },
	{ "chunk size overflow", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", 413 },
	{ "huge chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n", 413 },
	{ "bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
	{ "chunk without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400 },
	{ "gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
	{ "chunked not last", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400 },
	{ "chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	{ "garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400 },
	{ "garbage text", "hello there\r\n", 400 },
	{ "no version", "GET /\r\n\r\n", 400 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505 },
	{ "HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505 },
	{ "bad version", "GET / HTTP/1.1x\r\n\r\n", 400 },
	{ "header without colon", "GET / HTTP/1.1\r\nFoo bar\r\n\r\n", 400 },
	{ "space before colon", "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400 },
	{ "empty header name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 400 },
	{ "NUL in header", "GET / HTTP/1.1\r\nFoo: a\0b\r\n\r\n", 400 },
	{ "bare CR", "GET / HTTP/1.1\r\nFoo: a\rb\r\n\r\n", 400 },
	{ "obs-fold", "GET / HTTP/1.1\r\nFoo: a\r\n b\r\n\r\n", 400 },
	{ "space in target", "GET /a b HTTP/1.1\r\n\r\n", 400 },
	{ "bad legacy", "CHECK RSPAMD/1.3\r\n\r\n", 400 },
	{ "too many empty lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 400 },
};

static void
test_bad(void)
{
	size_t i;
	int st;
	char *fp;

	test_begin("rejections");
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const char *in = bad_cases[i].in;
		size_t len = strlen(in);

		if (strcmp(bad_cases[i].name, "NUL in header") == 0)
			len = 28;
		fp = parse_all_ways(false, in, len, &st);
		if (!test_assert(st == bad_cases[i].status))
			fprintf(stderr, "case '%s': got %d\n", bad_cases[i].name, st);
		free(fp);
	}
	test_end();
}

static void
test_eof(void)
{
	const char *lie = "POST / HTTP/1.0\r\nContent-Length: 100\r\n\r\nshort";
	const char *cut = "POST / HTTP/1.1\r\nHost: x\r\n";
	const char *cutc = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
	int st, fin;
	char *fp;

	test_begin("EOF: lying Content-Length, cut head, cut chunk, clean close");
	fp = run_parser(false, NULL, lie, strlen(lie), 1, &st, &fin);
	test_assert(fin == -1 && st == 400);
	free(fp);
	fp = run_parser(false, NULL, cut, strlen(cut), 3, &st, &fin);
	test_assert(fin == -1 && st == 400);
	free(fp);
	fp = run_parser(false, NULL, cutc, strlen(cutc), 5, &st, &fin);
	test_assert(fin == -1 && st == 400);
	free(fp);
	fp = run_parser(false, NULL, "", 0, 1, &st, &fin);
	test_assert(fin == 0 && st == 0);
	free(fp);
	fp = run_parser(false, NULL, "\r\n", 2, 1, &st, &fin);
	test_assert(fin == 0 && st == 0);
	free(fp);
	test_end();
}

static void
test_huge_header(void)
{
	struct http_parser *p = http_parser_new(false, NULL);
	char chunk[4096];
	size_t fed = 0, used;
	int ret = 0, st = 0;
	const char *err;

	test_begin("100 MB header bails out at the limit");
	memset(chunk, 'a', sizeof(chunk));
	ret = http_parser_feed(p, "GET / HTTP/1.1\r\nX-Big: ", 23, &used, &st, &err);
	while (ret == 0 && fed < 100u * 1024 * 1024) {
		ret = http_parser_feed(p, chunk, sizeof(chunk), &used, &st, &err);
		fed += sizeof(chunk);
	}
	test_assert(ret == -1 && st == 431);
	test_assert(fed <= HTTP_DEFAULT_MAX_HEADER_BYTES + sizeof(chunk));
	http_parser_reset(p);
	/* many small headers */
	ret = http_parser_feed(p, "GET / HTTP/1.1\r\n", 16, &used, &st, &err);
	for (fed = 0; ret == 0 && fed < 1000; fed++)
		ret = http_parser_feed(p, "A: b\r\n", 6, &used, &st, &err);
	test_assert(ret == -1 && st == 431 && fed == HTTP_DEFAULT_MAX_HEADERS + 1);
	/* endless request line */
	http_parser_reset(p);
	ret = http_parser_feed(p, "GET /", 5, &used, &st, &err);
	for (fed = 0; ret == 0 && fed < 25000; fed++)
		ret = http_parser_feed(p, chunk, sizeof(chunk), &used, &st, &err);
	test_assert(ret == -1 && st == 414 && fed <= 5);
	http_parser_free(&p);
	test_end();
}

static void
test_body_limit(void)
{
	struct http_limits lim = { .max_body = 10 };
	const char *cl = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
	const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\n12345\r\n5\r\n12345\r\n1\r\nX\r\n0\r\n\r\n";
	const char *ok = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n1234567890";
	int st;
	char *fp;

	test_begin("configurable max_body: Content-Length and chunked");
	fp = run_parser(false, &lim, cl, strlen(cl), 1, &st, NULL);
	test_assert(st == 413);
	free(fp);
	fp = run_parser(false, &lim, ch, strlen(ch), 1, &st, NULL);
	test_assert(st == 413);
	free(fp);
	fp = run_parser(false, &lim, ok, strlen(ok), 1, &st, NULL);
	test_assert(st == 0 && has(fp, "B=1234567890]"));
	free(fp);
	test_end();
}

static void
test_responses(void)
{
	const char *r1 = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nServer: x\r\n\r\npong"
	    "HTTP/1.1 500 invalid command\r\nContent-Length: 2\r\n\r\n{}"
	    "HTTP/1.1 204 No Content\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	    "HTTP/1.0 200\r\n\r\nuntil close";
	int st, fin;
	char *fp;

	test_begin("responses: length, chunked, no body, read until close");
	fp = parse_all_ways(true, r1, strlen(r1), &st);
	test_assert(st == 0);
	test_assert(has(fp, "S=200 R=OK V=1 KA=1 L=0 C=0 H{Content-Length=4} H{Server=x} B=pong]"));
	test_assert(has(fp, "S=500 R=invalid command"));
	test_assert(has(fp, "S=204 R=No Content V=1 KA=1 L=0 C=0 B=]"));
	test_assert(has(fp, "C=1 H{Transfer-Encoding=chunked} B=abc]"));
	test_assert(has(fp, "S=200 R= V=0 KA=0 L=0 C=0 B=until close]"));
	free(fp);
	fp = run_parser(true, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 40, 1, &st, &fin);
	test_assert(fin == -1 && st == 400);
	free(fp);
	fp = run_parser(true, NULL, "HTTX/1.1 200 OK\r\n\r\n", 19, 1, &st, &fin);
	test_assert(st == 400);
	free(fp);
	fp = run_parser(true, NULL, "HTTP/1.1 2000 OK\r\n\r\n", 20, 1, &st, &fin);
	test_assert(st == 400);
	free(fp);
	test_end();
}

int
main(void)
{
	test_rspamc_10();
	test_headers_api();
	test_haraka_chunked();
	test_pipelined();
	test_legacy();
	test_misc_valid();
	test_bad();
	test_eof();
	test_huge_header();
	test_body_limit();
	test_responses();
	return test_exit();
}
