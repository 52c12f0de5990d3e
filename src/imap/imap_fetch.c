/*
 * imap_fetch.c - FETCH items: parsing the item list, and rendering one
 * message's FETCH response; also the IMAP string writers.
 *
 * Rendering parses the message with the MIME library only when an item
 * needs structure (a cached ENVELOPE/BODYSTRUCTURE string or BODY[]
 * needs none). Section bytes are always views into the message given:
 * the part's raw header block or raw body as the parser delimited them,
 * so what the client reads is byte for byte what is stored, and
 * RFC822.SIZE, BODY[] and the sum of the parts agree.
 *
 * Part numbers follow RFC 3501 6.4.5: the children of a multipart are
 * 1..n; a message that is not multipart has only part 1 (its body); a
 * message/rfc822 part's own number names the whole embedded message,
 * and the numbers after it walk into that message the same way.
 */
#include "imap/imap_fetch.h"
#include "imap/imap_fetch_internal.h"

#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/pool.h"
#include "mime/message.h"

struct pool *
imap_parse_pool_new(size_t len)
{
	size_t cap = IMAP_PARSE_POOL_MIN;

	if (len < (SIZE_MAX - cap) / 8)
		cap += len * 8;
	return pool_new(cap);
}

struct mime_message *
imap_parse_message(struct pool *pool, const char *data, size_t len)
{
	const char *error;

	return mime_parse(pool, data, len, NULL, &error);
}

/* ---- IMAP strings ---- */

static bool
needs_literal(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80 ||
		    c == '"' || c == '\\')
			return true;
	}
	return false;
}

static int
write_literal(struct buf *out, const char *s, size_t len)
{
	if (buf_printf(out, "{%zu}\r\n", len) < 0)
		return -1;
	return buf_append(out, s, len);
}

int
imap_write_string(struct buf *out, const char *s, size_t len)
{
	if (needs_literal(s, len))
		return write_literal(out, s, len);
	if (buf_reserve(out, len + 2) < 0)
		return -1;
	(void)buf_putc(out, '"');
	(void)buf_append(out, s, len);
	return buf_putc(out, '"');
}

int
imap_write_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		return buf_append(out, "NIL", 3);
	return imap_write_string(out, s, strlen(s));
}

static bool
is_atom_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}

int
imap_write_astring(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!is_atom_char((unsigned char)s[i]))
			return imap_write_string(out, s, len);
	}
	if (len == 0)
		return buf_append(out, "\"\"", 2);
	return buf_append(out, s, len);
}

int
imap_write_upper(struct buf *out, const char *s)
{
	size_t i, len, old = out->len;

	if (s == NULL)
		return -1;
	len = strlen(s);
	if (imap_write_string(out, s, len) < 0)
		return -1;
	for (i = old; i < out->len; i++) {
		char c = out->data[i];

		if (c >= 'a' && c <= 'z')
			out->data[i] = (char)(c - 'a' + 'A');
	}
	return 0;
}

struct str
imap_header_unfolded(struct pool *pool, const struct mime_headers *h,
    const char *name)
{
	const struct mime_header *hdr = mime_headers_find(h, name);
	char *v;
	size_t i, n = 0;

	if (hdr == NULL || (v = pool_alloc(pool, hdr->raw.len + 1)) == NULL)
		return STR_NULL;
	for (i = 0; i < hdr->raw.len; i++) {
		char c = hdr->raw.ptr[i];

		if (c != '\r' && c != '\n')
			v[n++] = c == '\0' ? ' ' : c;
	}
	return str_trim(str_make(v, n));
}

int
imap_write_header_nstring(struct buf *out, const struct mime_headers *h,
    const char *name)
{
	const struct mime_header *hdr = mime_headers_find(h, name);
	struct buf tmp;
	size_t i;
	int ret;

	if (hdr == NULL)
		return buf_append(out, "NIL", 3);
	buf_init(&tmp, 0);
	for (i = 0; i < hdr->raw.len; i++) {
		char c = hdr->raw.ptr[i];

		if (c != '\r' && c != '\n')
			(void)buf_putc(&tmp, c == '\0' ? ' ' : c);
	}
	{
		struct str v = str_trim(str_make(tmp.data != NULL ? tmp.data :
		    "", tmp.len));

		ret = imap_write_string(out, v.ptr, v.len);
	}
	buf_deinit(&tmp);
	return ret;
}

