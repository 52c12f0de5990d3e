/*
 * imap_bodystructure.c - BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2)
 * from the MIME library's part tree.
 *
 * Types, parameters and the other body fields are read again from the
 * part's raw headers (through mime_parse_params()) rather than from the
 * lowercased summary on struct mime_part, because clients expect every
 * Content-Type parameter, not only charset/boundary/name. Sizes and line
 * counts are those of the raw, still encoded body, as the RFC defines
 * them. A container the parser did not open (depth limit) is shown as
 * application/octet-stream: a multipart needs at least one child and a
 * message/rfc822 needs an envelope, and inventing those would mislead.
 */
#include "imap/imap_fetch.h"
#include "imap/imap_fetch_internal.h"

#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "mime/message.h"

static int write_part(struct buf *out, struct pool *pool,
    const struct mime_part *part, bool ext);

static uint64_t
count_lines(struct str s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s.len; i++) {
		if (s.ptr[i] == '\n')
			n++;
	}
	if (s.len > 0 && s.ptr[s.len - 1] != '\n')
		n++;
	return n;
}

/* ("NAME" "value" ...) or NIL. */
static int
write_params(struct buf *out, const struct mime_param_kv *p)
{
	int ret = 0;

	if (p == NULL)
		return buf_append(out, "NIL", 3);
	ret |= buf_putc(out, '(');
	for (; p != NULL; p = p->next) {
		ret |= imap_write_upper(out, p->name);
		ret |= buf_putc(out, ' ');
		ret |= imap_write_string(out, p->value, strlen(p->value));
		if (p->next != NULL)
			ret |= buf_putc(out, ' ');
	}
	ret |= buf_putc(out, ')');
	return ret;
}

/* Parameters of the part's Content-Type; text without any defaults to
 * US-ASCII (RFC 2045 5.2). */
static int
write_type_params(struct buf *out, struct pool *pool,
    const struct mime_part *part)
{
	const struct mime_header *h = mime_headers_find(&part->headers,
	    "Content-Type");
	struct mime_param_kv *params = NULL;
	const char *t, *st;

	if (h != NULL)
		(void)mime_parse_params(pool, h->raw, true, &t, &st, &params);
	if (params == NULL && strcmp(part->type, "text") == 0)
		return buf_append(out, "(\"CHARSET\" \"US-ASCII\")", 22);
	return write_params(out, params);
}

/* body-fld-dsp: ("ATTACHMENT" ("FILENAME" "x")) or NIL. */
static int
write_disposition(struct buf *out, struct pool *pool,
    const struct mime_part *part)
{
	const struct mime_header *h = mime_headers_find(&part->headers,
	    "Content-Disposition");
	struct mime_param_kv *params = NULL;
	const char *type, *sub;
	int ret = 0;

	if (h == NULL || mime_parse_params(pool, h->raw, false, &type, &sub,
	    &params) < 0 || type == NULL || type[0] == '\0')
		return buf_append(out, "NIL", 3);
	ret |= buf_putc(out, '(');
	ret |= imap_write_upper(out, type);
	ret |= buf_putc(out, ' ');
	ret |= write_params(out, params);
	ret |= buf_putc(out, ')');
	return ret;
}

/* body-fld-lang: NIL, "en" or ("en" "fr"). */
static int
write_language(struct buf *out, struct pool *pool,
    const struct mime_part *part)
{
	struct str v = imap_header_unfolded(pool, &part->headers,
	    "Content-Language");
	struct str tags[16];
	size_t n = 0, i, start = 0;
	int ret = 0;

	for (i = 0; v.ptr != NULL && i <= v.len && n < ARRAY_SIZE(tags); i++) {
		if (i == v.len || v.ptr[i] == ',') {
			struct str t = str_trim(str_make(v.ptr + start,
			    i - start));

			if (t.len > 0)
				tags[n++] = t;
			start = i + 1;
		}
	}
	if (n == 0)
		return buf_append(out, "NIL", 3);
	if (n == 1)
		return imap_write_string(out, tags[0].ptr, tags[0].len);
	ret |= buf_putc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			ret |= buf_putc(out, ' ');
		ret |= imap_write_string(out, tags[i].ptr, tags[i].len);
	}
	ret |= buf_putc(out, ')');
	return ret;
}

/* SP dsp SP lang SP loc, shared by both extension forms. */
static int
write_ext_tail(struct buf *out, struct pool *pool,
    const struct mime_part *part)
{
	int ret = 0;

	ret |= buf_putc(out, ' ');
	ret |= write_disposition(out, pool, part);
	ret |= buf_putc(out, ' ');
	ret |= write_language(out, pool, part);
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, &part->headers,
	    "Content-Location");
	return ret;
}

