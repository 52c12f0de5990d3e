/*
 * Unit tests of the milter codec: hand-made packets as Postfix sends them,
 * fed whole and byte by byte, malformed lengths and payloads, unknown
 * commands, the ping probe, and the reply packets byte for byte.
 */
#include "core/buf.h"
#include "milter/milter_proto.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* Appends a packet: length, code, payload. */
static void
pkt(struct buf *b, char code, const void *payload, size_t len)
{
	unsigned char h[5];
	size_t total = len + 1;

	h[0] = (unsigned char)(total >> 24);
	h[1] = (unsigned char)(total >> 16);
	h[2] = (unsigned char)(total >> 8);
	h[3] = (unsigned char)total;
	h[4] = (unsigned char)code;
	buf_append(b, h, 5);
	buf_append(b, payload, len);
}

struct feed {
	struct milter_decoder d;
	struct buf in;
	struct milter_cmd cmds[32];
	char store[32][256];
	char rest[32][256];
	size_t n;
	int last;
};

/* Decodes everything complete in f->in; keeps copies of str1 texts. */
static int
feed_fn(const void *chunk, size_t n, void *ctx)
{
	struct feed *f = ctx;
	const char *err = NULL;
	size_t used;
	int r;

	buf_append(&f->in, chunk, n);
	while ((r = milter_decode(&f->d, f->in.data, f->in.len, &f->cmds[f->n], &used, &err)) == 1) {
		size_t l = MIN(f->cmds[f->n].str1.len, sizeof(f->store[0]) - 1);

		if (l > 0)
			memcpy(f->store[f->n], f->cmds[f->n].str1.ptr, l);
		f->store[f->n][l] = '\0';
		/* the views die with buf_consume(): keep the rest in a copy */
		l = MIN(f->cmds[f->n].rest.len, sizeof(f->rest[0]));
		if (l > 0)
			memcpy(f->rest[f->n], f->cmds[f->n].rest.ptr, l);
		f->cmds[f->n].rest = str_make(f->rest[f->n], l);
		f->n++;
		buf_consume(&f->in, used);
	}
	f->last = r;
	return r;
}

static void
build_session(struct buf *b)
{
	static const unsigned char optneg[12] = { 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff };
	static const char macro[] = "C{daemon_name}\0smtpd\0j\0mx.example.org\0";
	static const char conn[] = "mail.example.com\0" "4\x30\x39" "192.0.2.1";
	static const char mail[] = "<a@example.com>\0SIZE=100\0";
	static const char hdr[] = "Subject\0hello\0";

	pkt(b, 'O', optneg, sizeof(optneg));
	pkt(b, 'D', macro, sizeof(macro) - 1);
	pkt(b, 'C', conn, sizeof(conn));
	pkt(b, 'H', "helo.example.com", 17);
	pkt(b, 'M', mail, sizeof(mail) - 1);
	pkt(b, 'R', "<b@example.org>", 16);
	pkt(b, 'T', NULL, 0);
	pkt(b, 'L', hdr, sizeof(hdr) - 1);
	pkt(b, 'N', NULL, 0);
	pkt(b, 'B', "body\r\n", 6);
	pkt(b, 'E', NULL, 0);
	pkt(b, 'Q', NULL, 0);
}

static void
check_session(struct feed *f)
{
	struct str rest, name, value;

	test_assert(f->last == 0);
	test_assert(f->n == 12);
	test_assert(f->cmds[0].code == 'O' && f->cmds[0].version == 6 &&
	    f->cmds[0].actions == 0x1ff && f->cmds[0].protocol == 0x1fffff);
	test_assert(f->cmds[1].code == 'D' && f->cmds[1].macro_for == 'C');
	rest = f->cmds[1].rest;
	test_assert(milter_next_string(&rest, &name) == 1 && str_eq_cstr(name, "{daemon_name}"));
	test_assert(milter_next_string(&rest, &value) == 1 && str_eq_cstr(value, "smtpd"));
	test_assert(milter_next_string(&rest, &name) == 1 && str_eq_cstr(name, "j"));
	test_assert(milter_next_string(&rest, &value) == 1);
	test_assert(milter_next_string(&rest, &name) == 0);
	test_assert(f->cmds[2].code == 'C' && f->cmds[2].family == '4' &&
	    f->cmds[2].port == 0x3039 && strcmp(f->store[2], "mail.example.com") == 0);
	test_assert(strcmp(f->store[3], "helo.example.com") == 0);
	test_assert(f->cmds[4].code == 'M' && strcmp(f->store[4], "<a@example.com>") == 0);
	test_assert(f->cmds[5].code == 'R' && strcmp(f->store[5], "<b@example.org>") == 0);
	test_assert(f->cmds[6].code == 'T' && f->cmds[7].code == 'L' &&
	    strcmp(f->store[7], "Subject") == 0);
	test_assert(f->cmds[8].code == 'N' && f->cmds[9].code == 'B' && f->cmds[9].payload.len == 6);
	test_assert(f->cmds[10].code == 'E' && f->cmds[11].code == 'Q');
}

static void
test_whole_and_trickle(void)
{
	struct buf b;

	test_begin("session whole, byte by byte, in 7-byte pieces");
	buf_init(&b, 0);
	build_session(&b);
	for (size_t chunk = 1; chunk <= 8; chunk = chunk == 1 ? 7 : 9) {
		struct feed *f = calloc(1, sizeof(*f));

		milter_decoder_init(&f->d);
		buf_init(&f->in, 0);
		test_trickle(b.data, b.len, chunk, feed_fn, f);
		check_session(f);
		buf_deinit(&f->in);
		free(f);
	}
	{
		struct feed *f = calloc(1, sizeof(*f));

		milter_decoder_init(&f->d);
		buf_init(&f->in, 0);
		feed_fn(b.data, b.len, f);
		check_session(f);
		buf_deinit(&f->in);
		free(f);
	}
	buf_deinit(&b);
	test_end();
}