/* ---- item list parsing ---- */

static const struct {
	const char *name;
	unsigned bits;
} simple_items[] = {
	{ "UID", IMAP_FETCH_UID },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
};

#define FETCH_FAST (IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | \
	IMAP_FETCH_RFC822_SIZE)
#define FETCH_ALL (FETCH_FAST | IMAP_FETCH_ENVELOPE)
#define FETCH_FULL (FETCH_ALL | IMAP_FETCH_BODY)

static bool
word_is(const char *s, size_t len, const char *word)
{
	return str_case_eq_cstr(str_make(s, len), word);
}

/* nz-number or (zero_ok) number at s[*i], at most 2^32-1. */
static int
parse_number(const char *s, size_t len, size_t *i, bool zero_ok,
    uint32_t *n_r)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX)
			return -1;
		(*i)++;
	}
	if (*i == start || (v == 0 && !zero_ok) ||
	    (s[start] == '0' && *i - start > 1))
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

/* A header-fld-name list "(A B "c")" parsed from the item text. */
static int
fields_from_text(struct pool *pool, const char *s, size_t len,
    struct imap_fetch_body *b)
{
	const char *names[IMAP_FETCH_MAX_FIELDS];
	size_t i = 1, n = 0;

	if (len < 2 || s[0] != '(' || s[len - 1] != ')')
		return -1;
	len--;
	while (i < len) {
		size_t start = i;
		char *name;

		if (n == ARRAY_SIZE(names))
			return -1;
		if (s[i] == '"')
			return -1; /* quoted names arrive through arg->list */
		while (i < len && s[i] != ' ')
			i++;
		if (i == start ||
		    (name = pool_strndup(pool, s + start, i - start)) == NULL)
			return -1;
		names[n++] = name;
		if (i < len && ++i == len)
			return -1; /* trailing space */
	}
	if (n == 0 || (b->fields = pool_calloc(pool, n, sizeof(char *))) == NULL)
		return -1;
	memcpy(b->fields, names, n * sizeof(char *));
	b->n_fields = n;
	return 0;
}

/* The same list as the command reader recorded it (quoted names, literals). */
static int
fields_from_args(struct pool *pool, const struct imap_arg *a,
    struct imap_fetch_body *b)
{
	size_t i;

