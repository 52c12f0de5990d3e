/*
 * test_imap_mutf7.c - modified UTF-7: RFC 3501 examples, round trips,
 * and refusal of every non-canonical or broken spelling.
 */
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "imap/imap_mutf7.h"
#include "test.h"

static bool
enc_is(const char *utf8, const char *want)
{
	struct buf b;
	const char *error;
	bool ok;

	buf_init(&b, 0);
	ok = imap_utf8_to_mutf7(utf8, strlen(utf8), &b, &error) == 0 &&
	    b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0);
	buf_deinit(&b);
	return ok;
}

static bool
dec_is(const char *m7, const char *want)
{
	struct buf b;
	const char *error;
	bool ok;

	buf_init(&b, 0);
	ok = imap_mutf7_to_utf8(m7, strlen(m7), &b, &error) == 0 &&
	    b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0);
	buf_deinit(&b);
	return ok && imap_mutf7_valid(m7, strlen(m7));
}

static bool
dec_fails(const char *m7)
{
	struct buf b;
	const char *error = NULL;
	bool ok;

	buf_init(&b, 0);
	buf_append_cstr(&b, "keep");
	ok = imap_mutf7_to_utf8(m7, strlen(m7), &b, &error) < 0 &&
	    error != NULL && b.len == 4 && !imap_mutf7_valid(m7, strlen(m7));
	buf_deinit(&b);
	return ok;
}

static bool
enc_fails(const char *utf8, size_t len)
{
	struct buf b;
	const char *error = NULL;
	bool ok;

	buf_init(&b, 0);
	ok = imap_utf8_to_mutf7(utf8, len, &b, &error) < 0 && b.len == 0;
	buf_deinit(&b);
	return ok;
}

static void
test_examples(void)
{
	test_begin("mutf7 examples");
	/* RFC 3501 5.1.3: "~peter/mail/台北/日本語" */
	test_assert(enc_is("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	    "~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
	test_assert(dec_is("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"));
	test_assert(enc_is("&", "&-") && dec_is("&-", "&"));
	test_assert(enc_is("A&B&&", "A&-B&-&-") && dec_is("A&-B&-&-", "A&B&&"));
	test_assert(enc_is("", "") && dec_is("", ""));
	test_assert(enc_is("INBOX", "INBOX"));
	/* Entwürfe; U+1F600 needs a surrogate pair. */
	test_assert(enc_is("Entw\xc3\xbcrfe", "Entw&APw-rfe"));
	test_assert(dec_is("Entw&APw-rfe", "Entw\xc3\xbcrfe"));
	test_assert(enc_is("\xf0\x9f\x98\x80", "&2D3eAA-"));
	test_assert(dec_is("&2D3eAA-", "\xf0\x9f\x98\x80"));
	/* Japanese folder name 受信箱 and a mixed one. */
	test_assert(enc_is("\xe5\x8f\x97\xe4\xbf\xa1\xe7\xae\xb1", "&U9dP4Xux-"));
	test_assert(dec_is("&U9dP4Xux-", "\xe5\x8f\x97\xe4\xbf\xa1\xe7\xae\xb1"));
	test_assert(dec_is("a&AOk-b&AOk-", "a\xc3\xa9" "b\xc3\xa9"));
	test_end();
}

static void
test_invalid(void)
{
	test_begin("mutf7 invalid");
	test_assert(dec_fails("&"));          /* unterminated */
	test_assert(dec_fails("&AGE"));
	test_assert(dec_fails("&AGE-&AGI-"));  /* must be one run */
	test_assert(dec_fails("&AEE-"));       /* 'A' encoded */
	test_assert(dec_fails("&APx-"));       /* nonzero padding bits */
	test_assert(dec_fails("&APw"));
	test_assert(dec_fails("&2D0-"));       /* lone high surrogate */
	test_assert(dec_fails("&3gA-"));       /* lone low surrogate */
	test_assert(dec_fails("&A/w-"));       /* '/' is not in the alphabet */
	test_assert(dec_fails("&AA-"));        /* too few bits for a unit */
	test_assert(dec_fails("&AAA-"));       /* U+0000 */
	test_assert(dec_fails("a\tb"));
	test_assert(dec_fails("\xc3\xa9"));
	test_assert(dec_fails("&-&"));
	test_assert(enc_fails("\xc3", 1));
	test_assert(enc_fails("\xc0\xaf", 2));          /* overlong */
	test_assert(enc_fails("\xed\xa0\x80", 3));      /* surrogate */
	test_assert(enc_fails("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	test_assert(enc_fails("a\nb", 3));
	test_assert(enc_fails("a\0b", 3));
	test_assert(enc_fails("\xc3\xa9\x01", 3));
	test_end();
}

static void
test_round_trip(void)
{
	static const char *const names[] = {
		"Sent", "Junk & Spam", "\xe5\x8f\x97\xe4\xbf\xa1\xe7\xae\xb1/&x",
		"\xd0\x9f\xd0\xb8\xd1\x81\xd1\x8c\xd0\xbc\xd0\xb0", "a-b&-c",
		"\xf0\x9f\x93\xa7 mail \xf0\x9f\x93\xa7\xf0\x9f\x93\xa7",
		"\xc2\xa0", "x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9y",
	};
	size_t i;

	test_begin("mutf7 round trip");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		struct buf m, u;
		const char *error;

		buf_init(&m, 0);
		buf_init(&u, 0);
		test_assert(imap_utf8_to_mutf7(names[i], strlen(names[i]), &m,
		    &error) == 0);
		test_assert(imap_mutf7_valid(m.data, m.len));
		test_assert(imap_mutf7_to_utf8(m.data, m.len, &u, &error) == 0);
		test_assert(u.len == strlen(names[i]) &&
		    (u.len == 0 || memcmp(u.data, names[i], u.len) == 0));
		buf_deinit(&m);
		buf_deinit(&u);
	}
	test_end();
}

int
main(void)
{
	test_examples();
	test_invalid();
	test_round_trip();
	return test_exit();
}
