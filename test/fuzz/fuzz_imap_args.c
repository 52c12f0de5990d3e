/*
 * libFuzzer target for the IMAP command reader. The input is fed twice,
 * whole and split at a point taken from the first byte; both runs must
 * produce the same sequence of results (framing does not depend on how
 * the bytes arrive), consume no more than given, and respect the limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"

#define FUZZ_MAX_EVENTS 256

static size_t
count_args(const struct imap_arg *a, size_t n, unsigned depth, unsigned *max_depth)
{
	size_t total = n;

	if (depth > *max_depth)
		*max_depth = depth;
	for (size_t i = 0; i < n; i++) {
		if (a[i].list != NULL)
			total += count_args(a[i].list, a[i].n_list, depth + 1, max_depth);
		if ((a[i].type == IMAP_ARG_ATOM || a[i].type == IMAP_ARG_STRING) &&
		    a[i].str[a[i].len] != '\0')
			abort();
	}
	return total;
}

static size_t
run(const uint8_t *data, size_t size, size_t split, int *events)
{
	struct imap_reader_limits lim = { 256, 64, 1024, 4, 32 };
	struct imap_reader *r = imap_reader_new(&lim);
	size_t n_ev = 0, pos = 0;

	while (pos < size && n_ev < FUZZ_MAX_EVENTS) {
		size_t end = pos < split ? split : size, used = 0;
		struct imap_command cmd;
		const char *err;
		enum imap_read res = imap_reader_feed(r, (const char *)data + pos, end - pos,
		    &used, &cmd, &err);

		if (used > end - pos || (res == IMAP_READ_MORE && used != end - pos))
			abort();
		pos += used;
		if (res == IMAP_READ_MORE)
			continue;
		events[n_ev++] = (int)res;
		if (res == IMAP_READ_COMMAND) {
			unsigned depth = 0;

			if (count_args(cmd.args, cmd.n_args, 0, &depth) > lim.args_max ||
			    depth > lim.depth_max + 1 || cmd.tag == NULL || cmd.name == NULL)
				abort();
		}
		if (res == IMAP_READ_FATAL)
			break;
	}
	imap_reader_free(&r);
	return n_ev;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int a[FUZZ_MAX_EVENTS], b[FUZZ_MAX_EVENTS];
	size_t na, nb, split;

	if (size < 1)
		return 0;
	split = 1 + data[0] % size;
	na = run(data + 1, size - 1, 0, a);
	nb = run(data + 1, size - 1, split - 1, b);
	if (na < FUZZ_MAX_EVENTS && (na != nb || memcmp(a, b, na * sizeof(int)) != 0))
		abort();
	return 0;
}
