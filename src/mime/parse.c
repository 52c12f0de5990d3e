/*
 * parse.c - the MIME tree: mime_parse() and the part walk.
 *
 * The message is one buffer; every part's raw body is a view into it.
 * Multipart bodies are split by searching for "--boundary" at line starts
 * (memmem), so each nesting level costs one pass over its own bytes and
 * depth is capped by max_depth: hostile nesting costs at most
 * max_depth passes. Parts beyond max_parts are not created. Broken
 * structure never stops parsing; it sets MIME_PART_* / MIME_MSG_* flags:
 * a multipart without a boundary gets one guessed from the first "--" line,
 * a missing closing boundary ends the last part at the end of the body,
 * and a multipart with no delimiter at all is treated as text so the
 * content still reaches the rules.
 *
 * Recursion depth is bounded by max_depth (each frame is small).
 */
#include "mime/mime_internal.h"
#include "mime/html.h"

#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/pool.h"
#include "core/xmalloc.h"

#define PARTS_INITIAL 16

struct part_list {
	struct mime_part **v;
	unsigned n, cap;
};

static int part_parse(struct mime_ctx *ctx, struct part_list *pl,
    struct mime_part *part, struct str entity, bool digest_child);

void
mime_limits_default(struct mime_limits *l)
{
	l->max_depth = 32;
	l->max_parts = 1024;
	l->max_headers = 1024;
	l->max_header_block = 1024 * 1024;
	l->max_urls = 10240;
	l->max_text = 10 * 1024 * 1024;
}

/* A new part linked after `prev` (or as first child), or NULL at a limit. */
static struct mime_part *
part_new(struct mime_ctx *ctx, struct part_list *pl, struct mime_part *parent,
    struct mime_part *prev)
{
	struct mime_part *part;

	if (pl->n >= ctx->limits->max_parts) {
		ctx->msg->flags |= MIME_MSG_PARTS_LIMIT;
		return NULL;
	}
	part = pool_alloc(ctx->pool, sizeof(*part));
	if (part == NULL) {
		ctx->oom = true;
		return NULL;
	}
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : PARTS_INITIAL;
		pl->v = xrealloc(pl->v, pl->cap * sizeof(*pl->v));
	}
	pl->v[pl->n++] = part;
	part->parent = parent;
	part->depth = parent != NULL ? parent->depth + 1 : 0;
	if (prev != NULL)
		prev->next_sibling = part;
	else if (parent != NULL)
		parent->first_child = part;
	return part;
}

static void
part_set_type(struct mime_part *part, const char *type, const char *subtype)
{
	part->type = type;
	part->subtype = subtype;
}

static int
part_content_type(struct mime_ctx *ctx, struct mime_part *part,
    bool digest_child)
{
	const struct mime_header *h = mime_headers_find(&part->headers,
	    "Content-Type");
	struct mime_ctype *ct = xmalloc(sizeof(*ct));
	const char *v;
	size_t len;
	int ret = -1;

	if (digest_child)
		part_set_type(part, "message", "rfc822");
	else
		part_set_type(part, "text", "plain");
	if (h == NULL) {
		ret = 0;
		goto out;
	}
	if ((v = mime_unfold(ctx->pool, h->raw, &len)) == NULL)
		goto out;
	if (mime_ctype_parse(v, len, true, ct) < 0) {
		part->flags |= MIME_PART_BAD_CONTENT_TYPE;
	} else {
		part->type = mime_lower_dup(ctx->pool, ct->type);
		part->subtype = mime_lower_dup(ctx->pool, ct->subtype);
		if (part->type == NULL || part->subtype == NULL)
			goto out;
	}
	part->charset = mime_ctype_param(ctx->pool, ct, "charset", false);
	part->boundary = mime_ctype_param(ctx->pool, ct, "boundary", false);
	part->filename = mime_ctype_param(ctx->pool, ct, "name", true);
	ret = 0;
out:
	free(ct);
	return ret;
}

