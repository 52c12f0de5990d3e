/* Unit tests for the SMTP session over a socketpair with fake owner hooks. */
#include <signal.h>
#include <time.h>

#include "smtp_test_fixture.h"
#include "test.h"

#define HAS(r, s) (strstr((r), (s)) != NULL)

static const char *
greet(struct fx *x)
{
	const char *r = fx_send(x, NULL, 1);

	test_assert(HAS(r, "220 mx.test ESMTP\r\n"));
	return fx_send(x, "EHLO client.test\r\n", 1);
}

static void
test_full_session(bool async)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin(async ? "session: full transaction (async hooks)" : "session: full transaction");
	fx_settings(&set);
	set.message_size_limit = 1000;
	fx_start(&x, &set, NULL);
	x.async = async;
	r = greet(&x);
	test_assert(HAS(r, "250-mx.test\r\n"));
	test_assert(HAS(r, "250-PIPELINING\r\n"));
	test_assert(HAS(r, "250-SIZE 1000\r\n"));
	test_assert(HAS(r, "250-8BITMIME\r\n"));
	test_assert(HAS(r, "250-ENHANCEDSTATUSCODES\r\n"));
	test_assert(HAS(r, "250-CHUNKING\r\n"));
	test_assert(HAS(r, "250 SMTPUTF8\r\n"));
	test_assert(HAS(r, "AUTH PLAIN LOGIN")); /* unix socket = local */
	test_assert(!HAS(r, "STARTTLS"));
	r = fx_send(&x, "MAIL FROM:<Sender@Example.ORG> SIZE=100 BODY=8BITMIME\r\n", 1);
	test_assert(strcmp(r, "250 2.1.0 Ok\r\n") == 0);
	test_assert(strcmp(x.from_seen, "Sender@example.org") == 0);
	r = fx_send(&x, "RCPT TO:<a@example.com>\r\n", 1);
	test_assert(strcmp(r, "250 2.1.5 Ok\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<b@other.test>\r\n", 1);
	test_assert(strcmp(r, "554 5.7.1 Relay access denied\r\n") == 0);
	r = fx_send(&x, "DATA\r\n", 1);
	test_assert(HAS(r, "354 "));
	r = fx_send(&x, "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n", 1);
	test_assert(strcmp(r, "250 2.0.0 Ok: queued as X\r\n") == 0);
	test_assert(x.msg != NULL && strcmp(x.msg, "Subject: hi\r\n\r\n.dot\r\nbody\r\n") == 0);
	test_assert(x.n_rcpts_seen == 1);
	r = fx_send(&x, "QUIT\r\n", 1);
	test_assert(strcmp(r, "221 2.0.0 mx.test Bye\r\n") == 0);
	fx_stop(&x);
	test_assert(x.closed);
	test_end();
}

