/*
 * imap_mutf7.c - modified UTF-7 (RFC 3501 section 5.1.3) for mailbox
 * names.
 *
 * Printable ASCII stands for itself except '&', written "&-"; everything
 * else is UTF-16BE in base64 (with ',' for '/', no padding) between '&'
 * and '-'. Decoding is strict by construction: after a plain decode the
 * result is encoded again and must give back the exact input, so every
 * non-canonical spelling (a needless run, split runs, nonzero padding
 * bits, ASCII inside a run) is refused without a rule for each. That
 * matters because two spellings of one name would be two folders on disk
 * but one on screen.
 */
#include "imap/imap_mutf7.h"

#include <string.h>

#include "core/buf.h"

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Next code point of UTF-8 at in[*i]; -1 on invalid or overlong forms. */
static int32_t
utf8_next(const unsigned char *in, size_t len, size_t *i)
{
	unsigned char c = in[*i];
	int32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((in[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (in[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return cp;
}

static void
utf8_put(struct buf *out, int32_t cp, int *ret)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	if (buf_append(out, b, n) < 0)
		*ret = -1;
}

static bool
is_direct(int32_t cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

/* Base64 state for one encoded run. */
struct b64_enc {
	uint32_t bits;
	unsigned nbits;
};

static void
enc_unit(struct buf *out, struct b64_enc *e, uint32_t unit, int *ret)
{
	e->bits = (e->bits << 16) | unit;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		if (buf_putc(out, b64_chars[(e->bits >> e->nbits) & 0x3f]) < 0)
			*ret = -1;
	}
	e->bits &= (1u << e->nbits) - 1;
}

/* Encodes the run of non-direct code points starting at in[*i]. */
static int
enc_run(const unsigned char *in, size_t len, size_t *i, struct buf *out)
{
	struct b64_enc e = { 0, 0 };
	int ret = buf_putc(out, '&');

	while (*i < len) {
		size_t at = *i;
		int32_t cp = utf8_next(in, len, i);

		if (cp < 0)
			return -1;
		if (is_direct(cp)) {
			*i = at;
			break;
		}
		if (cp < 0x20 || cp == 0x7f)
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			enc_unit(out, &e, 0xd800 | ((uint32_t)cp >> 10), &ret);
			enc_unit(out, &e, 0xdc00 | ((uint32_t)cp & 0x3ff), &ret);
		} else {
			enc_unit(out, &e, (uint32_t)cp, &ret);
		}
	}
	if (e.nbits > 0 && buf_putc(out, b64_chars[(e.bits <<
	    (6 - e.nbits)) & 0x3f]) < 0)
		ret = -1;
	if (buf_putc(out, '-') < 0)
		ret = -1;
	return ret;
}

static int
encode(const char *in, size_t len, struct buf *out, const char **error_r)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0;

	while (i < len) {
		int ret;

		if (u[i] == '&') {
			ret = buf_append(out, "&-", 2);
			i++;
		} else if (is_direct(u[i])) {
			ret = buf_putc(out, (char)u[i]);
			i++;
		} else if (u[i] < 0x80) {
			*error_r = "Control character in mailbox name";
			return -1;
		} else if (enc_run(u, len, &i, out) < 0) {
			*error_r = "Invalid UTF-8 in mailbox name";
			return -1;
		} else {
			ret = 0;
		}
		if (ret < 0) {
			*error_r = "Mailbox name too long";
			return -1;
		}
	}
	return 0;
}

int
imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out,
    const char **error_r)
{
	size_t old = out->len;

	if (encode(in, len, out, error_r) < 0) {
		out->len = old;
		if (out->data != NULL)
			out->data[old] = '\0';
		return -1;
	}
	return 0;
}

/* Emits one UTF-16 unit, pairing surrogates; -1 on a broken pair. */
static int
dec_unit(struct buf *out, uint32_t unit, uint32_t *high, int *ret)
{
	if (unit >= 0xd800 && unit <= 0xdbff) {
		if (*high != 0)
			return -1;
		*high = unit;
		return 0;
	}
	if (unit >= 0xdc00 && unit <= 0xdfff) {
		if (*high == 0)
			return -1;
		utf8_put(out, (int32_t)(0x10000 + ((*high - 0xd800) << 10) +
		    (unit - 0xdc00)), ret);
		*high = 0;
		return 0;
	}
	if (*high != 0)
		return -1;
	utf8_put(out, (int32_t)unit, ret);
	return 0;
}

/* Decodes the run after '&' at in[*i] up to and including the '-'. */
static int
dec_run(const char *in, size_t len, size_t *i, struct buf *out, int *ret)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;

	for (; *i < len && in[*i] != '-'; (*i)++) {
		int v = b64_value(in[*i]);

		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (dec_unit(out, (bits >> nbits) & 0xffff, &high,
			    ret) < 0)
				return -1;
			bits &= (1u << nbits) - 1;
		}
	}
	if (*i >= len || high != 0)
		return -1;
	(*i)++;
	return 0;
}

static int
decode(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	int ret = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		i++;
		if (c != '&') {
			if (buf_putc(out, (char)c) < 0)
				return -1;
			continue;
		}
		if (i < len && in[i] == '-') {
			i++;
			if (buf_putc(out, '&') < 0)
				return -1;
			continue;
		}
		if (dec_run(in, len, &i, out, &ret) < 0 || ret < 0)
			return -1;
	}
	return 0;
}

/* Decodes, then checks that encoding gives the input back unchanged. */
static int
decode_strict(const char *in, size_t len, struct buf *out)
{
	struct buf again;
	const char *error;
	size_t old = out->len;
	int ret = -1;

	if (decode(in, len, out) < 0)
		return -1;
	buf_init(&again, 0);
	if (encode(out->data != NULL ? out->data + old : "", out->len - old,
	    &again, &error) == 0 &&
	    again.len == len && (len == 0 || memcmp(again.data, in, len) == 0))
		ret = 0;
	buf_deinit(&again);
	return ret;
}

int
imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out,
    const char **error_r)
{
	size_t old = out->len;

	if (decode_strict(in, len, out) < 0) {
		out->len = old;
		if (out->data != NULL)
			out->data[old] = '\0';
		*error_r = "Invalid modified UTF-7 mailbox name";
		return -1;
	}
	return 0;
}

bool
imap_mutf7_valid(const char *in, size_t len)
{
	struct buf out;
	bool ok;

	buf_init(&out, 0);
	ok = decode_strict(in, len, &out) == 0;
	buf_deinit(&out);
	return ok;
}