static int
decode_bytes(const void *data, size_t len, const char **err)
{
	struct milter_decoder d;
	struct milter_cmd c;
	size_t used;

	milter_decoder_init(&d);
	*err = NULL;
	return milter_decode(&d, data, len, &c, &used, err);
}

static void
test_malformed(void)
{
	const char *err;
	struct buf b;

	test_begin("malformed lengths, unknown commands, bad payloads");
	test_assert(decode_bytes("\0\0\0\0A", 5, &err) == -1 && err != NULL);
	test_assert(decode_bytes("\0\x02\0\x01" "B", 5, &err) == -1);   /* 128 KiB + 1 */
	test_assert(decode_bytes("\xff\xff\xff\xff", 4, &err) == -1);
	test_assert(decode_bytes("\0\0\0\x01" "Z", 5, &err) == -1);
	test_assert(decode_bytes("\0\0\0\x01" "c", 5, &err) == -1);
	test_assert(decode_bytes("\0\0\0", 3, &err) == 0);
	test_assert(decode_bytes("\0\0\0\x05" "B", 5, &err) == 0);       /* incomplete */
	test_assert(decode_bytes("\0\x02\0\0" "B", 5, &err) == 0);       /* exactly 128 KiB: wait */
	test_assert(decode_bytes("\0\0\0\x04" "Oabc", 8, &err) == -1);   /* short optneg */
	test_assert(decode_bytes("\0\0\0\x04" "Habc", 8, &err) == -1);   /* no NUL */
	test_assert(decode_bytes("\0\0\0\x03" "La\0", 7, &err) == -1);   /* header w/o value */
	test_assert(decode_bytes("\0\0\0\x02" "L\0", 6, &err) == -1);
	test_assert(decode_bytes("\0\0\0\x04" "Ch\0" "4", 8, &err) == -1); /* no port */
	test_assert(decode_bytes("\0\0\0\x04" "Ch\0" "X", 8, &err) == -1); /* family */
	test_assert(decode_bytes("\0\0\0\x04" "Ch\0" "U", 8, &err) == 1);
	test_assert(decode_bytes("\0\0\0\x04" "Da\0b", 8, &err) == -1); /* macro w/o NUL */
	test_assert(decode_bytes("\0\0\0\x05" "M<a>\0", 9, &err) == 1);
	test_assert(decode_bytes("\0\0\0\x06" "M<a>\0x", 10, &err) == -1);
	buf_init(&b, 0);
	pkt(&b, 'B', NULL, 0);
	test_assert(decode_bytes(b.data, b.len, &err) == 1);
	buf_deinit(&b);
	test_end();
}

static void
test_ping(void)
{
	static const char req[] = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
	struct milter_decoder d;
	struct milter_cmd c;
	const char *err;
	size_t used = 0;
	struct buf out;

	test_begin("GET /ping probe");
	milter_decoder_init(&d);
	test_assert(milter_decode(&d, req, 10, &c, &used, &err) == 0);
	test_assert(milter_decode(&d, req, sizeof(req) - 1, &c, &used, &err) == 1);
	test_assert(c.code == MILTER_CMD_PING && used == sizeof(req) - 1);
	test_assert(decode_bytes("GET /other HTTP/1.1\r\n\r\n", 23, &err) == -1);
	test_assert(decode_bytes("POST /checkv2", 13, &err) == -1);
	buf_init(&out, 0);
	milter_reply_pong(&out);
	test_assert(strstr(out.data, "200 OK") != NULL && strstr(out.data, "pong\r\n") != NULL);
	buf_deinit(&out);
	test_end();
}

static void
test_replies(void)
{
	struct buf b;

	test_begin("reply packets");
	buf_init(&b, 0);
	milter_reply_optneg(&b, 6, 0x1ff, MILTER_OUR_PROTOCOL);
	test_assert(b.len == 17 && memcmp(b.data, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x0f\xf0\x80", 17) == 0);
	buf_reset(&b);
	milter_reply_simple(&b, MILTER_R_ACCEPT);
	test_assert(b.len == 5 && memcmp(b.data, "\0\0\0\x01" "a", 5) == 0);
	buf_reset(&b);
	milter_reply_code(&b, "550 5.7.1", "spam\r\n100%");
	test_assert(b.len == 5 + 22 && memcmp(b.data + 4, "y550 5.7.1 spam  100%%\0", 23) == 0);
	buf_reset(&b);
	milter_reply_addheader(&b, "X-A", "v");
	test_assert(b.len == 11 && memcmp(b.data, "\0\0\0\x07hX-A\0v\0", 11) == 0);
	buf_reset(&b);
	milter_reply_header_at(&b, MILTER_R_CHGHEADER, 1, "X-Spam", "");
	test_assert(b.len == 17 && memcmp(b.data, "\0\0\0\x0dm\0\0\0\x01X-Spam\0\0", 17) == 0);
	buf_reset(&b);
	milter_reply_string(&b, MILTER_R_QUARANTINE, "why");
	test_assert(b.len == 9 && memcmp(b.data, "\0\0\0\x05qwhy\0", 9) == 0);
	buf_deinit(&b);
	test_end();
}

int
main(void)
{
	test_whole_and_trickle();
	test_malformed();
	test_ping();
	test_replies();
	return test_exit();
}
