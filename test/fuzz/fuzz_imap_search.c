/*
 * fuzz_imap_search.c - libFuzzer target for IMAP SEARCH programs: the
 * input becomes the criteria of "a SEARCH ..." or "a UID SEARCH ..." (bit
 * 0 of the first byte), read by the IMAP command parser into an argument
 * tree (literals included) and handed to imap_search_parse(), with the
 * mailbox size taken from the first byte too so '*' and out-of-range
 * sets vary.
 *
 * A program that parses is evaluated against two fixed messages, one
 * loaded lazily through the callback and one given as bytes. Invariants:
 * a failed parse has an error text; a parsed program evaluates to 0 or 1
 * on those well-formed messages (never -1), the same result twice in a
 * row and the same after the parsed view is cleared; a program that says
 * it needs no content never calls the load callback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "imap/imap_args.h"
#include "imap/imap_search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_CRITERIA 4096

static const char fuzz_msg_a[] =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\r\n"
    "To: team@example.org, \"Ann\" <ann@example.org>\r\n"
    "Cc: boss@example.org\r\n"
    "Bcc: hidden@example.org\r\n"
    "Subject: =?UTF-8?B?UXVhcnRlcmx5IHLDqXN1bHRz?=\r\n"
    "Date: Tue, 1 Feb 1994 23:59:00 -0800\r\n"
    "X-Tag: Alpha\r\n Beta\r\n"
    "Content-Type: multipart/alternative; boundary=x\r\n"
    "\r\n"
    "--x\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Die Zahlen sind gr=FC=DFer als erwartet.\r\n"
    "--x\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>Numbers <b>exceed</b> the forecast</p>\r\n"
    "--x--\r\n";

static const char fuzz_msg_b[] =
    "From: alice@example.net\r\nSubject: lunch\r\n"
    "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nSee you at noon.\r\n";

static const char *const fuzz_flags_a[] = { "\\Seen", "\\Flagged", "$Work", "\\Answered" };
static const char *const fuzz_flags_b[] = { "\\Recent", "\\Draft", "\\Deleted" };

static int
load_a(void *ctx, const char **data_r, size_t *len_r)
{
	unsigned *calls = ctx;

	(*calls)++;
	*data_r = fuzz_msg_a;
	*len_r = sizeof(fuzz_msg_a) - 1;
	return 0;
}

static int
load_never(void *ctx, const char **data_r, size_t *len_r)
{
	(void)ctx, (void)data_r, (void)len_r;
	__builtin_trap();
}

/* Match, match again, clear, match on the reparsed view: all equal. */
static int
match_stable(const struct imap_search_key *prog, struct imap_search_msg *m)
{
	int r1 = imap_search_match(prog, m), r2 = imap_search_match(prog, m), r3;

	imap_search_msg_clear(m);
	r3 = imap_search_match(prog, m);
	imap_search_msg_clear(m);
	if (r1 < 0 || r1 > 1 || r1 != r2 || r1 != r3)
		__builtin_trap();
	return r1;
}

static void
evaluate(const struct imap_search_key *prog)
{
	struct imap_search_msg m;
	unsigned calls = 0;
	bool content = imap_search_needs_content(prog);

	memset(&m, 0, sizeof(m));
	m.seq = 3;
	m.uid = 30;
	m.flags = fuzz_flags_a;
	m.n_flags = sizeof(fuzz_flags_a) / sizeof(fuzz_flags_a[0]);
	m.internal_date = 760183200;
	m.tz_minutes = -480;
	m.size = sizeof(fuzz_msg_a) - 1;
	m.load = content ? load_a : load_never;
	m.load_ctx = &calls;
	match_stable(prog, &m);
	if (calls > 2)
		__builtin_trap();

	memset(&m, 0, sizeof(m));
	m.seq = 1;
	m.uid = 1;
	m.flags = fuzz_flags_b;
	m.n_flags = sizeof(fuzz_flags_b) / sizeof(fuzz_flags_b[0]);
	m.internal_date = 1795946400;
	m.size = sizeof(fuzz_msg_b) - 1;
	m.data = fuzz_msg_b;
	m.len = sizeof(fuzz_msg_b) - 1;
	match_stable(prog, &m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix_plain[] = "a SEARCH ", prefix_uid[] = "a UID SEARCH ";
	struct imap_reader_limits lim = { 4096, 4096, 4096, 16, 512 };
	struct imap_command cmd;
	struct imap_search_key *prog;
	const char *err = NULL, *prefix;
	struct pool *pool;
	char *line;
	size_t n, plen;
	uint32_t max_seq;

	if (size < 1 || size > FUZZ_MAX_CRITERIA)
		return 0;
	prefix = (data[0] & 1) ? prefix_uid : prefix_plain;
	plen = strlen(prefix);
	/* 0, 1, 3 (the message's seq) or more messages in the mailbox */
	max_seq = (uint32_t)(data[0] >> 1) % 8;
	line = malloc(plen + size + 2);
	memcpy(line, prefix, plen);
	memcpy(line + plen, data + 1, size - 1);
	n = plen + size - 1;
	line[n++] = '\r';
	line[n++] = '\n';
	pool = pool_new(1 << 20);
	if (imap_parse_command(line, n, &lim, pool, &cmd, &err) == 0) {
		const struct imap_arg *args = cmd.args;
		size_t n_args = cmd.n_args;

		if (data[0] & 1) {
			if (n_args == 0 || !imap_arg_atom_is(&args[0], "SEARCH"))
				__builtin_trap();
			args++;
			n_args--;
		}
		err = NULL;
		if (imap_search_parse(pool, args, n_args, max_seq, max_seq * 10 + 5,
		    &prog, &err) == 0)
			evaluate(prog);
		else if (err == NULL)
			__builtin_trap();
	}
	pool_free(&pool);
	free(line);
	return 0;
}
