/*
 * test_imap_args.c - the IMAP command reader: whole and byte-by-byte
 * input give the same tree; literals (synchronising and LITERAL+), the
 * continuation request, limits and recovery after bad lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "imap/imap_args.h"
#include "test.h"

/* What feeding produced, rendered as text so split points can be compared. */
struct run {
	struct imap_reader *r;
	struct buf out;
	unsigned continues;
};

static void
render_arg(struct buf *b, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_printf(b, "A:%.*s", (int)a->len, a->str);
		if (a->list != NULL) {
			buf_append_cstr(b, "{sec:");
			for (size_t i = 0; i < a->n_list; i++) {
				buf_putc(b, ' ');
				render_arg(b, &a->list[i]);
			}
			buf_putc(b, '}');
		}
		break;
	case IMAP_ARG_STRING:
		buf_printf(b, "%s:%zu:", a->literal ? "L" : "S", a->len);
		buf_append(b, a->str, a->len);
		break;
	case IMAP_ARG_NIL:
		buf_append_cstr(b, "NIL");
		break;
	case IMAP_ARG_LIST:
		buf_putc(b, '(');
		for (size_t i = 0; i < a->n_list; i++) {
			if (i > 0)
				buf_putc(b, ' ');
			render_arg(b, &a->list[i]);
		}
		buf_putc(b, ')');
		break;
	}
}

