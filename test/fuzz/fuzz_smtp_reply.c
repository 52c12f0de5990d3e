/*
 * libFuzzer target for the outbound SMTP client's pure parts: the input,
 * split at LF, is fed line by line to the reply parser (whatever it
 * accepts must export to a sane owner-facing reply and EHLO keyword set),
 * and the whole input goes through the DATA dot-encoder at once and in two
 * pieces, which must agree and produce a well-formed, terminated body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "smtp/smtp_client.h"

static void
check_replies(const char *in, size_t len)
{
	struct smtp_reply_parser p;
	struct smtp_client_reply r;
	struct smtp_client_caps caps;
	size_t off = 0;

	smtp_reply_parser_init(&p);
	while (off < len) {
		const char *nl = memchr(in + off, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - (in + off)) : len - off;
		int rc = smtp_reply_parser_line(&p, in + off, n);

		off += n + 1;
		if (rc < 0) {
			smtp_reply_parser_init(&p);
			continue;
		}
		if (rc == 0)
			continue;
		smtp_reply_parser_export(&p, SMTP_CLIENT_STAGE_RCPT, &r);
		if (r.code < 200 || r.code > 599 || r.enhanced[0] != '0' + r.code / 100)
			abort();
		if (strlen(r.text) >= sizeof(r.text) || strlen(r.enhanced) >= sizeof(r.enhanced))
			abort();
		for (const char *s = r.text; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20)
				abort();
		memset(&caps, 0, sizeof(caps));
		smtp_client_parse_caps(&p, &caps);
		smtp_reply_parser_init(&p);
	}
}

static void
encode(const char *in, size_t len, size_t split, struct buf *out)
{
	struct smtp_dot_state st;

	smtp_dot_init(&st);
	if (smtp_dot_encode(&st, in, split, out) < 0 ||
	    smtp_dot_encode(&st, in + split, len - split, out) < 0 ||
	    smtp_dot_finish(&st, out) < 0)
		abort();
}

static void
check_dot(const char *in, size_t len)
{
	struct buf a, b;
	size_t split = len > 0 ? (unsigned char)in[0] % (len + 1) : 0;

	buf_init(&a, 0);
	buf_init(&b, 0);
	encode(in, len, 0, &a);
	encode(in, len, split, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (a.len < 3 || memcmp(a.data + a.len - 3, ".\r\n", 3) != 0)
		abort();
	if (a.len > 3 && memcmp(a.data + a.len - 5, "\r\n", 2) != 0)
		abort();
	for (size_t i = 0; i < a.len; i++) {
		if (a.data[i] == '\n' && (i == 0 || a.data[i - 1] != '\r'))
			abort();
		/* a line starting with '.' is stuffed unless it is the end */
		if (a.data[i] == '.' && (i == 0 || a.data[i - 1] == '\n') &&
		    i + 3 != a.len && (i + 1 >= a.len || a.data[i + 1] != '.'))
			abort();
		if (a.data[i] == '.' && (i == 0 || a.data[i - 1] == '\n'))
			i++; /* skip the stuffed pair */
	}
	buf_deinit(&a);
	buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_replies((const char *)data, size);
	check_dot((const char *)data, size);
	return 0;
}