static int
write_multipart(struct buf *out, struct pool *pool,
    const struct mime_part *part, bool ext)
{
	const struct mime_part *child;
	int ret = 0;

	ret |= buf_putc(out, '(');
	for (child = part->first_child; child != NULL;
	    child = child->next_sibling)
		ret |= write_part(out, pool, child, ext);
	ret |= buf_putc(out, ' ');
	ret |= imap_write_upper(out, part->subtype);
	if (ext) {
		ret |= buf_putc(out, ' ');
		ret |= write_type_params(out, pool, part);
		ret |= write_ext_tail(out, pool, part);
	}
	ret |= buf_putc(out, ')');
	return ret;
}

/* body-fields: params id desc enc octets. */
static int
write_fields(struct buf *out, struct pool *pool,
    const struct mime_part *part, bool opaque)
{
	struct str enc = imap_header_unfolded(pool, &part->headers,
	    "Content-Transfer-Encoding");
	int ret = 0;

	if (opaque)
		ret |= buf_append(out, "NIL", 3);
	else
		ret |= write_type_params(out, pool, part);
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, &part->headers, "Content-ID");
	ret |= buf_putc(out, ' ');
	ret |= imap_write_header_nstring(out, &part->headers,
	    "Content-Description");
	ret |= buf_putc(out, ' ');
	if (enc.ptr == NULL || enc.len == 0)
		ret |= buf_append(out, "\"7BIT\"", 6);
	else
		ret |= imap_write_upper(out, str_dup_cstr(pool, enc));
	ret |= buf_printf(out, " %zu", part->raw_body.len);
	return ret;
}

static int
write_leaf(struct buf *out, struct pool *pool, const struct mime_part *part,
    bool ext)
{
	bool container = strcmp(part->type, "multipart") == 0 ||
	    (strcmp(part->type, "message") == 0 &&
	    strcmp(part->subtype, "rfc822") == 0);
	bool opaque = container && part->first_child == NULL;
	bool is_msg = container && !opaque;
	int ret = 0;

	ret |= buf_putc(out, '(');
	if (opaque) {
		ret |= buf_append(out, "\"APPLICATION\" \"OCTET-STREAM\" ", 29);
	} else {
		ret |= imap_write_upper(out, part->type);
		ret |= buf_putc(out, ' ');
		ret |= imap_write_upper(out, part->subtype);
		ret |= buf_putc(out, ' ');
	}
	ret |= write_fields(out, pool, part, opaque);
	if (is_msg) {
		ret |= buf_putc(out, ' ');
		ret |= imap_envelope_write(out, pool, &part->first_child->headers);
		ret |= buf_putc(out, ' ');
		ret |= write_part(out, pool, part->first_child, ext);
	}
	if (is_msg || (!opaque && strcmp(part->type, "text") == 0))
		ret |= buf_printf(out, " %llu",
		    (unsigned long long)count_lines(part->raw_body));
	if (ext) {
		ret |= buf_putc(out, ' ');
		ret |= imap_write_header_nstring(out, &part->headers,
		    "Content-MD5");
		ret |= write_ext_tail(out, pool, part);
	}
	ret |= buf_putc(out, ')');
	return ret;
}

static int
write_part(struct buf *out, struct pool *pool, const struct mime_part *part,
    bool ext)
{
	if (strcmp(part->type, "multipart") == 0 && part->first_child != NULL)
		return write_multipart(out, pool, part, ext) < 0 ? -1 : 0;
	return write_leaf(out, pool, part, ext) < 0 ? -1 : 0;
}

int
imap_bodystructure_write(struct buf *out, struct pool *pool,
    const struct mime_part *part, bool extended)
{
	return write_part(out, pool, part, extended);
}

char *
imap_bodystructure_render(const char *data, size_t len, bool extended)
{
	struct pool *pool = imap_parse_pool_new(len);
	struct mime_message *msg = imap_parse_message(pool, data, len);
	struct buf out;
	char *res = NULL;

	buf_init(&out, 0);
	if (msg != NULL && msg->root != NULL &&
	    imap_bodystructure_write(&out, pool, msg->root, extended) == 0 &&
	    !pool_exhausted(pool))
		res = buf_steal(&out, NULL);
	buf_deinit(&out);
	pool_free(&pool);
	return res;
}