static int
feed_chunk(const void *data, size_t n, void *ctx)
{
	struct run *run = ctx;
	const char *p = data;

	while (n > 0) {
		struct imap_command cmd;
		const char *err;
		size_t used;
		enum imap_read res = imap_reader_feed(run->r, p, n, &used, &cmd, &err);

		p += used;
		n -= used;
		switch (res) {
		case IMAP_READ_COMMAND:
			buf_printf(&run->out, "[%s %s", cmd.tag, cmd.name);
			for (size_t i = 0; i < cmd.n_args; i++) {
				buf_putc(&run->out, ' ');
				render_arg(&run->out, &cmd.args[i]);
			}
			buf_append_cstr(&run->out, "]");
			break;
		case IMAP_READ_CONTINUE:
			run->continues++;
			buf_append_cstr(&run->out, "+");
			break;
		case IMAP_READ_BAD:
			buf_printf(&run->out, "[BAD %s %s]", cmd.tag, err);
			break;
		case IMAP_READ_TOOBIG:
			buf_printf(&run->out, "[TOOBIG %s]", cmd.tag);
			break;
		case IMAP_READ_FATAL:
			buf_append_cstr(&run->out, "[FATAL]");
			return -1;
		case IMAP_READ_MORE:
			if (used == 0 && n > 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Feeds `in` in chunks of `chunk` bytes; returns the rendering (heap). */
static char *
run_input(const char *in, size_t len, size_t chunk, const struct imap_reader_limits *lim)
{
	struct run run;
	size_t n;

	memset(&run, 0, sizeof(run));
	run.r = imap_reader_new(lim);
	buf_init(&run.out, 0);
	(void)test_trickle(in, len, chunk, feed_chunk, &run);
	imap_reader_free(&run.r);
	buf_putc(&run.out, '\0');
	return buf_steal(&run.out, &n);
}

/* Checks that whole, byte-by-byte and 7-byte feeding give `want`. */
static void
expect(const char *in, const char *want, const struct imap_reader_limits *lim)
{
	size_t chunks[] = { 1000000, 1, 7 };

	for (size_t i = 0; i < 3; i++) {
		char *got = run_input(in, strlen(in), chunks[i], lim);
		bool ok = strcmp(got, want) == 0;

		if (!ok)
			fprintf(stderr, "chunk %zu:\n got  %s\n want %s\n", chunks[i], got, want);
		test_assert(ok);
		free(got);
	}
}

static void
test_basic(void)
{
	test_begin("simple commands, atoms, quoted strings, NIL, lists");
	expect("a1 NOOP\r\n", "[a1 NOOP]", NULL);
	expect("a2 login \"joe\" \"se\\\"cr\\\\et\"\r\n",
	    "[a2 LOGIN S:3:joe S:8:se\"cr\\et]", NULL);
	expect("a3 STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted)\n",
	    "[a3 STORE A:1:* A:+FLAGS.SILENT (A:\\Seen A:\\Deleted)]", NULL);
	expect("a4 X nil (NIL ()) ((a) b)\r\n", "[a4 X NIL (NIL ()) ((A:a) A:b)]", NULL);
	expect("a5 LIST \"\" %\r\n", "[a5 LIST S:0: A:%]", NULL);
	test_end();
}

static void
test_sections(void)
{
	test_begin("BODY[...]<...> stays one atom with its section list");
	expect("f FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)\r\n",
	    "[f FETCH A:1 (A:BODY.PEEK[HEADER.FIELDS (From To)]<0.100>{sec: A:From A:To} A:UID)]",
	    NULL);
	expect("f FETCH 2 BODY[1.2.MIME]\r\n", "[f FETCH A:2 A:BODY[1.2.MIME]]", NULL);
	expect("f FETCH 2 BODY[]\r\n", "[f FETCH A:2 A:BODY[]]", NULL);
	expect("f FETCH 2 BODY[1\r\n", "[BAD f bad section]", NULL);
	test_end();
}

static void
test_literals(void)
{
	test_begin("literals: synchronising asks for +, LITERAL+ does not");
	/* a NUL inside a literal is data */
	{
		static const char in[] = "a LOGIN {3}\r\njoe {4+}\r\np\0ss\r\nb NOOP\r\n";
		char *got = run_input(in, sizeof(in) - 1, 1, NULL);

		test_assert(memcmp(got, "+[a LOGIN L:3:joe L:4:p\0ss][b NOOP]", 35) == 0);
		free(got);
	}
	expect("a APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
	    "[a APPEND A:INBOX (A:\\Seen) L:5:hello]", NULL);
	expect("a APPEND INBOX {0}\r\n\r\n", "+[a APPEND A:INBOX L:0:]", NULL);
	/* "{5}" inside literal data is not a literal marker */
	expect("a X {3}\r\n{5}\r\n", "+[a X L:3:{5}]", NULL);
	test_end();
}

static void
test_limits(void)
{
	struct imap_reader_limits lim = { 40, 10, 100, 3, 8 };

	test_begin("limits: line, literal, APPEND literal, depth, argument count");
	expect("a X {11}\r\nb NOOP\r\n", "[TOOBIG a][b NOOP]", &lim);
	expect("a APPEND x {11}\r\n01234567890\r\n", "+[a APPEND A:x L:11:01234567890]", &lim);
	expect("a APPEND x {101}\r\nb NOOP\r\n", "[TOOBIG a][b NOOP]", &lim);
	expect("a X {11+}\r\n01234567890\r\n", "[FATAL]", &lim);
	expect("a X 0123456789012345678901234567890123456789\r\nb NOOP\r\n",
	    "[BAD a command line too long][b NOOP]", &lim);
	expect("a X (((x)))\r\n", "[a X (((A:x)))]", &lim);
	expect("a X ((((x))))\r\nb NOOP\r\n", "[BAD a too deeply nested][b NOOP]", &lim);
	expect("a X 1 2 3 4 5 6 7 8\r\n", "[a X A:1 A:2 A:3 A:4 A:5 A:6 A:7 A:8]", &lim);
	expect("a X 1 2 3 4 5 6 7 8 9\r\n", "[BAD a too many arguments]", &lim);
	test_end();
}

static void
test_bad(void)
{
	test_begin("bad syntax is BAD and the next command still works");
	expect("\r\nb NOOP\r\n", "[BAD * missing tag][b NOOP]", NULL);
	expect("a\r\n", "[BAD a missing command]", NULL);
	expect("a X (a\r\n", "[BAD a missing space between arguments]", NULL);
	expect("a X \"abc\r\n", "[BAD a bad character in quoted string]", NULL);
	expect("a X a  b\r\n", "[BAD a unexpected character]", NULL);
	expect("a X a)\r\n", "[BAD a missing space between arguments]", NULL);
	expect("+ X\r\n", "[BAD * missing tag]", NULL);
	test_end();
}

static void
test_lines(void)
{
	struct imap_reader *r = imap_reader_new(NULL);
	const char *line = NULL;
	size_t used;

	test_begin("raw lines (IDLE DONE, AUTHENTICATE responses)");
	test_assert(imap_reader_line(r, "DO", 2, &used, &line) == 0 && used == 2);
	test_assert(imap_reader_line(r, "NE\r\nx", 5, &used, &line) == 1 && used == 4);
	test_assert(strcmp(line, "DONE") == 0);
	test_assert(imap_reader_line(r, "x\n", 2, &used, &line) == 1 && strcmp(line, "x") == 0);
	imap_reader_free(&r);
	test_end();
}

int
main(void)
{
	test_basic();
	test_sections();
	test_literals();
	test_limits();
	test_bad();
	test_lines();
	return test_exit();
}