static void
test_pipelining(bool async)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin(async ? "session: pipelining in one write (async)" : "session: pipelining in one write");
	fx_settings(&set);
	fx_start(&x, &set, NULL);
	x.async = async;
	test_assert(HAS(fx_send(&x, NULL, 1), "220 "));
	r = fx_send(&x, "EHLO c\r\nMAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.com>\r\n"
	    "RCPT TO:<b@nowhere.test>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n", 6);
	test_assert(HAS(r, "250 SMTPUTF8\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "554 5.7.1 Relay access denied\r\n250 2.1.5 Ok\r\n354 "));
	r = fx_send(&x, "line\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@nowhere.test>\r\nDATA\r\nNOOP\r\n", 4);
	test_assert(strcmp(r, "250 2.0.0 Ok: queued as X\r\n250 2.1.0 Ok\r\n"
	    "554 5.7.1 Relay access denied\r\n554 5.5.1 Error: no valid recipients\r\n"
	    "250 2.0.0 Ok\r\n") == 0);
	test_assert(x.msg != NULL && strcmp(x.msg, "line\r\n") == 0 && x.n_rcpts_seen == 2);
	fx_stop(&x);
	test_end();
}

static void
test_bdat(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin("session: BDAT chunks, binary safe");
	fx_settings(&set);
	fx_start(&x, &set, NULL);
	greet(&x);
	fx_send(&x, "MAIL FROM:<s@x.test> BODY=BINARYMIME\r\nRCPT TO:<a@example.com>\r\n", 2);
	test_assert(write(x.cfd, "BDAT 5\r\nh\0l\r\nBDAT 3 LAST\r\n.\r\n", 29) == 29);
	r = fx_send(&x, NULL, 2);
	test_assert(strcmp(r, "250 2.0.0 Ok: 5 octets received\r\n250 2.0.0 Ok: queued as X\r\n") == 0);
	test_assert(x.msg_len == 8 && memcmp(x.msg, "h\0l\r\n.\r\n", 8) == 0);
	/* BDAT without a transaction: the chunk is eaten, then 503. */
	r = fx_send(&x, "BDAT 4 LAST\r\nRSETNOOP\r\n", 2);
	test_assert(strcmp(r, "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n") == 0);
	/* DATA after BDAT in one transaction. */
	r = fx_send(&x, "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.com>\r\nBDAT 1\r\nxDATA\r\n", 4);
	test_assert(HAS(r, "503 5.5.1 Error: DATA not allowed"));
	r = fx_send(&x, "BDAT 0 LAST\r\n", 1);
	test_assert(strcmp(r, "250 2.0.0 Ok: queued as X\r\n") == 0 && x.msg_len == 1);
	fx_stop(&x);
	test_end();
}

static void
test_size_limits(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;
	char big[400];

	test_begin("session: SIZE at MAIL and overflow in DATA and BDAT");
	fx_settings(&set);
	set.message_size_limit = 100;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "MAIL FROM:<s@x.test> SIZE=101\r\n", 1);
	test_assert(strcmp(r, "552 5.3.4 Message size exceeds fixed limit\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<s@x.test> SIZE=100\r\nRCPT TO:<a@example.com>\r\nDATA\r\n", 3);
	test_assert(HAS(r, "354 "));
	memset(big, 'a', sizeof(big));
	memcpy(big + 100, "\r\n", 2);
	memcpy(big + 200, "\r\n", 2);
	memcpy(big + sizeof(big) - 6, "\r\n.\r\n", 6);
	x.msg_len = 0;
	r = fx_send(&x, big, 1);
	test_assert(strcmp(r, "552 5.3.4 Error: message file too big\r\n") == 0);
	test_assert(x.msg == NULL);
	/* The transaction is gone; the session goes on. */
	r = fx_send(&x, "RCPT TO:<a@example.com>\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: need MAIL command\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.com>\r\nBDAT 60\r\n", 2);
	r = fx_send(&x, "012345678901234567890123456789012345678901234567890123456789BDAT 60 LAST\r\n"
	    "012345678901234567890123456789012345678901234567890123456789", 2);
	test_assert(strcmp(r, "250 2.0.0 Ok: 60 octets received\r\n552 5.3.4 Error: message file too big\r\n") == 0);
	test_assert(x.msg == NULL);
	/* Exactly at the limit passes. */
	memset(big, 'b', 98);
	memcpy(big + 98, "\r\n.\r\n", 6);
	r = fx_send(&x, "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n", 3);
	r = fx_send(&x, big, 1);
	test_assert(strcmp(r, "250 2.0.0 Ok: queued as X\r\n") == 0 && x.msg_len == 100);
	fx_stop(&x);
	test_end();
}

static char *
b64(const char *s, size_t n)
{
	static char out[256];
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;

		v |= i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0;
		v |= i + 2 < n ? (unsigned char)s[i + 2] : 0;
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void
test_auth(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;
	char line[300];

	test_begin("session: AUTH PLAIN and LOGIN on loopback, submission");
	fx_settings(&set);
	set.role = SMTP_ROLE_SUBMISSION;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "MAIL FROM:<u@example.com>\r\n", 1);
	test_assert(strcmp(r, "530 5.7.0 Authentication required\r\n") == 0);
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", b64("\0u@example.com\0wrong", 20));
	r = fx_send(&x, line, 1);
	test_assert(strcmp(r, "535 5.7.8 Error: authentication failed\r\n") == 0);
	r = fx_send(&x, "AUTH PLAIN\r\n", 1);
	test_assert(strcmp(r, "334 \r\n") == 0);
	r = fx_send(&x, "*\r\n", 1);
	test_assert(strcmp(r, "501 5.7.0 Authentication aborted\r\n") == 0);
	r = fx_send(&x, "AUTH PLAIN\r\n!!notbase64\r\n", 2);
	test_assert(HAS(r, "501 5.5.2 Error: cannot decode response\r\n"));
	r = fx_send(&x, "AUTH CRAM-MD5\r\n", 1);
	test_assert(HAS(r, "504 5.5.4"));
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", b64("other\0u@example.com\0secret", 26));
	r = fx_send(&x, line, 1);
	test_assert(HAS(r, "535 5.7.8"));
	r = fx_send(&x, "AUTH PLAIN\r\n", 1);
	snprintf(line, sizeof(line), "%s\r\n", b64("u@example.com\0u@example.com\0secret", 34));
	r = fx_send(&x, line, 1);
	test_assert(strcmp(r, "235 2.7.0 Authentication successful\r\n") == 0);
	r = fx_send(&x, "AUTH PLAIN\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: already authenticated\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<u@example.com>\r\n", 1);
	test_assert(strcmp(r, "250 2.1.0 Ok\r\n") == 0);
	fx_stop(&x);

	fx_start(&x, &set, NULL);
	x.async = true;
	greet(&x);
	r = fx_send(&x, "AUTH LOGIN\r\n", 1);
	test_assert(strcmp(r, "334 VXNlcm5hbWU6\r\n") == 0);
	snprintf(line, sizeof(line), "%s\r\n", b64("u@example.com", 13));
	r = fx_send(&x, line, 1);
	test_assert(strcmp(r, "334 UGFzc3dvcmQ6\r\n") == 0);
	snprintf(line, sizeof(line), "%s\r\n", b64("secret", 6));
	r = fx_send(&x, line, 1);
	test_assert(strcmp(r, "235 2.7.0 Authentication successful\r\n") == 0);
	test_assert(strcmp(x.auth_user_seen, "u@example.com") == 0);
	fx_stop(&x);

	fx_start(&x, &set, NULL);
	greet(&x);
	snprintf(line, sizeof(line), "AUTH LOGIN %s\r\n", b64("temp", 4));
	r = fx_send(&x, line, 1);
	test_assert(strcmp(r, "334 UGFzc3dvcmQ6\r\n") == 0);
	r = fx_send(&x, "eA==\r\n", 1);
	test_assert(strcmp(r, "454 4.7.0 Temporary authentication failure\r\n") == 0);
	fx_stop(&x);
	test_end();
}

static void
test_auth_needs_tls(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin("session: AUTH refused without TLS");
	fx_settings(&set);
	set.auth_plaintext_loopback = false;
	fx_start(&x, &set, NULL);
	r = greet(&x);
	test_assert(!HAS(r, "AUTH"));
	r = fx_send(&x, "AUTH PLAIN AHVAZXhhbXBsZS5jb20Ac2VjcmV0\r\n", 1);
	test_assert(strcmp(r, "530 5.7.0 Must issue a STARTTLS command first\r\n") == 0);
	fx_stop(&x);

	set.auth_enabled = false;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "AUTH PLAIN\r\n", 1);
	test_assert(HAS(r, "503 5.5.1"));
	fx_stop(&x);

	fx_settings(&set);
	set.require_tls_for_mail = true;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "MAIL FROM:<a@b.test>\r\n", 1);
	test_assert(strcmp(r, "530 5.7.0 Must issue a STARTTLS command first\r\n") == 0);
	fx_stop(&x);
	test_end();
}

