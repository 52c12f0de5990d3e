/*
 * test_pop3_proto.c - the POP3 command parser, number parsers, SASL
 * PLAIN decoder and the RETR/TOP encoder, the latter fed whole and byte
 * by byte.
 */
#include <stdio.h>
#include <string.h>

#include "core/codec.h"
#include "pop3/pop3_proto.h"
#include "test.h"

static bool
parse_ok(const char *line, enum pop3_verb verb, unsigned n_args)
{
	struct pop3_cmd cmd;
	enum pop3_parse_error err;

	return pop3_cmd_parse(line, strlen(line), &cmd, &err) == 0 && err == POP3_PARSE_OK &&
	    cmd.verb == verb && cmd.n_args == n_args;
}

static enum pop3_parse_error
parse_err(const char *line, size_t len)
{
	struct pop3_cmd cmd;
	enum pop3_parse_error err;

	if (pop3_cmd_parse(line, len, &cmd, &err) == 0)
		return POP3_PARSE_OK;
	return err;
}

static void
test_commands(void)
{
	struct pop3_cmd cmd;
	enum pop3_parse_error err;
	char longarg[400];

	test_begin("pop3 command parser");
	test_assert(parse_ok("CAPA", POP3_CMD_CAPA, 0));
	test_assert(parse_ok("capa", POP3_CMD_CAPA, 0));
	test_assert(parse_ok("USER bob@example.com", POP3_CMD_USER, 1));
	test_assert(parse_ok("LIST", POP3_CMD_LIST, 0));
	test_assert(parse_ok("LIST 3", POP3_CMD_LIST, 1));
	test_assert(parse_ok("list  3 ", POP3_CMD_LIST, 1));
	test_assert(parse_ok("TOP 1 10", POP3_CMD_TOP, 2));
	test_assert(parse_ok("UIDL", POP3_CMD_UIDL, 0));
	test_assert(parse_ok("AUTH", POP3_CMD_AUTH, 0));
	test_assert(parse_ok("AUTH PLAIN", POP3_CMD_AUTH, 1));
	test_assert(parse_ok("AUTH PLAIN AGJvYgBzZWNyZXQ=", POP3_CMD_AUTH, 2));
	test_assert(parse_ok("STLS", POP3_CMD_STLS, 0));
	test_assert(parse_ok("QUIT", POP3_CMD_QUIT, 0));

	test_assert(parse_err("XYZZY", 5) == POP3_PARSE_UNKNOWN);
	test_assert(parse_err("", 0) == POP3_PARSE_UNKNOWN);
	test_assert(parse_err("RETRX 1", 7) == POP3_PARSE_UNKNOWN);
	test_assert(parse_err("RETR", 4) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("RETR 1 2", 8) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("TOP 1", 5) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("STAT x", 6) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("USER", 4) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("USER a\tb", 8) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("USER a\0b", 8) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("PASS", 4) == POP3_PARSE_SYNTAX);
	test_assert(parse_err("PASS ", 5) == POP3_PARSE_SYNTAX);
	memset(longarg, 'a', sizeof(longarg));
	memcpy(longarg, "USER ", 5);
	test_assert(parse_err(longarg, sizeof(longarg)) == POP3_PARSE_SYNTAX);

	/* PASS keeps spaces: the password is the rest of the line. */
	test_assert(pop3_cmd_parse("PASS two  words ", 16, &cmd, &err) == 0);
	test_assert(cmd.verb == POP3_CMD_PASS && str_eq_cstr(cmd.rest, "two  words "));
	test_assert(pop3_cmd_parse("top 7 0", 7, &cmd, &err) == 0);
	test_assert(str_eq_cstr(cmd.args[0], "7") && str_eq_cstr(cmd.args[1], "0"));
	test_assert(strcmp(pop3_verb_name(POP3_CMD_RETR), "RETR") == 0);
	test_end();
}

static void
test_numbers(void)
{
	unsigned n;
	uint64_t c;

	test_begin("pop3 message numbers");
	test_assert(pop3_msgno_parse(str_from_cstr("1"), 5, &n) == 0 && n == 1);
	test_assert(pop3_msgno_parse(str_from_cstr("5"), 5, &n) == 0 && n == 5);
	test_assert(pop3_msgno_parse(str_from_cstr("6"), 5, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr("0"), 5, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr("-1"), 5, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr("+1"), 5, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr("1e3"), 5000, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr("99999999999"), 5, &n) < 0);
	test_assert(pop3_msgno_parse(str_from_cstr(""), 5, &n) < 0);
	test_assert(pop3_count_parse(str_from_cstr("0"), &c) == 0 && c == 0);
	test_assert(pop3_count_parse(str_from_cstr("4294967295"), &c) == 0);
	test_assert(pop3_count_parse(str_from_cstr("4294967296"), &c) < 0);
	test_end();
}

