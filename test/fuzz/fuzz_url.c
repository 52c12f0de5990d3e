/*
 * fuzz_url.c - libFuzzer target for URL and e-mail extraction
 * (src/mime/url.c): mime_extract_text() on plain text and
 * mime_add_html_url() on an href with its shown text, through a parse
 * context set up the way the MIME parser sets one up.
 *
 * Input: one flag byte (bit 0: a URL limit of 3 instead of the default),
 * then "href\ndisplayed\ntext"; without two newlines it is all text.
 * Invariants: no more URLs than the limit and no duplicates; every URL
 * and host is a readable string, the host is lowercase and lies inside
 * the lowercased URL; a text URL appears verbatim in the text (a bare
 * www. one after its added "http://") and has no space or control byte;
 * an address is user@domain with a lowercase dotted domain and appears
 * in the text ignoring case; an href with an accepted scheme is kept
 * unless the limit was reached; only an HTML link can be phished.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "core/str.h"
#include "mime/mime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_URL_MAX_LEN 8192 /* URL_MAX_LEN in url.c */

static char *
lower_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		d[i] = ascii_tolower(s[i]);
	d[n] = '\0';
	return d;
}

static void
check_url(const struct mime_url *u, const char *ltext, size_t tlen)
{
	size_t len = strlen(u->url), hlen;
	char *lurl = lower_dup(u->url, len);
	bool ok;

	if (u->host == NULL || len > FUZZ_URL_MAX_LEN + 7)
		__builtin_trap();
	hlen = strlen(u->host);
	ok = hlen <= len && (hlen == 0 || strstr(lurl, u->host) != NULL);
	for (size_t i = 0; i < hlen; i++)
		ok &= !(u->host[i] >= 'A' && u->host[i] <= 'Z');
	if (u->flags & MIME_URL_FROM_TEXT) {
		const char *v = lurl;

		if (u->flags & MIME_URL_SCHEMELESS) {
			ok &= strncmp(lurl, "http://", 7) == 0;
			v += 7;
		}
		ok &= memmem(ltext, tlen, v, strlen(v)) != NULL;
		for (size_t i = 0; i < len; i++)
			ok &= (unsigned char)u->url[i] > ' ' && u->url[i] != 0x7f;
		ok &= !(u->flags & MIME_URL_PHISHED);
	}
	free(lurl);
	if (!ok)
		__builtin_trap();
}

static void
check_email(const struct mime_email *e, const char *ltext, size_t tlen)
{
	size_t ulen, dlen;
	char *laddr;
	bool ok;

	if (e->addr == NULL || e->user == NULL || e->domain == NULL)
		__builtin_trap();
	ulen = strlen(e->user);
	dlen = strlen(e->domain);
	ok = ulen > 0 && strlen(e->addr) == ulen + 1 + dlen &&
	    strncmp(e->addr, e->user, ulen) == 0 && e->addr[ulen] == '@' &&
	    strcmp(e->addr + ulen + 1, e->domain) == 0 &&
	    strchr(e->domain, '.') != NULL;
	for (size_t i = 0; i < dlen; i++)
		ok &= !(e->domain[i] >= 'A' && e->domain[i] <= 'Z');
	laddr = lower_dup(e->addr, strlen(e->addr));
	ok &= memmem(ltext, tlen, laddr, strlen(laddr)) != NULL;
	free(laddr);
	if (!ok)
		__builtin_trap();
}

/* The href was accepted (scheme we keep): its URL must be in the list. */
static void
check_href_kept(const struct mime_ctx *ctx, const char *href)
{
	struct str s = str_trim(str_from_cstr(href));
	size_t n = s.len < FUZZ_URL_MAX_LEN ? s.len : FUZZ_URL_MAX_LEN;
	static const char *const schemes[] = { "http://", "https://", "ftp://", "mailto:" };
	bool accepted = false;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		accepted |= s.len >= strlen(schemes[i]) &&
		    str_case_eq_cstr(str_make(s.ptr, strlen(schemes[i])), schemes[i]);
	if (!accepted || (ctx->msg->flags & MIME_MSG_URLS_LIMIT))
		return;
	for (size_t i = 0; i < ctx->msg->n_urls; i++) {
		const char *u = ctx->msg->urls[i].url;

		if (strlen(u) == n && memcmp(u, s.ptr, n) == 0)
			return;
	}
	__builtin_trap();
}

static void
run(const uint8_t *data, size_t size, const char *href, const char *shown,
    const char *text, size_t tlen)
{
	struct mime_limits lim;
	struct mime_ctx ctx;
	char *ltext = lower_dup(text, tlen);

	mime_limits_default(&lim);
	if (data[0] & 1)
		lim.max_urls = 3;
	memset(&ctx, 0, sizeof(ctx));
	ctx.pool = pool_new(64u << 20);
	ctx.limits = &lim;
	ctx.msg = pool_alloc(ctx.pool, sizeof(*ctx.msg));
	if (mime_extract_text(&ctx, text, tlen) != 0)
		__builtin_trap();
	if (href != NULL) {
		if (mime_add_html_url(&ctx, href, *shown ? shown : NULL, (data[0] & 2) != 0) != 0)
			__builtin_trap();
		check_href_kept(&ctx, href);
	}
	if (ctx.msg->n_urls > lim.max_urls)
		__builtin_trap();
	for (size_t i = 0; i < ctx.msg->n_urls; i++) {
		check_url(&ctx.msg->urls[i], ltext, tlen);
		for (size_t j = 0; j < i && ctx.msg->n_urls <= 64; j++)
			if (strcmp(ctx.msg->urls[i].url, ctx.msg->urls[j].url) == 0)
				__builtin_trap();
	}
	for (size_t i = 0; i < ctx.msg->n_emails; i++)
		check_email(&ctx.msg->emails[i], ltext, tlen);
	mime_set_free(&ctx.url_set);
	mime_set_free(&ctx.email_set);
	pool_free(&ctx.pool);
	free(ltext);
	(void)size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1, *end = (const char *)data + size;
	const char *nl1, *nl2;
	char *href = NULL, *shown = NULL;

	if (size < 1)
		return 0;
	nl1 = memchr(in, '\n', (size_t)(end - in));
	nl2 = nl1 != NULL ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
	if (nl2 != NULL) {
		href = strndup(in, (size_t)(nl1 - in));
		shown = strndup(nl1 + 1, (size_t)(nl2 - nl1 - 1));
		in = nl2 + 1;
	}
	run(data, size, href, shown, in, (size_t)(end - in));
	free(href);
	free(shown);
	return 0;
}
