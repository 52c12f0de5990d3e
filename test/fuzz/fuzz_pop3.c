/*
 * libFuzzer target for the POP3 server's pure codecs: each input line
 * goes through the command parser (arguments must lie inside the line,
 * counts within bounds), the message number parser, and, for AUTH, the
 * SASL PLAIN decoder. The whole input is also encoded as a message for
 * RETR and for TOP at once and in 7-byte pieces: both must agree, and
 * the output must be a well-formed multi-line response (CRLF only, no
 * line "." before the end, ending in ".\r\n").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "pop3/pop3_proto.h"

static void
check_line(const char *line, size_t len)
{
	struct pop3_cmd cmd;
	enum pop3_parse_error err;
	unsigned n;
	const char *u, *p;

	if (pop3_cmd_parse(line, len, &cmd, &err) < 0)
		return;
	if (cmd.n_args > 2 || cmd.rest.len > len)
		abort();
	for (unsigned i = 0; i < cmd.n_args; i++) {
		if (cmd.args[i].ptr < line || cmd.args[i].ptr + cmd.args[i].len > line + len ||
		    cmd.args[i].len == 0)
			abort();
		if (pop3_msgno_parse(cmd.args[i], 100, &n) == 0 && (n == 0 || n > 100))
			abort();
	}
	if (cmd.verb == POP3_CMD_AUTH && cmd.n_args == 2) {
		char *out = malloc(BASE64_DECODED_MAX(cmd.args[1].len) + 1);

		if (pop3_sasl_plain_decode(cmd.args[1].ptr, cmd.args[1].len, out, &u, &p) == 0 &&
		    (*u == '\0' || *p == '\0'))
			abort();
		free(out);
	}
}

static void
check_wellformed(const struct buf *b)
{
	if (b->len < 3 || memcmp(b->data + b->len - 3, ".\r\n", 3) != 0)
		abort();
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
		/* A lone "." line may only be the terminator. */
		if ((i == 0 || b->data[i - 1] == '\n') && i + 3 <= b->len &&
		    memcmp(b->data + i, ".\r\n", 3) == 0 && i + 3 != b->len)
			abort();
	}
}

static void
check_encoder(const uint8_t *data, size_t size, bool top)
{
	struct pop3_enc e1, e2;
	struct buf a, b;

	buf_init(&a, 0);
	buf_init(&b, 0);
	pop3_enc_init(&e1, top, size % 5);
	pop3_enc_init(&e2, top, size % 5);
	(void)pop3_enc_feed(&e1, data, size, &a);
	(void)pop3_enc_finish(&e1, &a);
	for (size_t off = 0; off < size; off += 7)
		(void)pop3_enc_feed(&e2, data + off, size - off < 7 ? size - off : 7, &b);
	(void)pop3_enc_finish(&e2, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	check_wellformed(&a);
	buf_deinit(&a);
	buf_deinit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((lf != NULL ? lf : end) - p);

		check_line(p, len > 0 && p[len - 1] == '\r' ? len - 1 : len);
		p += len + (lf != NULL);
	}
	check_encoder(data, size, false);
	check_encoder(data, size, true);
	return 0;
}
