/* Unit tests for RFC 5321 path parsing and relay trick classification. */
#include <stdio.h>
#include <string.h>

#include "smtp/smtp_addr.h"
#include "test.h"

static int
parse(const char *in, unsigned flags, struct smtp_addr *a, enum smtp_addr_error *err)
{
	size_t used;

	return smtp_addr_parse(in, strlen(in), flags, a, &used, err);
}

static bool
parses_to(const char *in, unsigned flags, const char *want)
{
	struct smtp_addr a;
	enum smtp_addr_error err;
	char text[SMTP_ADDR_TEXT_MAX];

	if (parse(in, flags, &a, &err) < 0)
		return false;
	return smtp_addr_format(&a, text, sizeof(text)) >= 0 && strcmp(text, want) == 0;
}

static void
test_valid(void)
{
	struct smtp_addr a;
	enum smtp_addr_error err;
	size_t used;
	const char *in = "<a@b.example> SIZE=10";

	test_begin("addr: valid paths and normalization");
	test_assert(parses_to("<User.Name+tag@Example.COM>", 0, "User.Name+tag@example.com"));
	test_assert(parses_to("  <a@b.c>", 0, "a@b.c"));
	test_assert(parses_to("<\"plain\"@x.org>", 0, "plain@x.org"));
	test_assert(parses_to("<\"a b\"@x.org>", 0, "\"a b\"@x.org"));
	test_assert(parses_to("<\"a\\\"b\"@x.org>", 0, "\"a\\\"b\"@x.org"));
	test_assert(parses_to("<a@[192.0.2.1]>", 0, "a@[192.0.2.1]"));
	test_assert(parses_to("<a@[IPv6:2001:db8::1]>", 0, "a@[ipv6:2001:db8::1]"));
	test_assert(parses_to("<>", SMTP_ADDR_ALLOW_NULL, ""));
	test_assert(!parses_to("<>", 0, ""));
	test_assert(parses_to("<Postmaster>", SMTP_ADDR_ALLOW_POSTMASTER, "Postmaster"));
	test_assert(!parses_to("<bob>", SMTP_ADDR_ALLOW_POSTMASTER, "bob"));
	test_assert(parses_to("a@b.c", SMTP_ADDR_ALLOW_UNBRACKETED, "a@b.c"));
	test_assert(!parses_to("a@b.c", 0, "a@b.c"));
	test_assert(parses_to("<@r1.test,@r2.test:u@d.test>", 0, "u@d.test"));
	test_assert(smtp_addr_parse(in, strlen(in), 0, &a, &used, &err) == 0 && used == 13);
	test_assert(parses_to("<\xc3\xbc@b\xc3\xa9.test>", SMTP_ADDR_ALLOW_UTF8, "\xc3\xbc@b\xc3\xa9.test"));
	test_end();
}

