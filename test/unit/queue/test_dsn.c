/*
 * test_dsn.c - the bounce builder: reply status parsing, the structure of
 * the produced multipart/report, header injection through replies and
 * addresses, folding, 8-bit originals and the size cap.
 *
 * The produced message is checked with a deliberately small parser of
 * our own (line endings, the top-level boundary, the three parts and
 * their content types, the required RFC 3464 fields) rather than the
 * project's MIME parser, so the test does not depend on the mime area.
 */
#include "core/buf.h"
#include "core/str.h"
#include "queue/dsn.h"
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sample[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: hello\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"\r\n"
	"Body line one.\r\n"
	"Body line two.\r\n";

struct parsed {
	struct str headers;
	struct str parts[8];
	size_t part_count;
	bool closed;
};

static bool
has(struct str s, const char *needle)
{
	return memmem(s.ptr, s.len, needle, strlen(needle)) != NULL;
}

/* Every line ends in CRLF, no bare CR or LF, no line over 998 bytes. */
static bool
lines_ok(const struct buf *b)
{
	size_t i, col = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				return false;
			i++;
			col = 0;
			continue;
		}
		if (b->data[i] == '\n' || ++col > 998)
			return false;
	}
	return b->len >= 2 && b->data[b->len - 1] == '\n';
}

/* Splits at the boundary of the top-level Content-Type. */
static bool
parse(const struct buf *b, struct parsed *p)
{
	struct str all = str_make(b->data, b->len), body;
	const char *hend = memmem(all.ptr, all.len, "\r\n\r\n", 4), *bp, *q;
	char delim[200];
	size_t dlen;

	memset(p, 0, sizeof(*p));
	if (hend == NULL)
		return false;
	p->headers = str_make(all.ptr, (size_t)(hend - all.ptr) + 2);
	bp = memmem(p->headers.ptr, p->headers.len, "boundary=\"", 10);
	if (bp == NULL)
		return false;
	bp += 10;
	q = memchr(bp, '"', (size_t)(hend - bp));
	if (q == NULL || str_format(delim, sizeof(delim), "\r\n--%.*s",
	    (int)(q - bp), bp) < 0)
		return false;
	dlen = strlen(delim);
	body = str_make(hend + 2, b->len - (size_t)(hend + 2 - b->data));
	bp = memmem(body.ptr, body.len, delim, dlen);
	while (bp != NULL && p->part_count < 8) {
		const char *start = bp + dlen, *next;

		if ((size_t)(b->data + b->len - start) >= 2 && start[0] == '-' &&
		    start[1] == '-') {
			p->closed = true;
			break;
		}
		next = memmem(start, (size_t)(b->data + b->len - start), delim, dlen);
		if (next == NULL)
			return false;
		p->parts[p->part_count++] = str_make(start, (size_t)(next - start));
		bp = next;
	}
	return p->closed;
}

static void
base_message(struct dsn_message *m, struct dsn_rcpt *r, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->kind = DSN_FAILED;
	m->queue_id = "0123456789ABCDEF0";
	m->myhostname = "mx.example.com";
	m->sender = STR_LIT("alice@example.org");
	m->arrival = 1700000000;
	m->now = 1700003600;
	m->rcpts = r;
	m->rcpt_count = n;
	m->original = str_make(sample, sizeof(sample) - 1);
	m->original_size = sizeof(sample) - 1;
}

