/*
 * milter_proto.c - framing and payload parsing of the milter protocol, and
 * the reply packets.
 *
 * Every packet is a big-endian u32 length (command byte + payload), the
 * command byte and the payload. Like Rspamd we treat anything odd as a
 * protocol error that ends the connection: a zero length, a length above
 * 128 KiB (Postfix never sends body chunks above 64 KiB, so a bigger one is
 * garbage or an attack, and refusing it bounds our input buffer), an
 * unknown command byte, or strings without their terminating NUL. The one
 * exception is an HTTP "GET /ping" at the very start of a connection,
 * which monitoring systems use to probe the port.
 */
#include "milter/milter_proto.h"
#include "core/buf.h"
#include "core/common.h"

#include <string.h>

void
milter_decoder_init(struct milter_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

int
milter_next_string(struct str *rest, struct str *s_r)
{
	const char *nul;

	if (rest->len == 0)
		return 0;
	nul = memchr(rest->ptr, '\0', rest->len);
	if (nul == NULL)
		return -1;
	*s_r = str_make(rest->ptr, (size_t)(nul - rest->ptr));
	rest->ptr = nul + 1;
	rest->len -= s_r->len + 1;
	return 1;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Every remaining byte must belong to a NUL-terminated string. */
static bool
all_terminated(struct str rest)
{
	return rest.len == 0 || rest.ptr[rest.len - 1] == '\0';
}

static int
parse_connect(struct milter_cmd *c)
{
	struct str rest = c->payload;

	if (milter_next_string(&rest, &c->str1) != 1 || rest.len < 1)
		return -1;
	c->family = rest.ptr[0];
	rest = str_slice(rest, 1, rest.len - 1);
	if (c->family == 'U')
		return 0;
	if (c->family != '4' && c->family != '6' && c->family != 'L')
		return -1;
	if (rest.len < 2)
		return -1;
	c->port = (uint16_t)((unsigned char)rest.ptr[0] << 8 | (unsigned char)rest.ptr[1]);
	rest = str_slice(rest, 2, rest.len - 2);
	return milter_next_string(&rest, &c->str2) == 1 ? 0 : -1;
}

/* Payload checks per command; -1 when malformed. */
static int
parse_payload(struct milter_cmd *c)
{
	struct str rest = c->payload;
	const unsigned char *p = (const unsigned char *)rest.ptr;

	switch (c->code) {
	case MILTER_CMD_OPTNEG:
		if (rest.len < 12)
			return -1;
		c->version = get_u32(p);
		c->actions = get_u32(p + 4);
		c->protocol = get_u32(p + 8);
		return 0;
	case MILTER_CMD_MACRO:
		if (rest.len < 1)
			return -1;
		c->macro_for = rest.ptr[0];
		c->rest = str_slice(rest, 1, rest.len - 1);
		return all_terminated(c->rest) ? 0 : -1;
	case MILTER_CMD_CONNECT:
		return parse_connect(c);
	case MILTER_CMD_HELO:
	case MILTER_CMD_UNKNOWN:
		return milter_next_string(&rest, &c->str1) == 1 ? 0 : -1;
	case MILTER_CMD_MAIL:
	case MILTER_CMD_RCPT:
		if (milter_next_string(&rest, &c->str1) != 1 || !all_terminated(rest))
			return -1;
		c->rest = rest;
		return 0;
	case MILTER_CMD_HEADER:
		if (milter_next_string(&rest, &c->str1) != 1 ||
		    milter_next_string(&rest, &c->str2) != 1 || c->str1.len == 0)
			return -1;
		return 0;
	default:
		return 0;
	}
}

static bool
known_command(int code)
{
	return code != 0 && strchr("ABCDEHKLMNOQRTU", code) != NULL;
}

/* An HTTP request at the start: only "GET /ping" is answered. */
static int
decode_http(const char *data, size_t len, struct milter_cmd *cmd_r, size_t *used_r,
    const char **error_r)
{
	struct str head = str_make(data, MIN(len, (size_t)MILTER_MAX_PING_HEAD));
	ptrdiff_t end = str_find_case(head, STR_LIT("\r\n\r\n"));

	/* checked on every prefix, so splits cannot change the verdict */
	if (memcmp(data, "GET /ping", MIN(len, (size_t)9)) != 0) {
		*error_r = "HTTP request other than GET /ping on the milter port";
		return -1;
	}
	if (end < 0) {
		if (len >= MILTER_MAX_PING_HEAD) {
			*error_r = "HTTP request head too long";
			return -1;
		}
		return 0;
	}
	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->code = MILTER_CMD_PING;
	*used_r = (size_t)end + 4;
	return 1;
}

int
milter_decode(struct milter_decoder *d, const void *data, size_t len,
    struct milter_cmd *cmd_r, size_t *used_r, const char **error_r)
{
	const unsigned char *p = data;
	uint32_t plen;

	if (!d->seen_packet && len > 0 && p[0] == 'G' &&
	    memcmp(data, "GET ", MIN(len, (size_t)4)) == 0)
		return decode_http(data, len, cmd_r, used_r, error_r);
	if (len < 4)
		return 0;
	plen = get_u32(p);
	if (plen == 0) {
		*error_r = "zero packet length";
		return -1;
	}
	if (plen > MILTER_MAX_PACKET) {
		*error_r = "packet too long";
		return -1;
	}
	if (len < 5)
		return 0;
	if (!known_command(p[4])) {
		*error_r = "unknown command";
		return -1;
	}
	if (len - 4 < plen)
		return 0;
	d->seen_packet = true;
	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->code = p[4];
	cmd_r->payload = str_make((const char *)p + 5, plen - 1);
	if (parse_payload(cmd_r) < 0) {
		*error_r = "malformed command payload";
		return -1;
	}
	*used_r = (size_t)plen + 4;
	return 1;
}

/* Header of a packet whose payload is `plen` bytes. */
static int
put_head(struct buf *out, char code, size_t plen)
{
	unsigned char h[5];
	size_t total = plen + 1;

	if (plen >= MILTER_MAX_PACKET)
		return -1;
	h[0] = (unsigned char)(total >> 24);
	h[1] = (unsigned char)(total >> 16);
	h[2] = (unsigned char)(total >> 8);
	h[3] = (unsigned char)total;
	h[4] = (unsigned char)code;
	return buf_append(out, h, sizeof(h));
}

static int
put_u32(struct buf *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v };

	return buf_append(out, b, sizeof(b));
}

int
milter_reply_simple(struct buf *out, char code)
{
	return put_head(out, code, 0);
}

int
milter_reply_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol)
{
	if (put_head(out, MILTER_R_OPTNEG, 12) < 0)
		return -1;
	return put_u32(out, version) | put_u32(out, actions) | put_u32(out, protocol);
}

