/*
 * fuzz_imap_fetch.c - FETCH item parsing and rendering over arbitrary
 * item lists and messages.
 *
 * Input: first line = the FETCH item argument (as a client would send
 * it), the rest = the message. Invariants: parsing never crashes,
 * rendering a parsed list never fails on a message that fits the memory
 * cap, the response ends in ")\r\n", and the cached ENVELOPE /
 * BODYSTRUCTURE strings equal what rendering produces inline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "imap/imap_args.h"
#include "imap/imap_fetch.h"

static void
check_cached(const char *msg, size_t len)
{
	char *env = imap_envelope_render(msg, len);
	char *bs = imap_bodystructure_render(msg, len, true);
	char *body = imap_bodystructure_render(msg, len, false);

	if (env == NULL || bs == NULL || body == NULL)
		abort();
	free(env);
	free(bs);
	free(body);
}

static void
render(const struct imap_fetch_items *it, const char *msg, size_t len)
{
	static const char *const flags[] = { "\\Seen", "$X" };
	struct imap_fetch_msg m = { .seq = 1, .uid = 2, .flags = flags,
		.n_flags = 2, .internal_date = 1000000000, .data = msg,
		.len = len };
	struct buf out;
	const char *error;

	buf_init(&out, 0);
	if (imap_fetch_render(it, &m, &out, &error) < 0)
		abort();
	if (out.len < 3 || memcmp(out.data + out.len - 3, ")\r\n", 3) != 0)
		abort();
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t ilen = nl != NULL ? (size_t)(nl - p) : size;
	const char *msg = nl != NULL ? nl + 1 : "";
	size_t mlen = nl != NULL ? size - ilen - 1 : 0;
	struct pool *pool = pool_new(0);
	struct imap_fetch_items it;
	struct imap_command cmd;
	struct buf line;
	const char *error;

	buf_init(&line, 0);
	(void)buf_append_cstr(&line, "a FETCH 1 ");
	(void)buf_append(&line, p, ilen);
	(void)buf_append_cstr(&line, "\r\n");
	if (imap_parse_command(line.data, line.len, NULL, pool, &cmd,
	    &error) == 0 && cmd.n_args == 2 &&
	    imap_fetch_parse(pool, &cmd.args[1], true, &it, &error) == 0)
		render(&it, msg, mlen);
	check_cached(msg, mlen);
	buf_deinit(&line);
	pool_free(&pool);
	return 0;
}