static void
test_status(void)
{
	char st[DSN_STATUS_SIZE];

	test_begin("status from reply");
	test_assert(dsn_status_from_reply(STR_LIT("550 5.1.1 <x>: unknown"), st) == 1 &&
	    strcmp(st, "5.1.1") == 0);
	test_assert(dsn_status_from_reply(STR_LIT("452-4.2.2 mailbox full"), st) == 1 &&
	    strcmp(st, "4.2.2") == 0);
	test_assert(dsn_status_from_reply(STR_LIT("  554 5.7.123 spam"), st) == 1 &&
	    strcmp(st, "5.7.123") == 0);
	test_assert(dsn_status_from_reply(STR_LIT("550 no such user"), st) == 0 &&
	    strcmp(st, "5.0.0") == 0);
	test_assert(dsn_status_from_reply(STR_LIT("421"), st) == 0 &&
	    strcmp(st, "4.0.0") == 0);
	/* class mismatch: derive from the basic code */
	test_assert(dsn_status_from_reply(STR_LIT("550 4.1.1 x"), st) == 0 &&
	    strcmp(st, "5.0.0") == 0);
	test_assert(dsn_status_from_reply(STR_LIT("550 5.1.1234 x"), st) == 0);
	test_assert(dsn_status_from_reply(STR_LIT("550 5.1.1x"), st) == 0);
	test_assert(dsn_status_from_reply(STR_LIT("mailbox full"), st) == -1 &&
	    st[0] == '\0');
	test_assert(dsn_status_from_reply(STR_LIT("5500 x"), st) == -1);
	test_assert(dsn_status_from_reply(STR_LIT("650 x"), st) == -1);
	test_assert(dsn_status_from_reply(STR_LIT(""), st) == -1);
	test_assert(dsn_status_from_reply(STR_LIT("55"), st) == -1);
	test_end();
}

static void
test_should_bounce(void)
{
	test_begin("never bounce a bounce");
	test_assert(!dsn_should_bounce(STR_LIT("")));
	test_assert(!dsn_should_bounce(STR_LIT("<>")));
	test_assert(!dsn_should_bounce(STR_LIT(" ")));
	test_assert(dsn_should_bounce(STR_LIT("a@b")));
	{
		struct dsn_message m;
		struct dsn_rcpt r = { .addr = STR_LIT("bob@example.net") };
		struct buf out;
		const char *err;

		base_message(&m, &r, 1);
		m.sender = STR_LIT("");
		buf_init(&out, 0);
		test_assert(dsn_build(&m, &out, &err) == -1 && err != NULL);
		m.sender = STR_LIT("a@b");
		m.rcpt_count = 0;
		test_assert(dsn_build(&m, &out, &err) == -1);
		m.rcpt_count = 1;
		m.myhostname = "bad host\r\nX: y";
		test_assert(dsn_build(&m, &out, &err) == -1);
		buf_deinit(&out);
	}
	test_end();
}

static void
test_structure(void)
{
	struct dsn_rcpt r[2] = {
		{ .orig = STR_LIT("<bob@example.net>"), .addr = STR_LIT("bob@example.net"),
		  .reply = STR_LIT("550 5.1.1 <bob@example.net>: Recipient address rejected"),
		  .remote_mta = STR_LIT("mx.example.net"), .last_attempt = 1700003000 },
		{ .orig = STR_LIT("carol@alias.example"), .addr = STR_LIT("carol@example.net"),
		  .reply = STR_LIT("mailbox unavailable") },
	};
	struct dsn_message m;
	struct parsed p;
	struct buf out;
	const char *err = NULL;

	test_begin("failed: structure and fields");
	base_message(&m, r, 2);
	buf_init(&out, 0);
	test_assert(dsn_build(&m, &out, &err) == 0);
	test_assert(lines_ok(&out));
	test_assert(parse(&out, &p));
	test_assert(has(p.headers, "From: \"Mail Delivery System\" <MAILER-DAEMON@mx.example.com>\r\n"));
	test_assert(has(p.headers, "To: <alice@example.org>\r\n"));
	test_assert(has(p.headers, "Subject: Undelivered Mail Returned to Sender\r\n"));
	test_assert(has(p.headers, "Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n"));
	test_assert(has(p.headers, "Message-ID: <"));
	test_assert(has(p.headers, "Auto-Submitted: auto-replied\r\n"));
	test_assert(has(p.headers, "Content-Type: multipart/report; report-type=delivery-status;"));
	test_assert(p.part_count == 3);
	test_assert(has(p.parts[0], "Content-Type: text/plain"));
	test_assert(has(p.parts[0], "<bob@example.net>: host mx.example.net said:"));
	test_assert(has(p.parts[0], "550 5.1.1 <bob@example.net>: Recipient address rejected"));
	test_assert(has(p.parts[0], "<carol@example.net>:\r\n    mailbox unavailable"));
	test_assert(has(p.parts[1], "Content-Type: message/delivery-status\r\n"));
	test_assert(has(p.parts[1], "Reporting-MTA: dns; mx.example.com\r\n"));
	test_assert(has(p.parts[1], "X-Queue-ID: 0123456789ABCDEF0\r\n"));
	test_assert(has(p.parts[1], "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	test_assert(has(p.parts[1], "\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address\r\n"
	    " rejected\r\nLast-Attempt-Date: Tue, 14 Nov 2023 23:03:20 +0000\r\n"));
	test_assert(has(p.parts[1], "Final-Recipient: rfc822; carol@example.net\r\n"
	    "Original-Recipient: rfc822; carol@alias.example\r\nAction: failed\r\n"
	    "Status: 5.0.0\r\n"));
	test_assert(!has(p.parts[1], "Will-Retry-Until"));
	test_assert(has(p.parts[2], "Content-Type: message/rfc822\r\n\r\n"));
	test_assert(has(p.parts[2], sample));
	buf_deinit(&out);
	test_end();
}