	if (a->n_list == 0 || a->n_list > IMAP_FETCH_MAX_FIELDS)
		return -1;
	if ((b->fields = pool_calloc(pool, a->n_list, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < a->n_list; i++) {
		const struct imap_arg *f = &a->list[i];

		if ((f->type != IMAP_ARG_ATOM && f->type != IMAP_ARG_STRING) ||
		    f->len == 0 || memchr(f->str, '\0', f->len) != NULL)
			return -1;
		b->fields[i] = f->str;
	}
	b->n_fields = a->n_list;
	return 0;
}

/* The section text after the part numbers: "", HEADER, TEXT, MIME, ... */
static int
parse_section_text(struct pool *pool, const struct imap_arg *a,
    const char *s, size_t len, struct imap_fetch_body *b)
{
	static const char fields[] = "HEADER.FIELDS";
	size_t flen = sizeof(fields) - 1, sp;

	if (len == 0) {
		b->section = IMAP_SECTION_WHOLE;
		return 0;
	}
	if (word_is(s, len, "HEADER"))
		b->section = IMAP_SECTION_HEADER;
	else if (word_is(s, len, "TEXT"))
		b->section = IMAP_SECTION_TEXT;
	else if (word_is(s, len, "MIME") && b->n_part > 0)
		b->section = IMAP_SECTION_MIME;
	else if (len > flen && word_is(s, flen, fields))
		goto fields;
	else
		return -1;
	return 0;
fields:
	b->section = IMAP_SECTION_HEADER_FIELDS;
	if (len >= flen + 4 && word_is(s + flen, 4, ".NOT")) {
		b->section = IMAP_SECTION_HEADER_FIELDS_NOT;
		flen += 4;
	}
	sp = flen;
	if (sp >= len || s[sp] != ' ')
		return -1;
	if (a->list != NULL && a->n_list > 0)
		return fields_from_args(pool, a, b);
	return fields_from_text(pool, s + sp + 1, len - sp - 1, b);
}

/* section-spec inside the brackets. */
static int
parse_section(struct pool *pool, const struct imap_arg *a, const char *s,
    size_t len, struct imap_fetch_body *b)
{
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (b->n_part == IMAP_FETCH_MAX_PART_DEPTH ||
		    parse_number(s, len, &i, false, &b->part[b->n_part]) < 0)
			return -1;
		b->n_part++;
		if (i == len)
			return parse_section_text(pool, a, s + i, 0, b);
		if (s[i] != '.' || ++i == len)
			return -1;
	}
	return parse_section_text(pool, a, s + i, len - i, b);
}

/* "<offset.count>" after the ']', to the end of the item. */
static int
parse_partial(const char *s, size_t len, struct imap_fetch_body *b)
{
	size_t i = 1;

	if (len == 0)
		return 0;
	if (len < 5 || s[0] != '<' || s[len - 1] != '>')
		return -1;
	len--;
	if (parse_number(s, len, &i, true, &b->offset) < 0 || i >= len ||
	    s[i++] != '.' || parse_number(s, len, &i, false, &b->count) < 0 ||
	    i != len)
		return -1;
	b->partial = true;
	return 0;
}

/* The response's name: BODY[<section>]<offset>. */
static int
body_name(struct pool *pool, struct imap_fetch_body *b)
{
	static const char *const words[] = {
		[IMAP_SECTION_WHOLE] = "", [IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT", [IMAP_SECTION_MIME] = "MIME",
	};
	struct buf n;
	unsigned i;
	int ret = 0;

	buf_init(&n, 0);
	ret |= buf_append(&n, "BODY[", 5);
	for (i = 0; i < b->n_part; i++)
		ret |= buf_printf(&n, "%s%u", i > 0 ? "." : "", b->part[i]);
	if (b->n_part > 0 && b->section != IMAP_SECTION_WHOLE)
		ret |= buf_putc(&n, '.');
	ret |= buf_append_cstr(&n, words[b->section]);
	for (i = 0; i < b->n_fields; i++) {
		ret |= buf_append(&n, i == 0 ? " (" : " ", i == 0 ? 2 : 1);
		ret |= imap_write_astring(&n, b->fields[i], strlen(b->fields[i]));
	}
	if (b->n_fields > 0)
		ret |= buf_putc(&n, ')');
	ret |= buf_putc(&n, ']');
	if (b->partial)
		ret |= buf_printf(&n, "<%u>", b->offset);
	if (ret == 0)
		b->name = pool_strndup(pool, n.data, n.len);
	buf_deinit(&n);
	return b->name != NULL ? 0 : -1;
}

/* BODY[...] / BODY.PEEK[...]: `open` indexes the '['. */
static int
parse_body_item(struct pool *pool, const struct imap_arg *a, size_t open,
    struct imap_fetch_body *b)
{
	const char *s = a->str, *close;
	size_t len = a->len;

	if (word_is(s, open, "BODY.PEEK"))
		b->peek = true;
	else if (!word_is(s, open, "BODY"))
		return -1;
	close = memrchr(s, ']', len);
	if (close == NULL || (size_t)(close - s) < open)
		return -1;
	if (parse_section(pool, a, s + open + 1,
	    (size_t)(close - s) - open - 1, b) < 0)
		return -1;
	if (parse_partial(close + 1, len - (size_t)(close - s) - 1, b) < 0)
		return -1;
	return body_name(pool, b);
}

static int
parse_item(struct pool *pool, const struct imap_arg *a,
    struct imap_fetch_items *it, struct imap_fetch_body *bodies)
{
	const char *open;
	size_t i;

	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return -1;
	open = memchr(a->str, '[', a->len);
	if (open == NULL) {
		for (i = 0; i < ARRAY_SIZE(simple_items); i++) {
			if (word_is(a->str, a->len, simple_items[i].name)) {
				it->items |= simple_items[i].bits;
				return 0;
			}
		}
		return -1;
	}
	if (it->n_bodies == IMAP_FETCH_MAX_BODIES)
		return -1;
	if (parse_body_item(pool, a, (size_t)(open - a->str),
	    &bodies[it->n_bodies]) < 0)
		return -1;
	if (!bodies[it->n_bodies].peek)
		it->sets_seen = true;
	it->n_bodies++;
	return 0;
}

static int
parse_macro(const struct imap_arg *a, unsigned *items_r)
{
	if (imap_arg_atom_is(a, "ALL"))
		*items_r = FETCH_ALL;
	else if (imap_arg_atom_is(a, "FAST"))
		*items_r = FETCH_FAST;
	else if (imap_arg_atom_is(a, "FULL"))
		*items_r = FETCH_FULL;
	else
		return -1;
	return 0;
}

int
imap_fetch_parse(struct pool *pool, const struct imap_arg *arg,
    bool uid_command, struct imap_fetch_items *items_r,
    const char **error_r)
{
	struct imap_fetch_body *bodies;
	const struct imap_arg *list = arg;
	size_t n = 1, i;

	memset(items_r, 0, sizeof(*items_r));
	if (arg->type == IMAP_ARG_LIST) {
		list = arg->list;
		n = arg->n_list;
		if (n == 0) {
			*error_r = "Empty FETCH item list";
			return -1;
		}
	} else if (parse_macro(arg, &items_r->items) == 0) {
		n = 0;
	}
	bodies = pool_calloc(pool, MIN(n, (size_t)IMAP_FETCH_MAX_BODIES) + 1,
	    sizeof(*bodies));
	if (bodies == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (parse_item(pool, &list[i], items_r, bodies) < 0) {
			*error_r = "Invalid FETCH item";
			return -1;
		}
	}
	if (uid_command)
		items_r->items |= IMAP_FETCH_UID;
	if (items_r->items & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT))
		items_r->sets_seen = true;
	items_r->bodies = bodies;
	items_r->needs_content = items_r->n_bodies > 0 ||
	    (items_r->items & IMAP_FETCH_NEEDS_CONTENT) != 0;
	return 0;
}

/* ---- rendering ---- */

struct render {
	const struct imap_fetch_msg *msg;
	struct buf *out;
	struct pool *pool;          /* made on first need */
	struct mime_message *mime;
	bool first;
};

static struct mime_message *
render_mime(struct render *r)
{
	if (r->mime == NULL && r->pool == NULL) {
		r->pool = imap_parse_pool_new(r->msg->len);
		r->mime = imap_parse_message(r->pool, r->msg->data, r->msg->len);
	}
	return r->mime;
}

/* Separator, then the item name. */
static int
item_start(struct render *r, const char *name)
{
	if (!r->first && buf_putc(r->out, ' ') < 0)
		return -1;
	r->first = false;
	if (buf_append_cstr(r->out, name) < 0)
		return -1;
	return buf_putc(r->out, ' ');
}

static int
render_flags(struct render *r)
{
	size_t i;
	int ret = item_start(r, "FLAGS");

	ret |= buf_putc(r->out, '(');
	for (i = 0; i < r->msg->n_flags; i++) {
		if (i > 0)
			ret |= buf_putc(r->out, ' ');
		ret |= buf_append_cstr(r->out, r->msg->flags[i]);
	}
	ret |= buf_putc(r->out, ')');
	return ret;
}

static int
render_internaldate(struct render *r)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int tz = r->msg->tz_minutes, atz = tz < 0 ? -tz : tz;
	time_t t = r->msg->internal_date + (time_t)tz * 60;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (item_start(r, "INTERNALDATE") < 0)
		return -1;
	return buf_printf(r->out, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tz < 0 ? '-' : '+', atz / 60 % 100, atz % 60);
}

