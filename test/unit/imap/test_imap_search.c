/*
 * test_imap_search.c - SEARCH programs: syntax, CHARSET, flags, sets,
 * dates, sizes, header and body text, OR/NOT nesting, lazy loading.
 */
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "imap/imap_args.h"
#include "imap/imap_search.h"
#include "test.h"

static const char message[] =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\r\n"
    "To: team@example.org\r\n"
    "Cc: boss@example.org\r\n"
    "Subject: =?UTF-8?B?UXVhcnRlcmx5IHLDqXN1bHRz?=\r\n"
    "Date: Tue, 1 Feb 1994 23:59:00 -0800\r\n"
    "X-Tag: Alpha Beta\r\n"
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

static struct pool *pool;
static unsigned loads;

static int
load_message(void *ctx, const char **data_r, size_t *len_r)
{
	(void)ctx;
	loads++;
	*data_r = message;
	*len_r = sizeof(message) - 1;
	return 0;
}

static int
load_fails(void *ctx, const char **data_r, size_t *len_r)
{
	(void)ctx, (void)data_r, (void)len_r;
	return -1;
}

static const char *const flags_seen[] = { "\\Seen", "\\Flagged", "$Work" };
static const char *const flags_new[] = { "\\Recent" };

/* seq 3, uid 30, 2000 bytes, internal date 1994-02-02 10:00 UTC. */
static void
msg_init(struct imap_search_msg *m, bool seen)
{
	memset(m, 0, sizeof(*m));
	m->seq = 3;
	m->uid = 30;
	m->flags = seen ? flags_seen : flags_new;
	m->n_flags = seen ? ARRAY_SIZE(flags_seen) : ARRAY_SIZE(flags_new);
	m->internal_date = 760183200;
	m->size = 2000;
	m->load = load_message;
}

static int
parse(const char *keys, struct imap_search_key **prog_r, const char **error_r)
{
	struct imap_command cmd;
	char line[1024];

	*error_r = NULL;
	if (str_format(line, sizeof(line), "a SEARCH %s\r\n", keys) < 0 ||
	    imap_parse_command(line, strlen(line), NULL, pool, &cmd,
	    error_r) < 0)
		return -2;
	return imap_search_parse(pool, cmd.args, cmd.n_args, 10, 100, prog_r,
	    error_r);
}

/* 1/0 match result for `keys`, -2 on a parse error, -1 on load error. */
static int
match(const char *keys, bool seen)
{
	struct imap_search_key *prog;
	struct imap_search_msg m;
	const char *error;
	int r;

	if (parse(keys, &prog, &error) < 0) {
		printf("parse error for %s: %s\n", keys, error);
		return -2;
	}
	msg_init(&m, seen);
	r = imap_search_match(prog, &m);
	imap_search_msg_clear(&m);
	return r;
}

static void
test_syntax(void)
{
	static const char *const bad[] = {
		"", "FOO", "BEFORE", "BEFORE 1-Foo-1994", "BEFORE 32-Jan-1994",
		"BEFORE 1-Jan-94", "LARGER x", "LARGER -1", "OR SEEN", "NOT",
		"()", "0", "1:0", "UID", "UID x", "HEADER", "HEADER X", "(SEEN",
		"SEEN)", "KEYWORD", "CHARSET UTF-8", "LARGER 99999999999",
	};
	struct imap_search_key *prog;
	const char *error;
	char deep[512];
	size_t i, n = 0;

	test_begin("search syntax");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = parse(bad[i], &prog, &error);

		if (r == 0)
			printf("accepted: %s\n", bad[i]);
		test_assert(r != 0);
	}
	test_assert(parse("CHARSET KOI8-R SEEN", &prog, &error) == -1);
	test_assert(strncmp(error, IMAP_SEARCH_BADCHARSET,
	    strlen(IMAP_SEARCH_BADCHARSET)) == 0);
	test_assert(parse("CHARSET utf-8 SEEN", &prog, &error) == 0);
	test_assert(!imap_search_needs_content(prog));
	test_assert(parse("CHARSET US-ASCII (SEEN SUBJECT x)", &prog,
	    &error) == 0 && imap_search_needs_content(prog));
	for (i = 0; i < 40; i++)
		n += (size_t)str_format(deep + n, sizeof(deep) - n, "NOT ");
	str_format(deep + n, sizeof(deep) - n, "SEEN");
	test_assert(parse(deep, &prog, &error) == -1);
	test_end();
}

