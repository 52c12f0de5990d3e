/*
 * test_imap_fetch.c - FETCH item parsing and rendering: BODYSTRUCTURE of
 * a multipart/alternative with an attachment and of a message/rfc822
 * part against hand-checked strings, BODY[section] bytes, partials,
 * ENVELOPE with encoded words and groups, \Seen semantics, and a corpus
 * smoke test that rendering never fails.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "imap/imap_args.h"
#include "imap/imap_fetch.h"
#include "test.h"

static const char msg_alt[] =
    "From: \"Alice Example\" <alice@example.com>\r\n"
    "To: bob@example.org, \"Carol\" <carol@example.net>\r\n"
    "Subject: Test\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hello =C3=A9\r\n"
    "world\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Hello</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <pdf1>\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--outer--\r\n";

static const char msg_fwd[] =
    "From: a@b.c\r\n"
    "Subject: fwd\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "see attached\r\n"
    "--b\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: Inner <inner@x.org>\r\n"
    "Subject: inner\r\n"
    "Date: Tue, 1 Jan 2002 00:00:00 +0000\r\n"
    "\r\n"
    "inner body\r\n"
    "line2\r\n"
    "--b--\r\n";

static const char msg_env[] =
    "Date: Wed, 3 Mar 2021 10:00:00 +0100\r\n"
    "Subject: =?UTF-8?B?w6ljb2xl?= \r\n"
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\r\n"
    "To: undisclosed-recipients:;\r\n"
    "Cc: Team: a@x.org, \"B \\\"Q\\\"\" <b@x.org>;, c@y.org\r\n"
    "\r\n"
    "body\r\n";

static struct pool *pool;

/* Parses "FETCH 1 <items>" through the real command parser. */
static int
parse_items(const char *items, bool uid, struct imap_fetch_items *it)
{
	struct imap_command cmd;
	const char *error = NULL;
	char line[1024];

	if (str_format(line, sizeof(line), "a FETCH 1 %s\r\n", items) < 0 ||
	    imap_parse_command(line, strlen(line), NULL, pool, &cmd,
	    &error) < 0 || cmd.n_args != 2)
		return -2;
	return imap_fetch_parse(pool, &cmd.args[1], uid, it, &error);
}

/* Renders `items` for `msg` and compares the whole response line. */
static bool
render_is(const char *msg, const char *items, const char *want)
{
	struct imap_fetch_items it;
	struct imap_fetch_msg m = { .seq = 1, .uid = 42, .data = msg,
		.len = strlen(msg) };
	struct buf out;
	const char *error;
	bool ok;

	if (parse_items(items, false, &it) < 0)
		return false;
	buf_init(&out, 0);
	ok = imap_fetch_render(&it, &m, &out, &error) == 0 &&
	    strcmp(out.data, want) == 0;
	if (!ok)
		printf("got:  %s\nwant: %s\n", out.data, want);
	buf_deinit(&out);
	return ok;
}

static bool
str_is(char *got, const char *want)
{
	bool ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("got:  %s\nwant: %s\n", got != NULL ? got : "(null)", want);
	free(got);
	return ok;
}