/* ENVELOPE, BODY or BODYSTRUCTURE: the cached text, or rendered now. */
static int
render_structure(struct render *r, const char *name, const char *cached,
    int kind)
{
	struct mime_message *m;

	if (item_start(r, name) < 0)
		return -1;
	if (cached != NULL)
		return buf_append_cstr(r->out, cached);
	if ((m = render_mime(r)) == NULL)
		return -1;
	if (kind == 0)
		return imap_envelope_write(r->out, r->pool, &m->headers);
	return imap_bodystructure_write(r->out, r->pool, m->root, kind == 2);
}

static bool
part_is_multipart(const struct mime_part *p)
{
	return strcmp(p->type, "multipart") == 0 && p->first_child != NULL;
}

static bool
part_is_message(const struct mime_part *p)
{
	return strcmp(p->type, "message") == 0 && p->first_child != NULL &&
	    (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0);
}

static const struct mime_part *
nth_child(const struct mime_part *p, uint32_t n)
{
	const struct mime_part *c;

	for (c = p->first_child; c != NULL && n > 1; c = c->next_sibling)
		n--;
	return c;
}

/* The part a part path names, or NULL when there is none. */
static const struct mime_part *
resolve_part(const struct mime_message *m, const uint32_t *path, unsigned n)
{
	const struct mime_part *cur = m->root, *pick = NULL;
	bool msg_root = true;
	unsigned k;

	for (k = 0; k < n; k++) {
		if (part_is_multipart(cur))
			pick = nth_child(cur, path[k]);
		else if (msg_root && path[k] == 1)
			pick = cur; /* a single-part message's only part */
		else
			return NULL;
		if (pick == NULL)
			return NULL;
		msg_root = k + 1 < n && part_is_message(pick);
		cur = msg_root ? pick->first_child : pick;
	}
	return pick;
}

