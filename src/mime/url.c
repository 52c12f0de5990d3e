/*
 * url.c - URLs and e-mail addresses in message text, deduplicated.
 *
 * Plain text is scanned once with memchr for ':' (scheme URLs: http,
 * https, ftp, mailto), '.' (bare "www." hosts) and '@' (addresses); the
 * nearest hit wins, so URLs come out in text order. A URL ends at a space,
 * a control byte or a delimiter mail clients never include, and trailing
 * punctuation (".,;:!?" and an unbalanced ")") is trimmed. Hosts are
 * lowercased; IP literals and obfuscations (userinfo, %-escapes, numeric
 * hosts) are flagged for rules. Dedup uses a set of 64-bit xxhashes of
 * the full URL; the URL array grows in the pool up to max_urls.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/pool.h"
#include "core/xmalloc.h"

#define URL_MAX_LEN 8192
#define EMAILS_MAX 4096

void
mime_set_free(struct mime_set *set)
{
	free(set->slots);
	set->slots = NULL;
	set->cap = set->used = 0;
}

/* Adds a hash; returns false when it was already there. */
static bool
set_add(struct mime_set *set, uint64_t h)
{
	size_t i, mask;

	if (h == 0)
		h = 1; /* 0 marks an empty slot */
	if ((set->used + 1) * 2 > set->cap) {
		struct mime_set n = { 0 };

		n.cap = set->cap ? set->cap * 2 : 64;
		n.slots = xcalloc(n.cap, sizeof(*n.slots));
		for (i = 0; i < set->cap; i++) {
			if (set->slots[i] != 0)
				set_add(&n, set->slots[i]);
		}
		free(set->slots);
		*set = n;
	}
	mask = set->cap - 1;
	for (i = (size_t)h & mask; set->slots[i] != 0; i = (i + 1) & mask) {
		if (set->slots[i] == h)
			return false;
	}
	set->slots[i] = h;
	set->used++;
	return true;
}

static bool
url_char(unsigned char c)
{
	if (c <= ' ' || c == 0x7f)
		return false;
	return c != '<' && c != '>' && c != '"' && c != '\'' && c != '`' &&
	    c != '{' && c != '}' && c != '|' && c != '\\' && c != '^';
}

static bool
host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c >= 0x80;
}

static bool
local_char(unsigned char c)
{
	return host_char(c) || c == '+' || c == '=' || c == '%' || c == '!' ||
	    c == '#' || c == '$' || c == '&' || c == '*' || c == '/' ||
	    c == '?' || c == '~';
}

/* Length of the URL at p after trimming trailing punctuation. */
static size_t
url_span(const char *p, const char *end)
{
	const char *q = p;
	int parens = 0;

	while (q < end && q - p < URL_MAX_LEN && url_char((unsigned char)*q)) {
		if (*q == '(')
			parens++;
		else if (*q == ')')
			parens--;
		q++;
	}
	while (q > p) {
		char c = q[-1];

		if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' ||
		    c == '?' || c == ']' || c == '*') {
			q--;
		} else if (c == ')' && parens < 0) {
			parens++;
			q--;
		} else {
			break;
		}
	}
	return (size_t)(q - p);
}

static bool
host_is_ip(const char *h, size_t len, bool *numeric_r)
{
	size_t i, dots = 0;

	*numeric_r = false;
	if (len > 0 && h[0] == '[')
		return true;
	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (h[i] == '.')
			dots++;
		else if (!(h[i] >= '0' && h[i] <= '9') &&
		    !(ascii_tolower(h[i]) == 'x' || (ascii_tolower(h[i]) >= 'a' &&
		    ascii_tolower(h[i]) <= 'f' && i > 0 && h[i - 1] != '.')))
			return false;
	}
	if (!(h[0] >= '0' && h[0] <= '9'))
		return false;
	*numeric_r = dots != 3;
	return true;
}