static void
test_invalid(void)
{
	static const char *const bad[] = {
		"", "<", "<a@b.c", "a@b.c>", "<a@>", "<@b.c>", "<a.@b.c>", "<.a@b.c>",
		"<a..b@c.d>", "<a@b..c>", "<a@-b.c>", "<a@b-.c>", "<a b@c.d>", "<a@b.c>x",
		"<a@[1.2.3.4>", "<a@[]>", "<\"a@b.c>", "<a@b@c.d>", "<@x:>", "<@:a@b.c>",
		"<a@b.c\x01>", "<a\0b@c.d>", "<a@.>", "<a@b.c..>",
	};
	struct smtp_addr a;
	enum smtp_addr_error err;
	char local[80], path[300];

	test_begin("addr: syntax errors and limits");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool failed = parse(bad[i], SMTP_ADDR_ALLOW_UTF8, &a, &err) < 0;

		test_assert(failed);
	}
	memset(local, 'l', 65);
	local[65] = '\0';
	(void)snprintf(path, sizeof(path), "<%s@x.org>", local);
	test_assert(parse(path, 0, &a, &err) < 0);
	local[64] = '\0';
	(void)snprintf(path, sizeof(path), "<%s@x.org>", local);
	test_assert(parse(path, 0, &a, &err) == 0);
	/* path over 256: a 64-char local part and a long domain. */
	memset(path, 0, sizeof(path));
	(void)snprintf(path, sizeof(path), "<%s@%s.%s.%s.org>", local,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	test_assert(parse(path, 0, &a, &err) < 0 && err == SMTP_ADDR_ERR_TOO_LONG);
	/* Without brackets the limit still counts them (found by fuzzing: a
	 * 255-byte bare path could not be written back as <...>). */
	{
		char bare[300];

		/* "u@" then 60-letter labels separated by dots */
		memset(bare, 'd', sizeof(bare));
		memcpy(bare, "u@", 2);
		for (size_t i = 62; i < sizeof(bare); i += 61)
			bare[i] = '.';
		bare[255] = '\0';
		test_assert(parse(bare, SMTP_ADDR_ALLOW_UNBRACKETED, &a, &err) < 0 &&
		    err == SMTP_ADDR_ERR_TOO_LONG);
		bare[254] = '\0';
		test_assert(parse(bare, SMTP_ADDR_ALLOW_UNBRACKETED, &a, &err) == 0);
	}
	test_assert(parse("<\xc3\xbc@b.test>", 0, &a, &err) < 0 && err == SMTP_ADDR_ERR_UTF8);
	test_assert(parse("<\xc3(@b.test>", SMTP_ADDR_ALLOW_UTF8, &a, &err) < 0 &&
	    err == SMTP_ADDR_ERR_SYNTAX);
	test_assert(parse("<\xed\xa0\x80@b.test>", SMTP_ADDR_ALLOW_UTF8, &a, &err) < 0);
	test_end();
}

static enum smtp_relay_trick
trick(const char *in)
{
	struct smtp_addr a;
	enum smtp_addr_error err;

	if (parse(in, SMTP_ADDR_ALLOW_POSTMASTER, &a, &err) < 0)
		return (enum smtp_relay_trick)-1;
	return smtp_addr_relay_trick(&a);
}

static void
test_relay_tricks(void)
{
	test_begin("addr: relay tricks");
	test_assert(trick("<user@ext.test>") == SMTP_TRICK_NONE);
	test_assert(trick("<\"user@ext.test\"@local.test>") == SMTP_TRICK_LOCAL_AT);
	test_assert(trick("<user%ext.test@local.test>") == SMTP_TRICK_LOCAL_PERCENT);
	test_assert(trick("<\"user%ext.test\"@local.test>") == SMTP_TRICK_LOCAL_PERCENT);
	test_assert(trick("<ext.test!user@local.test>") == SMTP_TRICK_LOCAL_BANG);
	test_assert(trick("<\"ext!user\"@local.test>") == SMTP_TRICK_LOCAL_BANG);
	test_assert(trick("<@local.test:user@ext.test>") == SMTP_TRICK_SOURCE_ROUTE);
	test_assert(trick("<@a.test,@local.test:user@ext.test>") == SMTP_TRICK_SOURCE_ROUTE);
	test_assert(trick("<user@[1.2.3.4]>") == SMTP_TRICK_ADDR_LITERAL);
	test_assert(trick("<user@local.test.>") == SMTP_TRICK_TRAILING_DOT);
	/* An unquoted second '@' is a syntax error, never "the last one wins". */
	test_assert((int)trick("<user@ext.test@local.test>") == -1);
	test_assert(trick("<postmaster>") == SMTP_TRICK_NONE);
	test_assert(strcmp(smtp_relay_trick_name(SMTP_TRICK_SOURCE_ROUTE), "source route") == 0);
	test_end();
}

int
main(void)
{
	test_valid();
	test_invalid();
	test_relay_tricks();
	return test_exit();
}