static int
part_disposition(struct mime_ctx *ctx, struct mime_part *part)
{
	const struct mime_header *h = mime_headers_find(&part->headers,
	    "Content-Disposition");
	struct mime_ctype *ct;
	const char *v, *fn;
	size_t len;

	if (h == NULL)
		return 0;
	if ((v = mime_unfold(ctx->pool, h->raw, &len)) == NULL)
		return -1;
	ct = xmalloc(sizeof(*ct));
	if (mime_ctype_parse(v, len, false, ct) == 0) {
		part->disposition = mime_lower_dup(ctx->pool, ct->type);
		fn = mime_ctype_param(ctx->pool, ct, "filename", true);
		if (fn != NULL && fn[0] != '\0')
			part->filename = fn;
	}
	free(ct);
	return 0;
}

static void
part_cte(struct mime_part *part)
{
	const char *v = mime_headers_get(&part->headers,
	    "Content-Transfer-Encoding");
	static const struct {
		const char *name;
		enum mime_cte cte;
	} ctes[] = {
		{ "7bit", MIME_CTE_7BIT }, { "8bit", MIME_CTE_8BIT },
		{ "binary", MIME_CTE_BINARY }, { "base64", MIME_CTE_BASE64 },
		{ "quoted-printable", MIME_CTE_QP },
	};
	struct str s;
	size_t i;

	part->cte = MIME_CTE_7BIT;
	if (v == NULL)
		return;
	s = str_trim(str_from_cstr(v));
	for (i = 0; i < ARRAY_SIZE(ctes); i++) {
		if (str_case_eq_cstr(s, ctes[i].name)) {
			part->cte = ctes[i].cte;
			return;
		}
	}
	part->cte = MIME_CTE_UNKNOWN;
	part->flags |= MIME_PART_UNKNOWN_CTE;
}

/* Transfer-decodes the raw body, keeping at most max_text bytes. */
static int
part_decode(struct mime_ctx *ctx, struct mime_part *part)
{
	struct str in = part->raw_body;
	size_t max = ctx->limits->max_text, cap;
	bool damaged = false;
	char *out;

	if (part->cte == MIME_CTE_BASE64) {
		if (BASE64_DECODED_MAX(in.len) > max) {
			in.len = max / 3 * 4;
			part->flags |= MIME_PART_TRUNCATED;
		}
		cap = BASE64_DECODED_MAX(in.len);
	} else {
		if (in.len > max) {
			in.len = max;
			part->flags |= MIME_PART_TRUNCATED;
		}
		cap = in.len;
	}
	if ((out = pool_alloc(ctx->pool, cap + 1)) == NULL)
		return -1;
	if (part->cte == MIME_CTE_BASE64) {
		part->decoded_len = base64_decode(in.ptr, in.len,
		    (unsigned char *)out, &damaged);
		if (damaged)
			part->flags |= MIME_PART_BAD_BASE64;
	} else if (part->cte == MIME_CTE_QP) {
		part->decoded_len = qp_decode(in.ptr, in.len,
		    (unsigned char *)out, false, &damaged);
		if (damaged)
			part->flags |= MIME_PART_BAD_QP;
	} else {
		memcpy(out, in.ptr, in.len);
		part->decoded_len = in.len;
	}
	out[part->decoded_len] = '\0';
	part->decoded = out;
	return 0;
}

/* Charset conversion, HTML extraction and URL/e-mail collection. */
static int
part_text(struct mime_ctx *ctx, struct mime_part *part)
{
	struct mime_conv_result res;
	struct html_link *l;
	const char *u;
	size_t n;

	u = mime_charset_to_utf8(ctx->pool, part->charset, part->decoded,
	    part->decoded_len, &n, &res);
	if (u == NULL)
		return -1;
	part->flags |= res.flags;
	part->detected_charset = res.charset;
	part->utf8 = u;
	part->utf8_len = n;
	if (part->is_html) {
		part->utf8 = html_to_text(ctx->pool, u, n, ctx->limits->max_text,
		    &part->utf8_len, &part->html);
		if (part->utf8 == NULL)
			return -1;
		for (l = part->html->links; l != NULL; l = l->next) {
			if (mime_add_html_url(ctx, l->href, l->text,
			    l->is_image) < 0)
				return -1;
		}
	}
	return mime_extract_text(ctx, part->utf8, part->utf8_len);
}

