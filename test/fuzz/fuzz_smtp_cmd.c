/*
 * libFuzzer target for the SMTP server's pure codecs: each input line goes
 * through the command splitter and, by verb, the MAIL parameter, BDAT and
 * AUTH argument parsers and the SASL base64 decoder; the reply formatter
 * gets the line as reply text. The whole input is also run through the
 * DATA decoder at once and in pieces, which must agree on the output and
 * on where the data ended.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_proto.h"

static void
check_line(const char *line, size_t len)
{
	struct smtp_cmd cmd;
	struct smtp_mail_params p;
	struct str rest, mech, initial;
	uint64_t size;
	bool last, has_initial;
	unsigned char *dec;
	struct buf out;

	if (smtp_cmd_parse(line, len, &cmd) < 0)
		return;
	if (cmd.arg.len > len || cmd.name.len == 0)
		abort();
	if (smtp_cmd_expect_prefix(cmd.arg, "FROM:", &rest) == 0 && rest.len > cmd.arg.len)
		abort();
	(void)smtp_cmd_mail_params(cmd.arg, &p);
	(void)smtp_cmd_bdat_args(cmd.arg, &size, &last);
	if (smtp_cmd_auth_args(cmd.arg, &mech, &initial, &has_initial) == 0 && has_initial) {
		dec = malloc(BASE64_DECODED_MAX(initial.len) + 1);
		if (smtp_sasl_decode(initial, dec) > (long)BASE64_DECODED_MAX(initial.len))
			abort();
		free(dec);
	}
	buf_init(&out, 0);
	{
		char *text = malloc(len + 1);

		memcpy(text, line, len);
		text[len] = '\0';
		if (smtp_reply_format(&out, 250, "2.0.0", text) < 0)
			abort();
		for (size_t i = 0; i + 1 < out.len; i++)
			if ((out.data[i] == '\r') != (out.data[i + 1] == '\n'))
				abort();
		free(text);
	}
	buf_deinit(&out);
}

static void
check_data(const uint8_t *data, size_t size)
{
	struct smtp_data_decoder d1, d2;
	struct buf o1, o2;
	size_t u1 = 0, u2 = 0, off = 0, step = 1 + (size > 0 ? data[0] % 7 : 0);
	int r1, r2 = 0;

	buf_init(&o1, 0);
	buf_init(&o2, 0);
	smtp_data_init(&d1, 64);
	smtp_data_init(&d2, 64);
	r1 = smtp_data_feed(&d1, (const char *)data, size, &o1, &u1);
	while (off < size && r2 == 0) {
		size_t n = size - off < step ? size - off : step, used = 0;

		r2 = smtp_data_feed(&d2, (const char *)data + off, n, &o2, &used);
		off += used;
	}
	u2 = off;
	if (r1 != r2 || u1 != u2 || o1.len != o2.len || d1.size != d2.size ||
	    d1.overflow != d2.overflow || o1.len > 64 ||
	    (o1.len > 0 && memcmp(o1.data, o2.data, o1.len) != 0))
		abort();
	buf_deinit(&o1);
	buf_deinit(&o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		check_line(p, n > 0 && p[n - 1] == '\r' ? n - 1 : n);
		p += n + 1;
	}
	check_data(data, size);
	return 0;
}
