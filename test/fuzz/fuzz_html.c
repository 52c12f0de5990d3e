/*
 * fuzz_html.c - libFuzzer target for HTML to text (src/mime/html.c).
 *
 * The first byte picks the output limit (a small one to exercise
 * truncation, or 1 MiB); the rest is the HTML. Invariants checked on the
 * result: text is NUL-terminated at its length, within both max_out and
 * the "input length plus a constant" the file promises; visible_chars
 * never exceeds the text (only whitespace is added to it uncounted);
 * TRUNCATED is set when visible text was dropped for room; valid UTF-8
 * in gives valid UTF-8 out (truncation drops whole runs, never half a
 * character); the title, every link's href and shown text are readable
 * strings (touched byte by byte for ASan) and there are no more links
 * than <a href> and <img> tags counted.
 */
#include <stdint.h>
#include <string.h>

#include "core/pool.h"
#include "mime/html.h"
#include "mime/mime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Slack html.c allows over the input length. */
#define FUZZ_HTML_SLACK 16

static size_t
touch(const char *s)
{
	volatile size_t sum = 0;
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		sum += (unsigned char)s[n];
	return n + (sum & 0);
}

static void
check_links(const struct html_info *info, const char *html, size_t len)
{
	unsigned n = 0;

	for (const struct html_link *l = info->links; l != NULL; l = l->next) {
		if (l->href == NULL || touch(l->href) > len)
			__builtin_trap();
		/* empty shown text is NULL (a NUL byte in the input can end it early) */
		if (l->text != NULL && touch(l->text) == 0 && memchr(html, 0, len) == NULL)
			__builtin_trap();
		if (l->text != NULL && mime_utf8_valid(html, len) &&
		    !mime_utf8_valid(l->text, strlen(l->text)))
			__builtin_trap();
		n++;
	}
	if (n > info->n_links + info->n_images)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct html_info *info = NULL;
	struct pool *pool;
	const char *html, *text;
	size_t len, max_out, out_len = 0;

	if (size < 1)
		return 0;
	max_out = data[0] < 128 ? (size_t)data[0] : (size_t)1 << 20;
	html = (const char *)data + 1;
	len = size - 1;
	pool = pool_new(64u << 20);
	text = html_to_text(pool, html, len, max_out, &out_len, &info);
	if (text == NULL || info == NULL)
		__builtin_trap(); /* the pool cap is far above what a run needs */
	if (out_len > max_out || out_len > len + FUZZ_HTML_SLACK ||
	    text[out_len] != '\0' || info->visible_chars > out_len)
		__builtin_trap();
	if (max_out >= len + FUZZ_HTML_SLACK && (info->flags & HTML_FLAG_TRUNCATED))
		__builtin_trap();
	if (mime_utf8_valid(html, len) && !mime_utf8_valid(text, out_len))
		__builtin_trap();
	if (info->title != NULL)
		touch(info->title);
	check_links(info, html, len);
	pool_free(&pool);
	return 0;
}