static int
part_leaf(struct mime_ctx *ctx, struct mime_part *part)
{
	bool text_type = strcmp(part->type, "text") == 0;

	part->is_attachment = (part->disposition != NULL &&
	    strcmp(part->disposition, "attachment") == 0) ||
	    (part->filename != NULL && !text_type);
	part->is_text = text_type && !part->is_attachment;
	part->is_html = part->is_text && strcmp(part->subtype, "html") == 0;
	if (part_decode(ctx, part) < 0)
		return -1;
	if (part->is_text)
		return part_text(ctx, part);
	return 0;
}

/* A multipart that cannot be split: its bytes are shown as plain text. */
static int
part_leaf_fallback(struct mime_ctx *ctx, struct mime_part *part)
{
	part_set_type(part, "text", "plain");
	return part_leaf(ctx, part);
}

struct delim {
	const char *line;   /* start of the "--boundary" line */
	const char *next;   /* first byte after that line */
	bool close;
};

/*
 * Next delimiter line at or after p: "--boundary" at a line start,
 * followed by "--" (close) or only blanks up to the end of line.
 */
static bool
delim_find(const char *start, const char *p, const char *end,
    const char *pat, size_t plen, struct delim *d)
{
	while (end - p >= (ptrdiff_t)plen) {
		const char *q = memmem(p, (size_t)(end - p), pat, plen);
		const char *a;

		if (q == NULL)
			return false;
		p = q + 1;
		if (q != start && q[-1] != '\n')
			continue;
		a = q + plen;
		d->close = end - a >= 2 && a[0] == '-' && a[1] == '-';
		if (!d->close) {
			while (a < end && (*a == ' ' || *a == '\t'))
				a++;
			if (a < end && *a != '\r' && *a != '\n')
				continue;
		}
		d->line = q;
		a = memchr(a, '\n', (size_t)(end - a));
		d->next = a != NULL ? a + 1 : end;
		return true;
	}
	return false;
}

/* Boundary guessed from the first line that starts with "--". */
static const char *
boundary_guess(struct mime_ctx *ctx, struct str body)
{
	const char *p = body.ptr, *end = body.ptr + body.len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct str line;

		if (eol == NULL)
			eol = end;
		line = str_trim(str_make(p, (size_t)(eol - p)));
		if (line.len > 2 && line.ptr == p && p[0] == '-' && p[1] == '-')
			return pool_strndup(ctx->pool, line.ptr + 2, line.len - 2);
		p = eol + 1;
	}
	return NULL;
}

/* Content between two delimiters; the line end before "--" is not part. */
static struct str
delim_content(const char *from, const struct delim *next, const char *end)
{
	const char *e = next != NULL ? next->line : end;

	if (next != NULL && e > from && e[-1] == '\n')
		e--;
	if (next != NULL && e > from && e[-1] == '\r')
		e--;
	return str_make(from, (size_t)(e - from));
}

static int
part_multipart(struct mime_ctx *ctx, struct part_list *pl,
    struct mime_part *part)
{
	struct str body = part->raw_body;
	const char *end = body.ptr + body.len, *b = part->boundary;
	struct mime_part *prev = NULL, *child;
	bool digest = strcmp(part->subtype, "digest") == 0;
	struct delim d, nd;
	char *pat;
	size_t blen;