static void
test_parse(void)
{
	static const char *const bad[] = {
		"BODY[", "BODY[]<", "BODY[]<1>", "BODY[]<1.0>", "BODY[0]",
		"BODY[1.]", "BODY[MIME]", "BODY[HEADER.FIELDS]", "BODY[TEXT.1]",
		"BODY[1..2]", "BODY.PEAK[]", "FOO", "(ALL)", "()", "BODY[01]",
		"BODY[HEADER.FIELDS ()]", "BODY[]<01.5>", "BODY[HEADER.FIELDSX (A)]",
		"BODY[]<4294967296.1>",
	};
	struct imap_fetch_items it;
	size_t i;

	test_begin("fetch parse");
	test_assert(parse_items("ALL", false, &it) == 0);
	test_assert(it.items == (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	    IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE) && !it.sets_seen);
	test_assert(parse_items("fast", true, &it) == 0);
	test_assert((it.items & IMAP_FETCH_UID) && !it.needs_content);
	test_assert(parse_items("FULL", false, &it) == 0 &&
	    (it.items & IMAP_FETCH_BODY) && it.needs_content);
	test_assert(parse_items("(UID RFC822.SIZE BODY.PEEK[1.2.HEADER] "
	    "body[2.mime]<0.10>)", false, &it) == 0);
	test_assert(it.n_bodies == 2 && it.sets_seen);
	test_assert(it.bodies[0].peek && it.bodies[0].n_part == 2 &&
	    it.bodies[0].part[1] == 2 &&
	    it.bodies[0].section == IMAP_SECTION_HEADER);
	test_assert(strcmp(it.bodies[0].name, "BODY[1.2.HEADER]") == 0);
	test_assert(strcmp(it.bodies[1].name, "BODY[2.MIME]<0>") == 0);
	test_assert(it.bodies[1].partial && it.bodies[1].count == 10);
	test_assert(parse_items("BODY.PEEK[HEADER.FIELDS.NOT (X-A \"x-b\")]",
	    false, &it) == 0);
	test_assert(it.bodies[0].section == IMAP_SECTION_HEADER_FIELDS_NOT);
	test_assert(it.bodies[0].n_fields == 2 &&
	    strcmp(it.bodies[0].fields[1], "x-b") == 0);
	test_assert(!it.sets_seen);
	test_assert(parse_items("RFC822.HEADER", false, &it) == 0 &&
	    !it.sets_seen);
	test_assert(parse_items("RFC822.TEXT", false, &it) == 0 && it.sets_seen);
	test_assert(parse_items("(RFC822)", false, &it) == 0 && it.sets_seen);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_items(bad[i], false, &it) == 0)
			printf("accepted: %s\n", bad[i]);
		test_assert(parse_items(bad[i], false, &it) != 0);
	}
	test_end();
}

static void
test_bodystructure(void)
{
	test_begin("bodystructure alternative + attachment");
	test_assert(str_is(imap_bodystructure_render(msg_alt, strlen(msg_alt),
	    true),
	    "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" 19 2 NIL NIL NIL NIL)"
	    "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1 "
	    "NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)"
	    "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") \"<pdf1>\" NIL "
	    "\"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME\" \"a.pdf\")) NIL NIL)"
	    " \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)"));
	test_assert(str_is(imap_bodystructure_render(msg_alt, strlen(msg_alt),
	    false),
	    "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	    "\"QUOTED-PRINTABLE\" 19 2)"
	    "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1)"
	    " \"ALTERNATIVE\")"
	    "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") \"<pdf1>\" NIL "
	    "\"BASE64\" 12) \"MIXED\")"));
	test_end();

	test_begin("bodystructure message/rfc822");
	test_assert(str_is(imap_bodystructure_render(msg_fwd, strlen(msg_fwd),
	    true),
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1 "
	    "NIL NIL NIL NIL)"
	    "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 100 "
	    "(\"Tue, 1 Jan 2002 00:00:00 +0000\" \"inner\" "
	    "((\"Inner\" NIL \"inner\" \"x.org\")) "
	    "((\"Inner\" NIL \"inner\" \"x.org\")) "
	    "((\"Inner\" NIL \"inner\" \"x.org\")) NIL NIL NIL NIL NIL) "
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 2 "
	    "NIL NIL NIL NIL) 6 NIL NIL NIL NIL)"
	    " \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)"));
	test_assert(str_is(imap_bodystructure_render("Subject: x\r\n\r\nhi\r\n",
	    18, true),
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 4 1 "
	    "NIL NIL NIL NIL)"));
	test_end();
}