/* Host part of an absolute URL (after "scheme://" at `hp`), lowercased. */
static const char *
url_host(struct pool *pool, const char *hp, const char *end, unsigned *flags)
{
	const char *e = hp, *at, *h;
	bool numeric;
	char *out;
	size_t n, i;

	while (e < end && *e != '/' && *e != '?' && *e != '#' && *e != '\\')
		e++;
	at = NULL;
	for (h = hp; h < e; h++) {
		if (*h == '@')
			at = h;
	}
	if (at != NULL) {
		*flags |= MIME_URL_OBFUSCATED;
		hp = at + 1;
	}
	h = hp;
	if (h < e && *h == '[') {
		while (h < e && *h != ']')
			h++;
		if (h < e)
			h++;
	} else {
		while (h < e && *h != ':')
			h++;
	}
	n = (size_t)(h - hp);
	if ((out = pool_alloc(pool, n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		out[i] = ascii_tolower(hp[i]);
		if (out[i] == '%')
			*flags |= MIME_URL_OBFUSCATED;
	}
	if (host_is_ip(out, n, &numeric)) {
		*flags |= MIME_URL_HAS_IP;
		if (numeric)
			*flags |= MIME_URL_OBFUSCATED;
	}
	return out;
}

static int
url_push(struct mime_ctx *ctx, const char *url, const char *host,
    const char *displayed, unsigned flags)
{
	struct mime_message *msg = ctx->msg;

	if (msg->n_urls == ctx->urls_cap) {
		size_t ncap = ctx->urls_cap ? ctx->urls_cap * 2 : 16;
		struct mime_url *n = pool_calloc(ctx->pool, ncap, sizeof(*n));

		if (n == NULL)
			return -1;
		if (msg->n_urls > 0)
			memcpy(n, msg->urls, msg->n_urls * sizeof(*n));
		msg->urls = n;
		ctx->urls_cap = ncap;
	}
	msg->urls[msg->n_urls++] = (struct mime_url){ url, host, displayed,
	    flags };
	return 0;
}

/*
 * Adds the URL `s` (len bytes, not NUL-terminated) unless seen already.
 * `hoff` is the offset of the host, or -1 for mailto:.
 */
static int
url_add(struct mime_ctx *ctx, const char *s, size_t len, ptrdiff_t hoff,
    const char *displayed, unsigned flags)
{
	const char *url, *host = "";

	if (ctx->msg->n_urls >= ctx->limits->max_urls) {
		ctx->msg->flags |= MIME_MSG_URLS_LIMIT;
		return 0;
	}
	if (!set_add(&ctx->url_set, XXH3_64bits(s, len)))
		return 0;
	if ((url = pool_strndup(ctx->pool, s, len)) == NULL)
		return -1;
	if (hoff >= 0) {
		host = url_host(ctx->pool, url + hoff, url + len, &flags);
		if (host == NULL)
			return -1;
	} else {
		flags |= MIME_URL_MAILTO;
		const char *at = memchr(url, '@', len);

		if (at != NULL) {
			size_t hl = strcspn(at + 1, "?&>");
			host = mime_lower_dup(ctx->pool, str_make(at + 1, hl));
			if (host == NULL)
				return -1;
		}
	}
	return url_push(ctx, url, host, displayed, flags);
}

static int
email_add(struct mime_ctx *ctx, const char *s, size_t ulen, size_t dlen)
{
	struct mime_message *msg = ctx->msg;
	struct mime_email *e;
	char *addr;
	size_t i, len = ulen + 1 + dlen;

	if (msg->n_emails >= EMAILS_MAX)
		return 0;
	if ((addr = pool_strndup(ctx->pool, s, len)) == NULL)
		return -1;
	for (i = ulen + 1; i < len; i++)
		addr[i] = ascii_tolower(addr[i]);
	if (!set_add(&ctx->email_set, XXH3_64bits(addr, len)))
		return 0;
	if (msg->n_emails == ctx->emails_cap) {
		size_t ncap = ctx->emails_cap ? ctx->emails_cap * 2 : 8;
		struct mime_email *n = pool_calloc(ctx->pool, ncap, sizeof(*n));

		if (n == NULL)
			return -1;
		if (msg->n_emails > 0)
			memcpy(n, msg->emails, msg->n_emails * sizeof(*n));
		msg->emails = n;
		ctx->emails_cap = ncap;
	}
	e = &msg->emails[msg->n_emails++];
	e->addr = addr;
	e->user = pool_strndup(ctx->pool, addr, ulen);
	e->domain = addr + ulen + 1;
	return e->user != NULL ? 0 : -1;
}

/* An address around the '@' at `at`; returns the bytes consumed after it. */
static size_t
scan_email(struct mime_ctx *ctx, const char *start, const char *at,
    const char *end, int *err_r)
{
	const char *u = at, *d = at + 1;
	size_t dots = 0;

	while (u > start && local_char((unsigned char)u[-1]) && at - u < 64)
		u--;
	while (d < end && host_char((unsigned char)*d) && d - at < 255) {
		if (*d == '.')
			dots++;
		d++;
	}
	while (d > at + 1 && (d[-1] == '.' || d[-1] == '-')) {
		if (d[-1] == '.')
			dots--;
		d--;
	}
	while (u < at && (*u == '.' || *u == '/'))
		u++;
	if (u == at || dots == 0 || d == at + 1)
		return 1;
	/* "scheme://user@host" is a URL with userinfo, not an address. */
	if (u > start && (u[-1] == '/' || u[-1] == ':'))
		return (size_t)(d - at);
	*err_r = email_add(ctx, u, (size_t)(at - u), (size_t)(d - at - 1));
	return (size_t)(d - at);
}

static bool
scheme_before(const char *start, const char *colon, const char *scheme,
    size_t n)
{
	if ((size_t)(colon - start) < n)
		return false;
	if (!str_case_eq_cstr(str_make(colon - n, n), scheme))
		return false;
	/* Not the tail of a longer word ("xhttp:"). */
	const char *before = colon - n - 1;

	return colon - n == start || !host_char((unsigned char)*before) ||
	    *before == '.';
}

/* A URL whose scheme ends at `colon`; returns bytes consumed from colon. */
static size_t
scan_scheme(struct mime_ctx *ctx, const char *start, const char *colon,
    const char *end, int *err_r)
{
	static const char *const schemes[] = { "https", "http", "ftp", "mailto" };
	size_t i, n, span;

	for (i = 0; i < ARRAY_SIZE(schemes); i++) {
		n = strlen(schemes[i]);
		if (scheme_before(start, colon, schemes[i], n))
			break;
	}
	if (i == ARRAY_SIZE(schemes))
		return 1;
	if (i < 3) {
		if (end - colon < 4 || colon[1] != '/' || colon[2] != '/' ||
		    !host_char((unsigned char)colon[3]))
			return 1;
		span = url_span(colon - n, end);
		*err_r = url_add(ctx, colon - n, span, (ptrdiff_t)n + 3, NULL,
		    MIME_URL_FROM_TEXT);
	} else {
		span = url_span(colon - n, end);
		if (span <= n + 1 || memchr(colon, '@', span - n) == NULL)
			return 1;
		*err_r = url_add(ctx, colon - n, span, -1, NULL,
		    MIME_URL_FROM_TEXT);
	}
	return span - n;
}

/* "www." at p (the '.' is at p + 3); returns bytes consumed from the '.'. */
static size_t
scan_www(struct mime_ctx *ctx, const char *start, const char *dot,
    const char *end, int *err_r)
{
	const char *p = dot - 3;
	char buf[URL_MAX_LEN + 8];
	size_t span;

	if (dot - start < 3 || !str_case_eq_cstr(str_make(p, 3), "www"))
		return 1;
	if (p > start && (host_char((unsigned char)p[-1]) || p[-1] == '/'))
		return 1;
	span = url_span(p, end);
	if (span < 6 || !host_char((unsigned char)dot[1]) ||
	    memchr(dot + 1, '.', span - 4) == NULL)
		return 1;
	/* Stored with a scheme so it dedups against the http:// form. */
	memcpy(buf, "http://", 7);
	memcpy(buf + 7, p, span);
	*err_r = url_add(ctx, buf, span + 7, 7, NULL,
	    MIME_URL_FROM_TEXT | MIME_URL_SCHEMELESS);
	return span - 3;
}

/* Next `c` at or after p, or `end`; reuses the last hit while still ahead. */
static const char *
next_hit(const char *prev, const char *p, const char *end, char c)
{
	const char *q;

	if (prev == end || (prev != NULL && prev >= p))
		return prev;
	q = memchr(p, c, (size_t)(end - p));
	return q != NULL ? q : end;
}

int
mime_extract_text(struct mime_ctx *ctx, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	const char *nc = NULL, *nd = NULL, *na = NULL;
	int err = 0;

	while (p < end && err == 0) {
		const char *hit;
		size_t used;

		nc = next_hit(nc, p, end, ':');
		nd = next_hit(nd, p, end, '.');
		na = next_hit(na, p, end, '@');
		hit = MIN(nc, MIN(nd, na));
		if (hit == end)
			break;
		if (hit == nc)
			used = scan_scheme(ctx, text, hit, end, &err);
		else if (hit == nd)
			used = scan_www(ctx, text, hit, end, &err);
		else
			used = scan_email(ctx, text, hit, end, &err);
		p = hit + used;
	}
	return err;
}

/* Host of something a reader would take for a URL, or NULL. */
static bool
displayed_host(const char *text, char *host, size_t size)
{
	struct str s = str_trim(str_from_cstr(text));
	const char *p = s.ptr, *end = s.ptr + s.len, *h;
	size_t n = 0, dots = 0;

	if (str_has_prefix_case(s, "http://"))
		p += 7;
	else if (str_has_prefix_case(s, "https://"))
		p += 8;
	else if (!str_has_prefix_case(s, "www."))
		return false;
	for (h = p; h < end && host_char((unsigned char)*h) && n + 1 < size;
	    h++) {
		host[n++] = ascii_tolower(*h);
		dots += *h == '.';
	}
	host[n] = '\0';
	return dots > 0 && (h == end || *h == '/' || *h == ':' || *h == '?');
}

/* Same site: equal after dropping "www.", or one a subdomain of the other. */
static bool
host_related(const char *a, const char *b)
{
	size_t la, lb;

	if (strncmp(a, "www.", 4) == 0)
		a += 4;
	if (strncmp(b, "www.", 4) == 0)
		b += 4;
	la = strlen(a);
	lb = strlen(b);
	if (la == lb)
		return strcmp(a, b) == 0;
	if (la > lb)
		return a[la - lb - 1] == '.' && strcmp(a + la - lb, b) == 0;
	return b[lb - la - 1] == '.' && strcmp(b + lb - la, a) == 0;
}

int
mime_add_html_url(struct mime_ctx *ctx, const char *href,
    const char *displayed, bool is_image)
{
	struct str s = str_trim(str_from_cstr(href));
	unsigned flags = MIME_URL_FROM_HTML | (is_image ? MIME_URL_IMAGE : 0);
	size_t before = ctx->msg->n_urls, span;
	char dhost[256];
	ptrdiff_t hoff;

	if (str_has_prefix_case(s, "http://"))
		hoff = 7;
	else if (str_has_prefix_case(s, "https://"))
		hoff = 8;
	else if (str_has_prefix_case(s, "ftp://"))
		hoff = 6;
	else if (str_has_prefix_case(s, "mailto:"))
		hoff = -1;
	else
		return 0; /* relative, javascript:, cid: ... */
	span = MIN(s.len, URL_MAX_LEN);
	if (url_add(ctx, s.ptr, span, hoff, displayed, flags) < 0)
		return -1;
	if (ctx->msg->n_urls == before || hoff < 0 || displayed == NULL)
		return 0;
	struct mime_url *u = &ctx->msg->urls[ctx->msg->n_urls - 1];

	if (displayed_host(displayed, dhost, sizeof(dhost)) &&
	    !host_related(dhost, u->host))
		u->flags |= MIME_URL_PHISHED;
	return 0;
}