	if (b == NULL || b[0] == '\0') {
		part->flags |= MIME_PART_MISSING_BOUNDARY;
		if ((b = boundary_guess(ctx, body)) == NULL)
			return ctx->oom ? -1 : part_leaf_fallback(ctx, part);
	}
	blen = strlen(b);
	if ((pat = pool_alloc(ctx->pool, blen + 3)) == NULL)
		return -1;
	pat[0] = pat[1] = '-';
	memcpy(pat + 2, b, blen);
	if (!delim_find(body.ptr, body.ptr, end, pat, blen + 2, &d)) {
		part->flags |= MIME_PART_EMPTY_MULTIPART;
		return part_leaf_fallback(ctx, part);
	}
	while (!d.close) {
		bool more = delim_find(body.ptr, d.next, end, pat, blen + 2, &nd);
		struct str content = delim_content(d.next, more ? &nd : NULL, end);

		if (!more)
			part->flags |= MIME_PART_UNTERMINATED_MULTIPART;
		if ((child = part_new(ctx, pl, part, prev)) == NULL)
			return ctx->oom ? -1 : 0;
		if (part_parse(ctx, pl, child, content, digest) < 0)
			return -1;
		prev = child;
		if (!more)
			break;
		d = nd;
	}
	return 0;
}

/* message/rfc822: the body is a whole message; 7bit views are kept. */
static int
part_message(struct mime_ctx *ctx, struct part_list *pl,
    struct mime_part *part)
{
	struct mime_part *child;
	struct str inner = part->raw_body;

	if (part->cte == MIME_CTE_BASE64 || part->cte == MIME_CTE_QP) {
		if (part_decode(ctx, part) < 0)
			return -1;
		inner = str_make(part->decoded, part->decoded_len);
	}
	if ((child = part_new(ctx, pl, part, NULL)) == NULL)
		return ctx->oom ? -1 : 0;
	return part_parse(ctx, pl, child, inner, false);
}

static bool
part_is_message(const struct mime_part *part)
{
	return strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "rfc822") == 0 ||
	    strcmp(part->subtype, "global") == 0);
}

/* Headers of `entity` were already parsed when part->headers.count > 0. */
static int
part_body(struct mime_ctx *ctx, struct part_list *pl, struct mime_part *part,
    bool digest_child)
{
	bool container;

	if (part_content_type(ctx, part, digest_child) < 0 ||
	    part_disposition(ctx, part) < 0)
		return -1;
	part_cte(part);
	container = strcmp(part->type, "multipart") == 0 || part_is_message(part);
	if (container && part->depth >= ctx->limits->max_depth) {
		part->flags |= MIME_PART_DEPTH_LIMIT;
		ctx->msg->flags |= MIME_MSG_DEPTH_LIMIT;
		part->is_attachment = true;
		return part_decode(ctx, part);
	}
	if (strcmp(part->type, "multipart") == 0)
		return part_multipart(ctx, pl, part);
	if (part_is_message(part))
		return part_message(ctx, pl, part);
	return part_leaf(ctx, part);
}

static int
part_parse(struct mime_ctx *ctx, struct part_list *pl, struct mime_part *part,
    struct str entity, bool digest_child)
{
	if (mime_headers_parse(ctx, entity, &part->headers, &part->raw_body,
	    &part->flags) < 0)
		return -1;
	part->raw_header = str_make(entity.ptr,
	    (size_t)(part->raw_body.ptr - entity.ptr));
	return part_body(ctx, pl, part, digest_child);
}

#define MIME_PART_ANOMALIES (MIME_PART_BAD_BASE64 | MIME_PART_BAD_QP | \
	MIME_PART_MISSING_BOUNDARY | MIME_PART_UNTERMINATED_MULTIPART | \
	MIME_PART_BAD_CONTENT_TYPE | MIME_PART_UNKNOWN_CTE | \
	MIME_PART_EMPTY_MULTIPART)