/* Whether the header line's field name is in the list. */
static bool
field_listed(const char *line, size_t len, const struct imap_fetch_body *b)
{
	const char *colon = memchr(line, ':', len);
	struct str name;
	size_t i;

	if (colon == NULL)
		return false;
	name = str_trim(str_make(line, (size_t)(colon - line)));
	for (i = 0; i < b->n_fields; i++) {
		if (str_case_eq_cstr(name, b->fields[i]))
			return true;
	}
	return false;
}

/* HEADER.FIELDS[.NOT]: the chosen fields, folded lines kept, + CRLF. */
static int
filter_header(struct pool *pool, struct str hdr,
    const struct imap_fetch_body *b, struct str *out_r)
{
	const char *p = hdr.ptr, *end = hdr.ptr + hdr.len;
	bool keep_not = b->section == IMAP_SECTION_HEADER_FIELDS_NOT;
	char *out = pool_alloc(pool, hdr.len + 3);
	size_t n = 0;

	if (out == NULL)
		return -1;
	while (p < end && *p != '\r' && *p != '\n') {
		const char *q = p, *nl;

		/* One field: its line and the continuation lines. */
		do {
			nl = memchr(q, '\n', (size_t)(end - q));
			q = nl != NULL ? nl + 1 : end;
		} while (q < end && (*q == ' ' || *q == '\t'));
		if (field_listed(p, (size_t)(q - p), b) != keep_not) {
			memcpy(out + n, p, (size_t)(q - p));
			n += (size_t)(q - p);
			if (nl == NULL) {
				out[n++] = '\r';
				out[n++] = '\n';
			}
		}
		p = q;
	}
	out[n++] = '\r';
	out[n++] = '\n';
	*out_r = str_make(out, n);
	return 0;
}

/* HEADER, TEXT, HEADER.FIELDS[.NOT] of a message root. */
static int
msgtext_bytes(struct render *r, const struct imap_fetch_body *b,
    const struct mime_part *root, struct str *bytes_r)
{
	if (root == NULL) {
		*bytes_r = str_make("", 0); /* not a message/rfc822 part */
		return 0;
	}
	if (b->section == IMAP_SECTION_HEADER)
		*bytes_r = root->raw_header;
	else if (b->section == IMAP_SECTION_TEXT)
		*bytes_r = root->raw_body;
	else
		return filter_header(r->pool, root->raw_header, b, bytes_r);
	return 0;
}

/* The bytes a section names; *nil_r when the part does not exist. */
static int
section_bytes(struct render *r, const struct imap_fetch_body *b,
    struct str *bytes_r, bool *nil_r)
{
	const struct mime_message *m;
	const struct mime_part *part;