static void
test_envelope(void)
{
	test_begin("envelope");
	test_assert(str_is(imap_envelope_render(msg_env, strlen(msg_env)),
	    "(\"Wed, 3 Mar 2021 10:00:00 +0100\" \"=?UTF-8?B?w6ljb2xl?=\" "
	    "((\"=?UTF-8?B?QW5kcsOp?=\" NIL \"andre\" \"example.fr\")) "
	    "((\"=?UTF-8?B?QW5kcsOp?=\" NIL \"andre\" \"example.fr\")) "
	    "((\"=?UTF-8?B?QW5kcsOp?=\" NIL \"andre\" \"example.fr\")) "
	    "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	    "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")"
	    "({5}\r\nB \"Q\" NIL \"b\" \"x.org\")(NIL NIL NIL NIL)"
	    "(NIL NIL \"c\" \"y.org\")) NIL NIL NIL)"));
	test_assert(str_is(imap_envelope_render("\r\nbody", 6),
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"));
	test_assert(str_is(imap_envelope_render("Subject: a\r\n b\\c\r\n"
	    "Message-ID: <x@y>\r\nIn-Reply-To: <p@q>\r\n\r\n", 59),
	    "(NIL {5}\r\na b\\c NIL NIL NIL NIL NIL NIL \"<p@q>\" \"<x@y>\")"));
	test_end();
}

static void
test_sections(void)
{
	test_begin("fetch sections");
	test_assert(render_is(msg_alt, "BODY.PEEK[1.1]",
	    "* 1 FETCH (BODY[1.1] {19}\r\nHello =C3=A9\r\nworld)\r\n"));
	test_assert(render_is(msg_alt, "BODY.PEEK[2]",
	    "* 1 FETCH (BODY[2] {12}\r\nJVBERi0xLjQK)\r\n"));
	test_assert(render_is(msg_alt, "BODY.PEEK[2.MIME]",
	    "* 1 FETCH (BODY[2.MIME] {153}\r\n"
	    "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-ID: <pdf1>\r\n\r\n)\r\n"));
	test_assert(render_is(msg_alt,
	    "BODY.PEEK[HEADER.FIELDS (From Subject)]",
	    "* 1 FETCH (BODY[HEADER.FIELDS (From Subject)] {60}\r\n"
	    "From: \"Alice Example\" <alice@example.com>\r\n"
	    "Subject: Test\r\n\r\n)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[HEADER.FIELDS.NOT (From "
	    "Content-Type)]", "* 1 FETCH (BODY[HEADER.FIELDS.NOT (From "
	    "Content-Type)] {16}\r\nSubject: fwd\r\n\r\n)\r\n"));
	test_assert(render_is(msg_alt, "BODY.PEEK[]<0.10>",
	    "* 1 FETCH (BODY[]<0> {10}\r\nFrom: \"Ali)\r\n"));
	test_assert(render_is(msg_alt, "BODY.PEEK[2]<10.100>",
	    "* 1 FETCH (BODY[2]<10> {2}\r\nQK)\r\n"));
	test_assert(render_is(msg_alt, "BODY.PEEK[2]<100.5>",
	    "* 1 FETCH (BODY[2]<100> {0}\r\n)\r\n"));
	test_assert(render_is(msg_alt, "(UID BODY.PEEK[3] BODY.PEEK[1.3])",
	    "* 1 FETCH (UID 42 BODY[3] NIL BODY[1.3] NIL)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[2.HEADER.FIELDS (subject)]",
	    "* 1 FETCH (BODY[2.HEADER.FIELDS (subject)] {18}\r\n"
	    "Subject: inner\r\n\r\n)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[2.TEXT]",
	    "* 1 FETCH (BODY[2.TEXT] {17}\r\ninner body\r\nline2)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[2.1]",
	    "* 1 FETCH (BODY[2.1] {17}\r\ninner body\r\nline2)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[2.MIME]",
	    "* 1 FETCH (BODY[2.MIME] {32}\r\n"
	    "Content-Type: message/rfc822\r\n\r\n)\r\n"));
	test_assert(render_is(msg_fwd, "BODY.PEEK[1.HEADER]",
	    "* 1 FETCH (BODY[1.HEADER] {0}\r\n)\r\n"));
	test_assert(render_is("Subject: x\r\n\r\nhi\r\n", "(RFC822.HEADER "
	    "RFC822.TEXT BODY.PEEK[1] BODY.PEEK[TEXT])",
	    "* 1 FETCH (RFC822.HEADER {14}\r\nSubject: x\r\n\r\n "
	    "RFC822.TEXT {4}\r\nhi\r\n BODY[1] {4}\r\nhi\r\n "
	    "BODY[TEXT] {4}\r\nhi\r\n)\r\n"));
	test_end();
}

static void
test_render_misc(void)
{
	static const char *const flags[] = { "\\Seen", "$Label1" };
	struct imap_fetch_items it;
	struct imap_fetch_msg m = { .seq = 7, .uid = 9, .flags = flags,
		.n_flags = 2, .internal_date = 760686745, .tz_minutes = -480,
		.data = msg_alt, .len = strlen(msg_alt), .size = 1000,
		.envelope = "(CACHED)" };
	struct buf out;
	const char *error;

	test_begin("fetch render misc");
	buf_init(&out, 0);
	test_assert(parse_items("(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
	    true, &it) == 0);
	test_assert(imap_fetch_render(&it, &m, &out, &error) == 0);
	test_assert(strcmp(out.data, "* 7 FETCH (UID 9 FLAGS (\\Seen $Label1) "
	    "INTERNALDATE \" 7-Feb-1994 21:52:25 -0800\" RFC822.SIZE 1000 "
	    "ENVELOPE (CACHED))\r\n") == 0);
	/* \Seen was just set: FLAGS comes along unasked. */
	buf_reset(&out);
	m.include_flags = true;
	test_assert(parse_items("BODY[]<0.4>", false, &it) == 0 && it.sets_seen);
	test_assert(imap_fetch_render(&it, &m, &out, &error) == 0);
	test_assert(strcmp(out.data, "* 7 FETCH (FLAGS (\\Seen $Label1) "
	    "BODY[]<0> {4}\r\nFrom)\r\n") == 0);
	/* A full buffer fails and leaves the earlier contents alone. */
	buf_deinit(&out);
	buf_init(&out, 64);
	buf_append_cstr(&out, "keep");
	test_assert(parse_items("BODY[]", false, &it) == 0);
	test_assert(imap_fetch_render(&it, &m, &out, &error) < 0);
	test_assert(out.len == 4 && strcmp(out.data, "keep") == 0);
	buf_deinit(&out);
	test_end();
}

/* Every corpus message renders with every item, within its size. */
static void
test_corpus(void)
{
	const char *dir = getenv("CORPUS_DIR");
	static const char *const subdirs[] = { "easy-ham-1", "spam-1",
		"hard-ham-1" };
	struct imap_fetch_items it;
	size_t d, n = 0, failed = 0;

	test_begin("fetch corpus smoke");
	if (dir == NULL)
		dir = "/work/shared/corpus";
	test_assert(parse_items("(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[1.MIME] "
	    "BODY.PEEK[HEADER.FIELDS (From To)] BODY.PEEK[2.1] BODY.PEEK[TEXT])",
	    false, &it) == 0);
	for (d = 0; d < ARRAY_SIZE(subdirs); d++) {
		char path[4096];
		DIR *dh;
		struct dirent *de;
		size_t k = 0;

		if (str_format(path, sizeof(path), "%s/%s", dir, subdirs[d]) < 0 ||
		    (dh = opendir(path)) == NULL)
			continue;
		while ((de = readdir(dh)) != NULL && k < 150) {
			char file[4096];
			struct imap_fetch_msg m = { .seq = 1, .uid = 1 };
			struct buf out;
			const char *error;
			char *data;
			size_t len;

			if (de->d_name[0] == '.' || str_format(file, sizeof(file),
			    "%s/%s", path, de->d_name) < 0 ||
			    (data = test_read_file(file, &len)) == NULL)
				continue;
			m.data = data;
			m.len = len;
			buf_init(&out, 0);
			if (imap_fetch_render(&it, &m, &out, &error) < 0)
				failed++;
			n++, k++;
			buf_deinit(&out);
			free(data);
		}
		closedir(dh);
	}
	printf("corpus: %zu messages rendered, %zu failed\n", n, failed);
	test_assert(n > 0 && failed == 0);
	test_end();
}

int
main(void)
{
	pool = pool_new(0);
	test_parse();
	test_bodystructure();
	test_envelope();
	test_sections();
	test_render_misc();
	test_corpus();
	pool_free(&pool);
	return test_exit();
}