/* Copies the pre-order list into the pool and derives the text list. */
static int
message_finish(struct mime_ctx *ctx, struct part_list *pl)
{
	struct mime_message *msg = ctx->msg;
	unsigned i, nt = 0;

	msg->parts = pool_calloc(ctx->pool, pl->n + 1, sizeof(*msg->parts));
	msg->text_parts = pool_calloc(ctx->pool, pl->n + 1,
	    sizeof(*msg->text_parts));
	if (msg->parts == NULL || msg->text_parts == NULL)
		return -1;
	for (i = 0; i < pl->n; i++) {
		struct mime_part *part = pl->v[i];

		msg->parts[i] = part;
		if (part->is_text)
			msg->text_parts[nt++] = part;
		if (part->flags & MIME_PART_ANOMALIES)
			msg->flags |= MIME_MSG_BROKEN_MIME;
		if (part->flags & MIME_PART_8BIT_HEADERS)
			msg->flags |= MIME_MSG_8BIT_HEADERS;
	}
	msg->n_parts = pl->n;
	msg->n_text_parts = nt;
	return 0;
}

static const char *
message_id_clean(struct pool *pool, const char *v)
{
	struct str s;

	if (v == NULL)
		return NULL;
	s = str_trim(str_from_cstr(v));
	if (s.len > 0 && s.ptr[0] == '<') {
		ptrdiff_t gt = str_find_chr(s, '>');

		s = str_slice(s, 1, gt > 0 ? (size_t)gt - 1 : s.len - 1);
	}
	return str_dup_cstr(pool, str_trim(s));
}

/* Skips an mbox "From " separator line; returns the bytes after it. */
static struct str
skip_mbox_from(struct mime_message *msg, struct str in)
{
	const char *nl;

	if (in.len < 5 || memcmp(in.ptr, "From ", 5) != 0)
		return in;
	nl = memchr(in.ptr, '\n', in.len);
	msg->flags |= MIME_MSG_MBOX_FROM_LINE;
	if (nl == NULL)
		return str_make(in.ptr + in.len, 0);
	return str_make(nl + 1, (size_t)(in.ptr + in.len - nl - 1));
}

static int
message_parse(struct mime_ctx *ctx, struct part_list *pl, struct str in)
{
	struct mime_message *msg = ctx->msg;
	struct mime_part *root;

	if (in.len == 0)
		msg->flags |= MIME_MSG_EMPTY;
	if ((root = part_new(ctx, pl, NULL, NULL)) == NULL)
		return -1;
	msg->root = root;
	if (mime_headers_parse(ctx, in, &root->headers, &root->raw_body,
	    &root->flags) < 0)
		return -1;
	root->raw_header = str_make(in.ptr, (size_t)(root->raw_body.ptr - in.ptr));
	msg->headers = root->headers;
	msg->body = root->raw_body;
	if (root->flags & MIME_PART_NO_HEADERS_END)
		msg->flags |= MIME_MSG_NO_HEADERS_END;
	msg->subject = mime_headers_get(&msg->headers, "Subject");
	msg->message_id = message_id_clean(ctx->pool,
	    mime_headers_get(&msg->headers, "Message-ID"));
	if (part_body(ctx, pl, root, false) < 0)
		return -1;
	return message_finish(ctx, pl);
}

struct mime_message *
mime_parse(struct pool *pool, const char *data, size_t len,
    const struct mime_limits *limits, const char **error_r)
{
	struct mime_limits defaults;
	struct mime_ctx ctx = { .pool = pool };
	struct part_list pl = { 0 };
	int ret;

	if (limits == NULL) {
		mime_limits_default(&defaults);
		limits = &defaults;
	}
	ctx.limits = limits;
	ctx.msg = pool_alloc(pool, sizeof(*ctx.msg));
	if (ctx.msg == NULL) {
		*error_r = "mime: pool exhausted";
		return NULL;
	}
	ret = message_parse(&ctx, &pl, skip_mbox_from(ctx.msg,
	    str_make(data != NULL ? data : "", data != NULL ? len : 0)));
	free(pl.v);
	mime_set_free(&ctx.url_set);
	mime_set_free(&ctx.email_set);
	if (ret < 0 || ctx.oom || pool_exhausted(pool)) {
		*error_r = "mime: pool exhausted";
		return NULL;
	}
	return ctx.msg;
}
