/*
 * imap_envelope.c - the ENVELOPE of a message (RFC 3501 section 7.4.2).
 *
 * Date, subject, In-Reply-To and Message-ID are the raw header values,
 * unfolded: RFC 3501 wants them undecoded, so encoded words reach the
 * client as sent and it decodes them with the charset it knows. Address
 * lists come from the MIME library's address parser (with group markers);
 * it hands back decoded display names, which are encoded again as a
 * UTF-8 encoded word when they are not ASCII, so the envelope stays 7-bit.
 * Sender and Reply-To default to From, as the RFC requires.
 */
#include "imap/imap_fetch.h"
#include "imap/imap_fetch_internal.h"

#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"
#include "mime/message.h"

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

/* A display name: as is when ASCII, else one RFC 2047 B-encoded word. */
static int
write_name(struct buf *out, struct pool *pool, const char *name)
{
	size_t n;
	char *enc;
	int ret;

	if (name == NULL || name[0] == '\0')
		return buf_append(out, "NIL", 3);
	if (is_ascii(name))
		return imap_write_string(out, name, strlen(name));
	n = strlen(name);
	enc = pool_alloc(pool, BASE64_ENCODED_LEN(n) + 16);
	if (enc == NULL)
		return -1;
	memcpy(enc, "=?UTF-8?B?", 10);
	n = 10 + base64_encode(name, n, enc + 10);
	memcpy(enc + n, "?=", 2);
	ret = imap_write_string(out, enc, n + 2);
	return ret;
}

static int
write_address(struct buf *out, struct pool *pool, const struct mime_address *a)
{
	int ret = 0;

	if (a->group_end)
		return buf_append(out, "(NIL NIL NIL NIL)", 17);
	ret |= buf_putc(out, '(');
	if (a->group_start) {
		ret |= buf_append(out, "NIL NIL ", 8);
		ret |= a->name != NULL ? imap_write_string(out, a->name,
		    strlen(a->name)) : imap_write_string(out, "", 0);
		ret |= buf_append(out, " NIL)", 5);
		return ret;
	}
	ret |= write_name(out, pool, a->name);
	ret |= buf_append(out, " NIL ", 5);
	ret |= imap_write_string(out, a->user, strlen(a->user));
	ret |= buf_putc(out, ' ');
	if (a->domain[0] != '\0')
		ret |= imap_write_string(out, a->domain, strlen(a->domain));
	else
		ret |= buf_append(out, "\"MISSING_DOMAIN\"", 16);
	ret |= buf_putc(out, ')');
	return ret;
}

/* An address list, or NIL when the header is absent or has none. */
static int
write_addresses(struct buf *out, struct pool *pool,
    const struct mime_headers *h, const char *name, const char *fallback)
{
	struct str v = imap_header_unfolded(pool, h, name);
	const struct mime_address *list = NULL, *a;
	int ret = 0;

	if (v.ptr == NULL && fallback != NULL)
		v = imap_header_unfolded(pool, h, fallback);
	if (v.ptr != NULL)
		list = mime_parse_addresses_groups(pool, v.ptr, v.len);
	if (list == NULL)
		return buf_append(out, "NIL", 3);
	ret |= buf_putc(out, '(');
	for (a = list; a != NULL; a = a->next)
		ret |= write_address(out, pool, a);
	ret |= buf_putc(out, ')');
	return ret;
}

int
imap_envelope_write(struct buf *out, struct pool *pool,
    const struct mime_headers *h)
{
	int ret = 0;

	ret |= buf_putc(out, '(');
	ret |= imap_write_header_nstring(out, h, "Date");
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, h, "Subject");
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "From", NULL);
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "Sender", "From");
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "Reply-To", "From");
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "To", NULL);
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "Cc", NULL);
	ret |= buf_putc(out, ' ');
	ret |= write_addresses(out, pool, h, "Bcc", NULL);
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, h, "In-Reply-To");
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, h, "Message-ID");
	ret |= buf_putc(out, ')');
	return ret < 0 ? -1 : 0;
}

char *
imap_envelope_render(const char *data, size_t len)
{
	struct pool *pool = imap_parse_pool_new(len);
	struct mime_message *msg = imap_parse_message(pool, data, len);
	struct buf out;
	char *res = NULL;

	buf_init(&out, 0);
	if (msg != NULL && imap_envelope_write(&out, pool, &msg->headers) == 0 &&
	    !pool_exhausted(pool))
		res = buf_steal(&out, NULL);
	buf_deinit(&out);
	pool_free(&pool);
	return res;
}