static int
plain(const char *raw, size_t len, const char **user_r, const char **pass_r, char *out)
{
	char b64[256];
	size_t n = base64_encode(raw, len, b64);

	return pop3_sasl_plain_decode(b64, n, out, user_r, pass_r);
}

static void
test_sasl(void)
{
	char out[256];
	const char *u, *p;

	test_begin("pop3 SASL PLAIN");
	test_assert(plain("\0bob\0secret", 11, &u, &p, out) == 0);
	test_assert(strcmp(u, "bob") == 0 && strcmp(p, "secret") == 0);
	test_assert(plain("bob\0bob\0pw x", 12, &u, &p, out) == 0);
	test_assert(strcmp(u, "bob") == 0 && strcmp(p, "pw x") == 0);
	test_assert(plain("eve\0bob\0secret", 14, &u, &p, out) < 0);
	test_assert(plain("\0bob\0", 5, &u, &p, out) < 0);
	test_assert(plain("\0\0secret", 8, &u, &p, out) < 0);
	test_assert(plain("bobsecret", 9, &u, &p, out) < 0);
	test_assert(plain("\0bob\0sec\0ret", 12, &u, &p, out) < 0);
	test_assert(pop3_sasl_plain_decode("=", 1, out, &u, &p) < 0);
	test_assert(pop3_sasl_plain_decode("!!!!", 4, out, &u, &p) < 0);
	test_end();
}

struct enc_run {
	struct pop3_enc e;
	struct buf out;
};

static int
enc_chunk(const void *data, size_t n, void *ctx)
{
	struct enc_run *r = ctx;

	return pop3_enc_feed(&r->e, data, n, &r->out);
}

/* Encodes `in` whole and in every chunk size 1..7; all must give `want`. */
static bool
enc_check(const char *in, bool top, uint64_t lines, const char *want)
{
	bool ok = true;

	for (size_t chunk = 0; chunk <= 7; chunk++) {
		struct enc_run r;

		pop3_enc_init(&r.e, top, lines);
		buf_init(&r.out, 0);
		if (chunk == 0)
			(void)pop3_enc_feed(&r.e, in, strlen(in), &r.out);
		else
			(void)test_trickle(in, strlen(in), chunk, enc_chunk, &r);
		(void)pop3_enc_finish(&r.e, &r.out);
		if (r.out.len != strlen(want) || memcmp(r.out.data, want, r.out.len) != 0) {
			printf("chunk %zu: got [%.*s] want [%s]\n", chunk, (int)r.out.len,
			    r.out.data, want);
			ok = false;
		}
		buf_deinit(&r.out);
	}
	return ok;
}

static void
test_encoder(void)
{
	test_begin("pop3 RETR/TOP encoder");
	test_assert(enc_check("", false, 0, ".\r\n"));
	test_assert(enc_check("A: b\r\n\r\nbody\r\n", false, 0, "A: b\r\n\r\nbody\r\n.\r\n"));
	test_assert(enc_check("A: b\n\nbody", false, 0, "A: b\r\n\r\nbody\r\n.\r\n"));
	test_assert(enc_check("A: b\r\n\r\n.\r\n..x\r\n.", false, 0,
	    "A: b\r\n\r\n..\r\n...x\r\n..\r\n.\r\n"));
	test_assert(enc_check("A: b\r\n\r\na.b\r\n", false, 0, "A: b\r\n\r\na.b\r\n.\r\n"));
	test_assert(enc_check("x\r", false, 0, "x\r\n.\r\n"));
	test_assert(enc_check("a\rb\n", false, 0, "a\rb\r\n.\r\n"));
	test_assert(enc_check("A: b\r\nC: d\r\n\r\n1\r\n2\r\n3\r\n", true, 0,
	    "A: b\r\nC: d\r\n\r\n.\r\n"));
	test_assert(enc_check("A: b\r\nC: d\r\n\r\n1\r\n.2\r\n3\r\n", true, 2,
	    "A: b\r\nC: d\r\n\r\n1\r\n..2\r\n.\r\n"));
	test_assert(enc_check("A: b\n\n1\n2\n", true, 5, "A: b\r\n\r\n1\r\n2\r\n.\r\n"));
	test_assert(enc_check("A: b\r\nC: d", true, 0, "A: b\r\nC: d\r\n.\r\n"));
	test_assert(enc_check("A: b\r\n\r\n\r\n\r\nx\r\n", true, 1, "A: b\r\n\r\n\r\n.\r\n"));
	test_end();
}

static void
test_encoder_limit(void)
{
	struct pop3_enc e;
	struct buf out;

	test_begin("pop3 encoder output limit");
	buf_init(&out, 8);
	pop3_enc_init(&e, false, 0);
	test_assert(pop3_enc_feed(&e, "0123456789\r\n", 12, &out) < 0);
	buf_deinit(&out);
	test_end();
}

int
main(void)
{
	test_commands();
	test_numbers();
	test_sasl();
	test_encoder();
	test_encoder_limit();
	return test_exit();
}
