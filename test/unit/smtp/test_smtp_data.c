/* Unit tests for the DATA decoder: dot-unstuffing, end detection, limits,
 * fed whole and byte by byte. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp_data.h"
#include "test.h"

struct feed {
	struct smtp_data_decoder dec;
	struct buf out;
	size_t consumed;
	int done;
};

static int
feed_chunk(const void *chunk, size_t n, void *ctx)
{
	struct feed *f = ctx;
	size_t used = 0;
	int ret;

	if (f->done)
		return 1;
	ret = smtp_data_feed(&f->dec, chunk, n, &f->out, &used);
	f->consumed += used;
	if (ret == 1)
		f->done = 1;
	return ret;
}

/* Decodes `in` in chunks; checks the output and where it stopped. */
static bool
check(const char *in, size_t chunk, size_t limit, const char *want, size_t want_used)
{
	struct feed f;
	bool ok;

	memset(&f, 0, sizeof(f));
	smtp_data_init(&f.dec, limit);
	buf_init(&f.out, 0);
	(void)test_trickle(in, strlen(in), chunk, feed_chunk, &f);
	ok = want == NULL ? !f.done || f.dec.overflow :
	    f.done && f.out.len == strlen(want) && (f.out.len == 0 || memcmp(f.out.data, want, f.out.len) == 0) &&
	    f.consumed == want_used;
	buf_deinit(&f.out);
	return ok;
}

static void
both(const char *in, const char *want, size_t want_used)
{
	test_assert(check(in, strlen(in), 0, want, want_used));
	test_assert(check(in, 1, 0, want, want_used));
	test_assert(check(in, 3, 0, want, want_used));
}

static void
test_unstuffing(void)
{
	test_begin("data: dot-unstuffing and end of data, whole and trickled");
	both(".\r\n", "", 3);
	both("a\r\n.\r\n", "a\r\n", 6);
	both("a\r\n.\r\nMAIL", "a\r\n", 6);
	both("..\r\n.\r\n", ".\r\n", 7);
	both("..x\r\n...\r\n.\r\n", ".x\r\n..\r\n", 13);
	both("a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n", 11);
	/* Bare LF: a content line end (stored as CRLF), never an end marker. */
	both("a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", 10);
	both("a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", 11);
	/* Bare CR kept; "\r.\r\n" is not the end either. */
	both("a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n", 11);
	both(".\rx\r\n.\r\n", "\rx\r\n", 8);
	both("x\r\r\n.\r\n", "x\r\r\n", 7);
	test_assert(check("no end\r\n", 1, 0, NULL, 0));
	test_end();
}

static void
test_limit(void)
{
	struct smtp_data_decoder d;
	struct buf out;
	size_t used;
	const char *in = "0123456789\r\n.\r\n";

	test_begin("data: size limit counts and stops storing");
	buf_init(&out, 0);
	smtp_data_init(&d, 12);
	test_assert(smtp_data_feed(&d, in, strlen(in), &out, &used) == 1);
	test_assert(!d.overflow && d.size == 12 && out.len == 12);
	buf_reset(&out);
	smtp_data_init(&d, 11);
	test_assert(smtp_data_feed(&d, in, strlen(in), &out, &used) == 1 && used == strlen(in));
	test_assert(d.overflow && d.size == 12 && out.len <= 11);
	test_assert(check("0123456789\r\n.\r\n", 1, 5, NULL, 0));
	buf_deinit(&out);
	test_end();
}

static void
test_big(void)
{
	size_t n = 200000;
	char *in = malloc(n + 6);

	test_begin("data: a large message with long lines");
	for (size_t i = 0; i < n; i++)
		in[i] = (i % 5000 == 4999) ? '\n' : (char)('a' + i % 26);
	memcpy(in + n, "\r\n.\r\n", 6);
	test_assert(check(in, 4096, 0, NULL, 0) == false);
	{
		struct feed f;

		memset(&f, 0, sizeof(f));
		smtp_data_init(&f.dec, 0);
		buf_init(&f.out, 0);
		(void)test_trickle(in, n + 5, 777, feed_chunk, &f);
		test_assert(f.done && f.consumed == n + 5 && f.out.len == n + 40 + 2);
		test_assert(f.dec.bare_lf);
		buf_deinit(&f.out);
	}
	free(in);
	test_end();
}

int
main(void)
{
	test_unstuffing();
	test_limit();
	test_big();
	return test_exit();
}