static void
test_delayed(void)
{
	struct dsn_rcpt r = { .addr = STR_LIT("bob@example.net"),
		.reply = STR_LIT("451 4.7.1 Greylisted, try again"),
		.remote_mta = STR_LIT("mx.example.net") };
	struct dsn_message m;
	struct parsed p;
	struct buf out;
	const char *err;

	test_begin("delayed: subject, action, will-retry-until");
	base_message(&m, &r, 1);
	m.kind = DSN_DELAYED;
	m.will_retry_until = 1700000000 + 5 * 86400;
	m.headers_only = true;
	buf_init(&out, 0);
	test_assert(dsn_build(&m, &out, &err) == 0);
	test_assert(lines_ok(&out) && parse(&out, &p) && p.part_count == 3);
	test_assert(has(p.headers, "Subject: Delayed Mail (still being retried)\r\n"));
	test_assert(has(p.parts[1], "Action: delayed\r\nStatus: 4.7.1\r\n"));
	test_assert(has(p.parts[1], "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000\r\n"));
	test_assert(has(p.parts[2], "Content-Type: text/rfc822-headers\r\n"));
	test_assert(has(p.parts[2], "Subject: hello\r\n"));
	test_assert(!has(p.parts[2], "Body line"));
	/* a 5xx reply in a delay notice still gets a 4.x.x status */
	r.reply = STR_LIT("550 5.1.1 odd");
	buf_reset(&out);
	test_assert(dsn_build(&m, &out, &err) == 0 && has(str_make(out.data, out.len),
	    "Action: delayed\r\nStatus: 4.0.0\r\n"));
	buf_deinit(&out);
	test_end();
}

