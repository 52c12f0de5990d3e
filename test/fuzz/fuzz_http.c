/*
 * libFuzzer target for the HTTP/1.x parser. The first input byte picks the
 * mode (request or response parser) and a split seed; the rest is fed in
 * pseudo-random pieces, pipelined messages are parsed one after another,
 * and every finished message is checked against invariants (views inside
 * bounds, body length under the limit). The same input is also fed whole
 * and must give the same number of messages and the same final verdict.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "http/http_parser.h"

struct outcome {
	unsigned messages;
	int status;
	size_t body_total;
};

static void
check_message(const struct http_message *m, const struct http_limits *lim)
{
	const struct http_header *h = NULL;
	unsigned i, n = 0;
	volatile char sink = 0;

	if (m->body_len > lim->max_body || m->n_headers > lim->max_headers)
		abort();
	for (i = 0; i < m->n_headers; i++) {
		if (m->headers[i].name.len == 0)
			abort();
		if (m->headers[i].name.len > 0)
			sink ^= m->headers[i].name.ptr[m->headers[i].name.len - 1];
		if (m->headers[i].value.len > 0)
			sink ^= m->headers[i].value.ptr[m->headers[i].value.len - 1];
	}
	if (m->body_len > 0)
		sink ^= m->body[m->body_len - 1];
	while ((h = http_message_header_next(m, h, "rcpt")) != NULL)
		n++;
	if (m->query.len > 0) {
		struct pool *pool = pool_new(0);
		struct http_message q;

		(void)http_query_param(m, "password", pool);
		if (http_message_with_query_headers(m, pool, &q) < 0)
			abort();
		pool_free(&pool);
	}
	(void)sink;
}

static struct outcome
run(bool response, const uint8_t *data, size_t len, uint32_t seed, bool split)
{
	struct http_limits lim = { .max_header_bytes = 4096, .max_headers = 20,
		.max_body = 65536, .max_line = 1024 };
	struct http_parser *p = http_parser_new(response, &lim);
	struct outcome o = { 0, 0, 0 };
	size_t pos = 0, piece, used;
	const char *err;
	int r = 0, st;

	while (pos < len) {
		seed = seed * 1103515245u + 12345u;
		piece = split ? 1 + (seed >> 16) % 17 : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		r = http_parser_feed(p, (const char *)data + pos, piece, &used, &st, &err);
		if (used > piece)
			abort();
		if (r < 0) {
			o.status = st;
			break;
		}
		pos += used;
		if (r == 1) {
			check_message(http_parser_message(p), &lim);
			o.messages++;
			o.body_total += http_parser_message(p)->body_len;
			http_parser_reset(p);
		}
	}
	if (r >= 0) {
		r = http_parser_finish(p, &st, &err);
		if (r == 1) {
			check_message(http_parser_message(p), &lim);
			o.messages++;
			o.body_total += http_parser_message(p)->body_len;
		} else if (r < 0) {
			o.status = st;
		}
	}
	http_parser_free(&p);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	bool response;
	uint32_t seed;

	if (size < 1)
		return 0;
	response = data[0] & 1;
	seed = data[0];
	a = run(response, data + 1, size - 1, seed, true);
	b = run(response, data + 1, size - 1, seed, false);
	if (a.messages != b.messages || a.status != b.status ||
	    a.body_total != b.body_total)
		abort();
	return 0;
}
