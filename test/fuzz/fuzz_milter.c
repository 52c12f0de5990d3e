/*
 * libFuzzer target for the milter codec. The input is decoded as a stream
 * twice, whole and in pseudo-random pieces (the first byte seeds the
 * split); both runs must see the same commands and the same verdict, and
 * every view of every command must lie inside the input. Each decoded
 * command's NUL-separated lists are walked to the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "milter/milter_proto.h"

struct run {
	unsigned n;
	int codes[64];
	int verdict;
	size_t bytes;
	bool ping;
};

static void
check_view(struct str s, const char *lo, const char *hi)
{
	if (s.len == 0)
		return;
	if (s.ptr < lo || s.ptr + s.len > hi)
		abort();
}

static void
walk(const struct milter_cmd *c, const char *lo, const char *hi)
{
	struct str rest = c->rest, s;

	check_view(c->payload, lo, hi);
	check_view(c->str1, lo, hi);
	check_view(c->str2, lo, hi);
	check_view(c->rest, lo, hi);
	while (milter_next_string(&rest, &s) == 1)
		check_view(s, lo, hi);
}

static void
decode_all(const uint8_t *data, size_t size, uint8_t seed, struct run *r)
{
	struct milter_decoder d;
	struct buf in;
	size_t off = 0;

	milter_decoder_init(&d);
	buf_init(&in, 0);
	memset(r, 0, sizeof(*r));
	while (off < size && r->verdict >= 0) {
		size_t piece = seed == 0 ? size - off : MIN(size - off, (size_t)(seed % 13) + 1);
		struct milter_cmd c;
		const char *err;
		size_t used;

		buf_append(&in, data + off, piece);
		off += piece;
		seed = (uint8_t)(seed * 31 + 7);
		while ((r->verdict = milter_decode(&d, in.data, in.len, &c, &used, &err)) == 1) {
			walk(&c, in.data, in.data + in.len);
			if (used == 0 || used > in.len)
				abort();
			if (r->n < 64)
				r->codes[r->n] = c.code;
			r->n++;
			r->bytes += used;
			buf_consume(&in, used);
			if (c.code == MILTER_CMD_PING) {
				/* the session answers and closes */
				r->ping = true;
				break;
			}
		}
		if (r->ping)
			break;
	}
	buf_deinit(&in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;

	if (size < 1)
		return 0;
	decode_all(data + 1, size - 1, 0, &whole);
	decode_all(data + 1, size - 1, data[0] | 1, &split);
	if (whole.n != split.n || whole.bytes != split.bytes ||
	    memcmp(whole.codes, split.codes, sizeof(whole.codes)) != 0)
		abort();
	if ((whole.verdict < 0) != (split.verdict < 0))
		abort();
	return 0;
}