static void
test_injection(void)
{
	char longreply[1500];
	struct dsn_rcpt r = { .addr = STR_LIT("bob@example.net\r\nBcc: evil@x"),
		.remote_mta = STR_LIT("mx\r\nX-Injected: 1") };
	struct dsn_message m;
	struct parsed p;
	struct buf out;
	const char *err;
	size_t i;

	test_begin("CR/LF and NUL in replies and addresses, long replies folded");
	for (i = 0; i < sizeof(longreply); i++)
		longreply[i] = (i % 9 == 8) ? ' ' : 'a';
	memcpy(longreply, "550 5.7.1 ", 10);
	memcpy(longreply + 100, "\r\nSubject: pwned\r\n\0\x01", 20);
	r.reply = str_make(longreply, sizeof(longreply));
	base_message(&m, &r, 1);
	m.sender = STR_LIT("<alice@example.org>\r\nCc: x@y");
	buf_init(&out, 0);
	test_assert(dsn_build(&m, &out, &err) == 0);
	test_assert(lines_ok(&out) && parse(&out, &p) && p.part_count == 3);
	test_assert(!has(str_make(out.data, out.len), "\r\nBcc:"));
	test_assert(!has(str_make(out.data, out.len), "\r\nCc:"));
	test_assert(!has(str_make(out.data, out.len), "\r\nX-Injected"));
	test_assert(!has(str_make(out.data, out.len), "\r\nSubject: pwned"));
	test_assert(memchr(out.data, '\0', out.len) == NULL);
	test_assert(has(p.parts[1], "Status: 5.7.1\r\n"));
	/* the diagnostic spans several folded lines, each under 80 columns */
	{
		const char *d = memmem(p.parts[1].ptr, p.parts[1].len,
		    "Diagnostic-Code:", 16);
		const char *e = d != NULL ? memmem(d, p.parts[1].len -
		    (size_t)(d - p.parts[1].ptr), "\r\nLast-Attempt", 14) : NULL;
		size_t folds = 0, col = 0;

		test_assert(d != NULL && e != NULL);
		for (; d != NULL && d < e; d++) {
			if (*d == '\n') {
				folds++;
				test_assert(d[1] == ' ');
				col = 0;
			} else if (++col > 80) {
				test_assert(!"line too long");
				break;
			}
		}
		test_assert(folds > 10);
	}
	/* a reply without any whitespace is cut below 998 columns */
	memset(longreply, 'x', sizeof(longreply));
	buf_reset(&out);
	test_assert(dsn_build(&m, &out, &err) == 0 && lines_ok(&out));
	buf_deinit(&out);
	test_end();
}

static void
test_8bit_and_cap(void)
{
	static const char orig8[] =
		"From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\r\n"
		"Subject: Gr\xc3\xbc\xc3\x9f""e\r\n"
		"X-Raw: \xe2\x82\xac 100\r\n"
		"\r\n"
		"body\n"
		"bare LF above\n";
	struct dsn_rcpt r = { .addr = STR_LIT("bob@example.net"),
		.reply = STR_LIT("550 5.1.1 gone \xc3\xa9t\xc3\xa9") };
	struct dsn_message m;
	struct parsed p;
	struct buf out, big;
	const char *err;
	size_t i;

	test_begin("8-bit originals kept byte-exact; size cap returns headers");
	base_message(&m, &r, 1);
	m.original = str_make(orig8, sizeof(orig8) - 1);
	m.original_size = sizeof(orig8) - 1;
	buf_init(&out, 0);
	test_assert(dsn_build(&m, &out, &err) == 0 && lines_ok(&out));
	test_assert(parse(&out, &p) && p.part_count == 3);
	test_assert(has(p.headers, "Content-Transfer-Encoding: 8bit\r\n"));
	test_assert(has(p.parts[2], "Content-Transfer-Encoding: 8bit\r\n"));
	test_assert(has(p.parts[2], "Subject: Gr\xc3\xbc\xc3\x9f""e\r\nX-Raw: \xe2\x82\xac 100\r\n"));
	test_assert(has(p.parts[2], "body\r\nbare LF above\r\n"));
	/* the report itself stays 7-bit */
	test_assert(has(p.parts[1], "gone ??t??\r\n"));
	for (i = 0; i < p.parts[1].len; i++)
		if ((unsigned char)p.parts[1].ptr[i] >= 0x80)
			break;
	test_assert(i == p.parts[1].len);

	/* over the cap: headers only, as text/rfc822-headers */
	buf_init(&big, 0);
	test_assert(buf_append(&big, sample, 102) == 0); /* headers + blank */
	for (i = 0; i < 3000; i++)
		test_assert(buf_append_cstr(&big, "0123456789012345678901234567890123456789\r\n") == 0);
	m.original = str_make(big.data, big.len);
	m.original_size = big.len;
	m.return_max = 1000;
	buf_reset(&out);
	test_assert(dsn_build(&m, &out, &err) == 0 && parse(&out, &p));
	test_assert(has(p.parts[2], "Content-Type: text/rfc822-headers\r\n"));
	test_assert(has(p.parts[2], "Message-ID: <m1@example.org>\r\n"));
	test_assert(!has(p.parts[2], "0123456789"));
	test_assert(out.len < 4000);
	/* only a prefix loaded (as dsn_load_original does): same result */
	m.original = str_make(big.data, 1001);
	buf_reset(&out);
	test_assert(dsn_build(&m, &out, &err) == 0 && parse(&out, &p) &&
	    has(p.parts[2], "text/rfc822-headers"));
	/* headers with no end in the prefix: complete lines only */
	m.original = str_make(sample, 40);
	m.original_size = 5000;
	buf_reset(&out);
	test_assert(dsn_build(&m, &out, &err) == 0 && lines_ok(&out) &&
	    parse(&out, &p) && has(p.parts[2], "\r\n\r\nFrom: Alice <alice@example.org>\r\n") &&
	    !has(p.parts[2], "To:"));
	/* output limit */
	buf_deinit(&out);
	buf_init(&out, 500);
	test_assert(dsn_build(&m, &out, &err) == -1 && err != NULL);
	buf_deinit(&out);
	buf_deinit(&big);
	test_end();
}