int
milter_reply_code(struct buf *out, const char *code_ext, const char *text)
{
	size_t clen = strlen(code_ext), tlen = strlen(text), extra = 0;
	int r;

	for (size_t i = 0; i < tlen; i++)
		extra += text[i] == '%';
	if (put_head(out, MILTER_R_REPLYCODE, clen + 1 + tlen + extra + 1) < 0)
		return -1;
	r = buf_append(out, code_ext, clen) | buf_putc(out, ' ');
	for (size_t i = 0; i < tlen && r == 0; i++) {
		char ch = text[i] == '\r' || text[i] == '\n' ? ' ' : text[i];

		r = buf_putc(out, ch);
		if (ch == '%' && r == 0)
			r = buf_putc(out, '%');
	}
	return r | buf_putc(out, '\0');
}

int
milter_reply_addheader(struct buf *out, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	if (put_head(out, MILTER_R_ADDHEADER, nl + vl + 2) < 0)
		return -1;
	return buf_append(out, name, nl + 1) | buf_append(out, value, vl + 1);
}

int
milter_reply_header_at(struct buf *out, char code, uint32_t index, const char *name,
    const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	if (put_head(out, code, 4 + nl + vl + 2) < 0)
		return -1;
	return put_u32(out, index) | buf_append(out, name, nl + 1) |
	    buf_append(out, value, vl + 1);
}

int
milter_reply_string(struct buf *out, char code, const char *s)
{
	size_t l = strlen(s);

	if (put_head(out, code, l + 1) < 0)
		return -1;
	return buf_append(out, s, l + 1);
}

int
milter_reply_pong(struct buf *out)
{
	return buf_append_cstr(out, "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n"
	    "Server: rspamd/2.7 (milter mode)\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 6\r\n\r\n"
	    "pong\r\n");
}
