/*
 * fuzz_imap_mutf7.c - modified UTF-7 both ways.
 *
 * Invariants: decoding valid input and encoding the result gives the
 * input back; encoding any accepted UTF-8 gives valid modified UTF-7 that
 * decodes to the same bytes; the validator agrees with the decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_mutf7.h"

static void
check_decode(const char *in, size_t len)
{
	struct buf u, m;
	const char *error;
	int r;

	buf_init(&u, 0);
	buf_init(&m, 0);
	r = imap_mutf7_to_utf8(in, len, &u, &error);
	if ((r == 0) != imap_mutf7_valid(in, len))
		abort();
	if (r == 0) {
		if (imap_utf8_to_mutf7(u.data, u.len, &m, &error) < 0 ||
		    m.len != len || (len > 0 && memcmp(m.data, in, len) != 0))
			abort();
	}
	buf_deinit(&u);
	buf_deinit(&m);
}

static void
check_encode(const char *in, size_t len)
{
	struct buf u, m;
	const char *error;

	buf_init(&u, 0);
	buf_init(&m, 0);
	if (imap_utf8_to_mutf7(in, len, &m, &error) == 0) {
		if (!imap_mutf7_valid(m.data, m.len) ||
		    imap_mutf7_to_utf8(m.data, m.len, &u, &error) < 0 ||
		    u.len != len || (len > 0 && memcmp(u.data, in, len) != 0))
			abort();
	}
	buf_deinit(&u);
	buf_deinit(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode((const char *)data, size);
	check_encode((const char *)data, size);
	return 0;
}