	*nil_r = false;
	if (b->n_part == 0 && b->section == IMAP_SECTION_WHOLE) {
		*bytes_r = str_make(r->msg->data, r->msg->len);
		return 0;
	}
	if ((m = render_mime(r)) == NULL)
		return -1;
	if (b->n_part == 0)
		return msgtext_bytes(r, b, m->root, bytes_r);
	if ((part = resolve_part(m, b->part, b->n_part)) == NULL) {
		*nil_r = true;
		return 0;
	}
	if (b->section == IMAP_SECTION_WHOLE)
		*bytes_r = part->raw_body;
	else if (b->section == IMAP_SECTION_MIME)
		*bytes_r = part->raw_header;
	else
		return msgtext_bytes(r, b, part_is_message(part) ?
		    part->first_child : NULL, bytes_r);
	return 0;
}

static int
render_body(struct render *r, const struct imap_fetch_body *b)
{
	struct str bytes;
	bool nil;

	if (section_bytes(r, b, &bytes, &nil) < 0)
		return -1;
	if (item_start(r, b->name) < 0)
		return -1;
	if (nil)
		return buf_append(r->out, "NIL", 3);
	if (b->partial) {
		size_t off = MIN((size_t)b->offset, bytes.len);

		bytes = str_make(bytes.ptr + off,
		    MIN((size_t)b->count, bytes.len - off));
	}
	return write_literal(r->out, bytes.len > 0 ? bytes.ptr : "", bytes.len);
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: BODY[], [HEADER], [TEXT] renamed. */
static int
render_rfc822(struct render *r, const char *name, enum imap_section sec)
{
	struct imap_fetch_body b = { .section = sec, .name = name };

	return render_body(r, &b);
}

static int
render_items(struct render *r, const struct imap_fetch_items *it)
{
	const struct imap_fetch_msg *msg = r->msg;
	unsigned items = it->items;
	int ret = 0;
	size_t i;

	if (items & IMAP_FETCH_UID)
		ret |= item_start(r, "UID") | buf_printf(r->out, "%u", msg->uid);
	if ((items & IMAP_FETCH_FLAGS) || msg->include_flags)
		ret |= render_flags(r);
	if (items & IMAP_FETCH_INTERNALDATE)
		ret |= render_internaldate(r);
	if (items & IMAP_FETCH_RFC822_SIZE)
		ret |= item_start(r, "RFC822.SIZE") | buf_printf(r->out, "%llu",
		    (unsigned long long)(msg->size != 0 ? msg->size : msg->len));
	if (ret == 0 && (items & IMAP_FETCH_ENVELOPE))
		ret = render_structure(r, "ENVELOPE", msg->envelope, 0);
	if (ret == 0 && (items & IMAP_FETCH_BODY))
		ret = render_structure(r, "BODY", msg->body, 1);
	if (ret == 0 && (items & IMAP_FETCH_BODYSTRUCTURE))
		ret = render_structure(r, "BODYSTRUCTURE", msg->bodystructure, 2);
	if (ret == 0 && (items & IMAP_FETCH_RFC822))
		ret = render_rfc822(r, "RFC822", IMAP_SECTION_WHOLE);
	if (ret == 0 && (items & IMAP_FETCH_RFC822_HEADER))
		ret = render_rfc822(r, "RFC822.HEADER", IMAP_SECTION_HEADER);
	if (ret == 0 && (items & IMAP_FETCH_RFC822_TEXT))
		ret = render_rfc822(r, "RFC822.TEXT", IMAP_SECTION_TEXT);
	for (i = 0; ret == 0 && i < it->n_bodies; i++)
		ret = render_body(r, &it->bodies[i]);
	return ret < 0 ? -1 : 0;
}

int
imap_fetch_render(const struct imap_fetch_items *items,
    const struct imap_fetch_msg *msg, struct buf *out, const char **error_r)
{
	struct render r = { .msg = msg, .out = out, .first = true };
	size_t old = out->len;
	int ret;

	if (items->needs_content && msg->data == NULL && msg->len > 0) {
		*error_r = "Message content not available";
		return -1;
	}
	ret = buf_printf(out, "* %u FETCH (", msg->seq);
	if (ret >= 0)
		ret = render_items(&r, items);
	if (ret >= 0 && r.pool != NULL && pool_exhausted(r.pool))
		ret = -1;
	if (ret >= 0)
		ret = buf_append(out, ")\r\n", 3);
	pool_free(&r.pool);
	if (ret < 0) {
		out->len = old;
		if (out->data != NULL)
			out->data[old] = '\0';
		*error_r = "FETCH response too large or message unparsable";
		return -1;
	}
	return 0;
}