static void
test_boundary_collision(void)
{
	struct dsn_rcpt r = { .addr = STR_LIT("bob@example.net"),
		.reply = STR_LIT("550 x") };
	struct dsn_message m;
	struct parsed p;
	struct buf out, orig;
	const char *err;

	test_begin("boundary never occurs in the returned message");
	base_message(&m, &r, 1);
	buf_init(&orig, 0);
	test_assert(buf_printf(&orig, "Subject: x\r\n\r\n--%s.%lld.0/%s\r\n",
	    m.queue_id, (long long)m.now, m.myhostname) == 0);
	m.original = str_make(orig.data, orig.len);
	m.original_size = orig.len;
	buf_init(&out, 0);
	test_assert(dsn_build(&m, &out, &err) == 0 && parse(&out, &p));
	test_assert(p.part_count == 3 && has(p.parts[2], "\r\n--0123456789ABCDEF0."));
	test_assert(has(p.headers, ".1/mx.example.com\""));
	buf_deinit(&out);
	buf_deinit(&orig);
	test_end();
}

static void
test_load_original(void)
{
	char path[] = "/tmp/test_dsn_XXXXXX";
	int fd = mkstemp(path);
	struct buf b;

	test_begin("dsn_load_original reads the capped prefix with pread");
	test_assert(fd >= 0);
	test_assert(write(fd, "PREAMBLE", 8) == 8);
	test_assert(write(fd, sample, sizeof(sample) - 1) == (ssize_t)sizeof(sample) - 1);
	buf_init(&b, 0);
	test_assert(dsn_load_original(fd, 8, sizeof(sample) - 1, 0, &b) == 0 &&
	    b.len == sizeof(sample) - 1 && memcmp(b.data, sample, b.len) == 0);
	test_assert(dsn_load_original(fd, 8, sizeof(sample) - 1, 10, &b) == 0 &&
	    b.len == 11 && memcmp(b.data, sample, 11) == 0);
	test_assert(dsn_load_original(fd, 8, 1000, 0, &b) == -1);
	test_assert(lseek(fd, 0, SEEK_CUR) == (off_t)(8 + sizeof(sample) - 1));
	buf_deinit(&b);
	close(fd);
	unlink(path);
	test_end();
}

int
main(void)
{
	test_status();
	test_should_bounce();
	test_structure();
	test_delayed();
	test_injection();
	test_8bit_and_cap();
	test_boundary_collision();
	test_load_original();
	return test_exit();
}
