/* Hostile-size inputs: deep nesting, many parts, huge headers. */
#include "core/buf.h"
#include "core/pool.h"
#include "mime/message.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_deep_nesting(void)
{
	struct pool *p = pool_new(0);
	struct buf b;
	struct mime_message *m;
	const char *err;
	double t;
	int i;

	buf_init(&b, 0);
	buf_append_cstr(&b, "Subject: deep\n");
	for (i = 0; i < 1000; i++) {
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n"
		    "--b%d\n", i, i);
	}
	buf_append_cstr(&b, "Content-Type: text/plain\n\nleaf\n");
	for (i = 999; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	test_begin("1000-level nested multipart stops at max_depth");
	t = now();
	m = mime_parse(p, b.data, b.len, NULL, &err);
	t = now() - t;
	test_assert(m != NULL);
	test_assert(m->flags & MIME_MSG_DEPTH_LIMIT);
	test_assert(m->n_parts == 33);
	test_assert(m->parts[32]->depth == 32);
	test_assert(m->parts[32]->flags & MIME_PART_DEPTH_LIMIT);
	test_assert(t < 1.0);
	test_end();
	buf_deinit(&b);
	pool_free(&p);
}

static void
test_many_parts(void)
{
	struct pool *p = pool_new(0);
	struct mime_limits lim;
	struct buf b;
	struct mime_message *m;
	const char *err;
	double t;
	int i;

	buf_init(&b, 0);
	buf_append_cstr(&b, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (i = 0; i < 100000; i++)
		buf_append_cstr(&b, "--x\n\npart\n");
	buf_append_cstr(&b, "--x--\n");
	test_begin("100k parts stop at max_parts");
	t = now();
	m = mime_parse(p, b.data, b.len, NULL, &err);
	t = now() - t;
	test_assert(m != NULL && (m->flags & MIME_MSG_PARTS_LIMIT));
	test_assert(m->n_parts == 1024);
	test_assert(t < 1.0);
	pool_free(&p);
	p = pool_new(0);
	mime_limits_default(&lim);
	lim.max_parts = 200000;
	m = mime_parse(p, b.data, b.len, &lim, &err);
	test_assert(m != NULL && m->n_parts == 100001);
	test_assert(!(m->flags & MIME_MSG_PARTS_LIMIT));
	test_end();
	buf_deinit(&b);
	pool_free(&p);
}

static void
test_huge_headers(void)
{
	size_t big = 100 * 1024 * 1024, i;
	char *data = malloc(big + 64);
	struct pool *p = pool_new(0);
	struct mime_message *m;
	const char *err;
	double t;

	test_begin("100 MB header line is bounded");
	memcpy(data, "Subject: ", 9);
	memset(data + 9, 'a', big);
	memcpy(data + 9 + big, "\n\nbody\n", 7);
	t = now();
	m = mime_parse(p, data, big + 16, NULL, &err);
	t = now() - t;
	test_assert(m != NULL && (m->flags & MIME_MSG_HEADERS_TRUNCATED));
	test_assert(m->subject != NULL && strlen(m->subject) < 1024 * 1024);
	test_assert(m->body.len == 5);
	test_assert(pool_used(p) < 16 * 1024 * 1024);
	test_assert(t < 2.0);
	pool_free(&p);
	test_end();

	test_begin("100 MB of short headers is bounded");
	p = pool_new(0);
	for (i = 0; i + 8 <= big; i += 8)
		memcpy(data + i, "X-A: b\r\n", 8);
	memcpy(data + i, "\r\nbody\r\n", 8);
	t = now();
	m = mime_parse(p, data, i + 8, NULL, &err);
	t = now() - t;
	test_assert(m != NULL && (m->flags & MIME_MSG_HEADERS_TRUNCATED));
	test_assert(m->headers.count == 1024);
	test_assert(m->body.len == 6);
	test_assert(pool_used(p) < 16 * 1024 * 1024);
	test_assert(t < 2.0);
	test_end();
	pool_free(&p);
	free(data);
}

int
main(void)
{
	test_deep_nesting();
	test_many_parts();
	test_huge_headers();
	return test_exit();
}