static void
test_errors(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;
	char longline[3000];

	test_begin("session: unknown commands, syntax, long lines, NUL");
	fx_settings(&set);
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "FOO bar\r\n", 1);
	test_assert(strcmp(r, "502 5.5.2 Error: command not recognized\r\n") == 0);
	test_assert(write(x.cfd, "NO\0OP\r\n", 7) == 7);
	r = fx_send(&x, NULL, 1);
	test_assert(strcmp(r, "500 5.5.2 Error: bad syntax\r\n") == 0);
	r = fx_send(&x, "\r\n", 1);
	test_assert(strcmp(r, "500 5.5.2 Error: bad syntax\r\n") == 0);
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "NOOP ", 5);
	memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
	r = fx_send(&x, longline, 1);
	test_assert(strcmp(r, "500 5.5.2 Error: line too long\r\n") == 0);
	r = fx_send(&x, "NOOP\r\n", 1);
	test_assert(strcmp(r, "250 2.0.0 Ok\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<a@b.test> FOO=1\r\n", 1);
	test_assert(strcmp(r, "555 5.5.4 Unsupported option\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<a@b.test> SIZE=x\r\n", 1);
	test_assert(strcmp(r, "501 5.5.4 Bad MAIL parameter syntax\r\n") == 0);
	r = fx_send(&x, "MAIL FROM <a@b.test>\r\n", 1);
	test_assert(strcmp(r, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<a@@b.test>\r\n", 1);
	test_assert(strcmp(r, "501 5.1.7 Bad sender address syntax\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<\xc3\xbc@b.test>\r\n", 1);
	test_assert(strcmp(r, "553 5.6.7 Must declare SMTPUTF8 to send UTF-8 addresses\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<\xc3\xbc@b.test> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@example.com>\r\n", 2);
	test_assert(strcmp(r, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n") == 0);
	r = fx_send(&x, "VRFY x\r\nHELP\r\n", 2);
	test_assert(HAS(r, "252 2.0.0 ") && HAS(r, "214 2.0.0 "));
	fx_stop(&x);
	test_end();
}

static void
test_sequences(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin("session: bad sequences and RSET");
	fx_settings(&set);
	fx_start(&x, &set, NULL);
	test_assert(HAS(fx_send(&x, NULL, 1), "220 "));
	r = fx_send(&x, "MAIL FROM:<a@b.test>\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: send HELO/EHLO first\r\n") == 0);
	r = fx_send(&x, "HELO c\r\n", 1);
	test_assert(strcmp(r, "250 mx.test\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<a@example.com>\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: need MAIL command\r\n") == 0);
	r = fx_send(&x, "DATA\r\n", 1);
	test_assert(strcmp(r, "503 5.5.1 Error: need MAIL command\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n", 3);
	test_assert(strcmp(r, "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
	    "503 5.5.1 Error: need RCPT command\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<a@example.com>\r\nRSET\r\nDATA\r\n", 3);
	test_assert(strcmp(r, "250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n503 5.5.1 Error: need MAIL command\r\n") == 0);
	r = fx_send(&x, "MAIL FROM:<reject@b.test>\r\nRCPT TO:<a@example.com>\r\n", 2);
	test_assert(strcmp(r, "550 5.7.1 Sender rejected\r\n503 5.5.1 Error: need MAIL command\r\n") == 0);
	fx_stop(&x);
	test_end();
}

static void
test_relay_tricks(void)
{
	static const char *const tricks[] = {
		"<\"user@ext.test\"@example.com>", "<user%ext.test@example.com>",
		"<ext.test!user@example.com>", "<@example.com:user@example.com>",
		"<user@[1.2.3.4]>",
	};
	struct smtp_settings set;
	struct fx x;
	const char *r;
	char line[200];

	test_begin("session: relay tricks refused before the hook");
	fx_settings(&set);
	fx_start(&x, &set, NULL);
	greet(&x);
	fx_send(&x, "MAIL FROM:<a@b.test>\r\n", 1);
	for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		snprintf(line, sizeof(line), "RCPT TO:%s\r\n", tricks[i]);
		r = fx_send(&x, line, 1);
		test_assert(strcmp(r, "550 5.7.1 Relay access denied\r\n") == 0);
	}
	r = fx_send(&x, "RCPT TO:<user@ext.test@example.com>\r\n", 1);
	test_assert(strcmp(r, "501 5.1.3 Bad recipient address syntax\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<user@example.com.>\r\n", 1);
	test_assert(strcmp(r, "501 5.1.3 Bad recipient address syntax\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<Postmaster>\r\n", 1);
	test_assert(HAS(r, "554 5.7.1")); /* reached the hook, which refused it */
	r = fx_send(&x, "RCPT TO:<a@Example.COM> NOTIFY=NEVER\r\n", 1);
	test_assert(strcmp(r, "555 5.5.4 Unsupported option\r\n") == 0);
	r = fx_send(&x, "RCPT TO:<a@Example.COM>\r\n", 1);
	test_assert(strcmp(r, "250 2.1.5 Ok\r\n") == 0);
	fx_stop(&x);
	test_end();
}

static void
test_hard_error_limit(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;

	test_begin("session: hard error limit");
	fx_settings(&set);
	set.hard_error_limit = 3;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, "X1\r\nX2\r\nX3\r\nNOOP\r\n", 4);
	test_assert(HAS(r, "502 5.5.2 Error: command not recognized\r\n"
	    "502 5.5.2 Error: command not recognized\r\n"
	    "502 5.5.2 Error: command not recognized\r\n"
	    "421 4.7.0 mx.test Error: too many errors\r\n"));
	test_assert(!HAS(r, "250 2.0.0"));
	fx_stop(&x);
	test_assert(x.closed);
	test_end();
}

static void
test_tarpit(void)
{
	struct smtp_settings set;
	struct fx x;
	const char *r;
	struct timespec t0, t1;
	double secs;

	test_begin("session: replies slowed down past the soft error limit");
	fx_settings(&set);
	set.soft_error_limit = 1;
	fx_start(&x, &set, NULL);
	greet(&x);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = fx_send(&x, "X1\r\nNOOP\r\n", 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	test_assert(HAS(r, "502 5.5.2") && HAS(r, "250 2.0.0 Ok") && secs < 0.5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = fx_send(&x, "X2\r\n", 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	test_assert(HAS(r, "502 5.5.2") && secs >= 0.9);
	r = fx_send(&x, "NOOP\r\n", 1);
	test_assert(strcmp(r, "250 2.0.0 Ok\r\n") == 0);
	fx_stop(&x);
	test_end();
}

static void
test_greeting_timeout_shutdown(void)
{
	struct smtp_settings set;
	static const struct smtp_reply busy = { 421, "4.7.0", "mx.test Error: too many connections" };
	struct fx x;
	const char *r;

	test_begin("session: reject greeting, timeout, shutdown, peer gone while pending");
	fx_settings(&set);
	fx_start(&x, &set, &busy);
	r = fx_send(&x, NULL, 1);
	test_assert(strcmp(r, "421 4.7.0 mx.test Error: too many connections\r\n") == 0);
	fx_stop(&x);
	test_assert(x.closed);

	set.timeout = 0.2;
	fx_start(&x, &set, NULL);
	greet(&x);
	r = fx_send(&x, NULL, 1);
	test_assert(strcmp(r, "421 4.4.2 mx.test Error: timeout exceeded\r\n") == 0);
	fx_stop(&x);
	test_assert(x.closed);

	fx_settings(&set);
	fx_start(&x, &set, NULL);
	greet(&x);
	smtp_session_shutdown(x.s);
	r = fx_send(&x, NULL, 1);
	test_assert(strcmp(r, "421 4.3.2 mx.test Service shutting down\r\n") == 0);
	fx_stop(&x);
	test_assert(x.closed);

	/* The client vanishes while the mail hook is pending: `closed` only
	 * after the answer. */
	fx_start(&x, &set, NULL);
	greet(&x);
	x.async = true;
	test_assert(write(x.cfd, "MAIL FROM:<a@b.test>\r\n", 22) == 22);
	for (int i = 0; i < 200 && x.pending == FX_NONE; i++) {
		ev_run(x.loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	test_assert(x.pending == FX_MAIL);
	close(x.cfd);
	x.cfd = -1;
	for (int i = 0; i < 50; i++) {
		ev_run(x.loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	test_assert(!x.closed);
	fx_answer(&x);
	for (int i = 0; i < 50 && !x.closed; i++) {
		ev_run(x.loop, EVRUN_NOWAIT);
		poll(NULL, 0, 1);
	}
	test_assert(x.closed);
	fx_stop(&x);
	test_end();
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_full_session(false);
	test_full_session(true);
	test_pipelining(false);
	test_pipelining(true);
	test_bdat();
	test_size_limits();
	test_auth();
	test_auth_needs_tls();
	test_errors();
	test_sequences();
	test_relay_tricks();
	test_hard_error_limit();
	test_tarpit();
	test_greeting_timeout_shutdown();
	return test_exit();
}