static void
test_flags_sets_sizes(void)
{
	test_begin("search flags, sets, sizes");
	test_assert(match("ALL", true) == 1);
	test_assert(match("SEEN", true) == 1 && match("SEEN", false) == 0);
	test_assert(match("UNSEEN", false) == 1 && match("UNSEEN", true) == 0);
	test_assert(match("NEW", false) == 1 && match("NEW", true) == 0);
	test_assert(match("OLD", true) == 1 && match("RECENT", false) == 1);
	test_assert(match("FLAGGED UNANSWERED UNDELETED UNDRAFT", true) == 1);
	test_assert(match("ANSWERED", true) == 0 && match("DELETED", true) == 0);
	test_assert(match("KEYWORD $work", true) == 1);
	test_assert(match("UNKEYWORD $Work", true) == 0);
	test_assert(match("UNKEYWORD $Other", true) == 1);
	test_assert(match("3", true) == 1 && match("1:2,4:*", true) == 0);
	test_assert(match("*", true) == 0 && match("2:*", true) == 1);
	test_assert(match("UID 30", true) == 1 && match("UID 31:*", true) == 0);
	test_assert(match("LARGER 1999", true) == 1);
	test_assert(match("LARGER 2000", true) == 0);
	test_assert(match("SMALLER 2001", true) == 1);
	test_assert(match("SMALLER 2000", true) == 0);
	test_end();
}

static void
test_dates(void)
{
	test_begin("search dates");
	/* Internal date 1994-02-02 10:00 UTC. */
	test_assert(match("ON 2-Feb-1994", true) == 1);
	test_assert(match("ON \"02-feb-1994\"", true) == 1);
	test_assert(match("SINCE 2-Feb-1994", true) == 1);
	test_assert(match("SINCE 3-Feb-1994", true) == 0);
	test_assert(match("BEFORE 2-Feb-1994", true) == 0);
	test_assert(match("BEFORE 3-Feb-1994", true) == 1);
	/* Date: Tue, 1 Feb 1994 23:59 -0800: its own day, zone ignored. */
	test_assert(match("SENTON 1-Feb-1994", true) == 1);
	test_assert(match("SENTBEFORE 1-Feb-1994", true) == 0);
	test_assert(match("SENTBEFORE 2-Feb-1994", true) == 1);
	test_assert(match("SENTSINCE 1-Feb-1994", true) == 1);
	test_assert(match("SENTSINCE 2-Feb-1994", true) == 0);
	test_end();
}

static void
test_text(void)
{
	test_begin("search headers and text");
	test_assert(match("FROM j\xc3\xbcrgen", true) == 1);
	test_assert(match("FROM JUERGEN@EXAMPLE", true) == 1);
	test_assert(match("TO team", true) == 1 && match("TO boss", true) == 0);
	test_assert(match("CC boss", true) == 1 && match("BCC boss", true) == 0);
	test_assert(match("SUBJECT \"quarterly R\xc3\xa9sul\"", true) == 1);
	test_assert(match("SUBJECT {4}\r\nr\xc3\xa9s", true) == 1);
	test_assert(match("HEADER X-Tag beta", true) == 1);
	test_assert(match("HEADER x-tag \"\"", true) == 1);
	test_assert(match("HEADER X-Missing \"\"", true) == 0);
	test_assert(match("BODY \"gr\xc3\xbc\xc3\x9f" "er als\"", true) == 1);
	test_assert(match("BODY EXCEED", true) == 1); /* HTML part's text */
	test_assert(match("BODY Quarterly", true) == 0);
	test_assert(match("TEXT Quarterly", true) == 1);
	test_assert(match("TEXT x-tag", true) == 1);
	test_assert(match("TEXT nowhere", true) == 0);
	test_end();
}

static void
test_nesting(void)
{
	struct imap_search_key *prog;
	struct imap_search_msg m;
	const char *error;

	test_begin("search OR/NOT nesting and lazy loading");
	test_assert(match("OR SEEN DELETED", false) == 0);
	test_assert(match("OR DELETED (FLAGGED LARGER 100)", true) == 1);
	test_assert(match("NOT OR DELETED ANSWERED", true) == 1);
	test_assert(match("OR NOT SEEN NOT FLAGGED", true) == 0);
	test_assert(match("(OR (DELETED) (NOT (NOT SUBJECT r\xc3\xa9sults)))"
	    " NOT TO boss", true) == 1);
	test_assert(match("NOT (SEEN FROM nobody)", true) == 1);
	test_assert(match("OR (UID 1:5 BODY forecast) (3 NOT BODY forecast)",
	    true) == 0);
	/* Content is loaded only when cheap keys pass, and only once. */
	loads = 0;
	test_assert(match("SUBJECT quarterly DELETED", true) == 0 && loads == 0);
	test_assert(match("SUBJECT quarterly FROM example BODY forecast", true)
	    == 1 && loads == 1);
	test_assert(parse("BODY forecast", &prog, &error) == 0);
	msg_init(&m, true);
	m.load = load_fails;
	test_assert(imap_search_match(prog, &m) == -1);
	imap_search_msg_clear(&m);
	msg_init(&m, true);
	m.load = NULL;
	m.data = message;
	m.len = sizeof(message) - 1;
	test_assert(imap_search_match(prog, &m) == 1);
	imap_search_msg_clear(&m);
	test_end();
}

int
main(void)
{
	pool = pool_new(0);
	test_syntax();
	test_flags_sets_sizes();
	test_dates();
	test_text();
	test_nesting();
	pool_free(&pool);
	return test_exit();
}
