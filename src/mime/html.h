/*
 * html.h - tolerant HTML to text for scanning.
 *
 * html_to_text() strips tags, turns block tags into newlines, drops script
 * and style, decodes entities and notes invisible text and links. Input is
 * UTF-8 (already charset-converted); output is pool-owned UTF-8.
 */
#ifndef MIME_HTML_H
#define MIME_HTML_H

#include <stdbool.h>
#include <stddef.h>

struct pool;

struct html_link {
	const char *href;      /* attribute value, entities decoded */
	const char *text;      /* visible text inside <a>, trimmed, or NULL */
	bool is_image;         /* from <img src> */
	struct html_link *next;
};

#define HTML_FLAG_UNBALANCED   (1u << 0) /* unterminated tag/comment */
#define HTML_FLAG_HAS_SCRIPT   (1u << 1)
#define HTML_FLAG_HAS_FORM     (1u << 2)
#define HTML_FLAG_HAS_IFRAME   (1u << 3)
#define HTML_FLAG_TRUNCATED    (1u << 4) /* output limit reached */

struct html_info {
	unsigned n_tags;
	unsigned n_images;          /* <img> tags */
	unsigned n_links;           /* <a href> tags */
	size_t visible_chars;       /* text bytes output */
	size_t invisible_chars;     /* text bytes hidden by style */
	unsigned flags;             /* HTML_FLAG_* */
	const char *title;          /* <title> text or NULL */
	struct html_link *links;    /* <a href> and <img src>, in order */
};

/*
 * Converts `len` bytes of HTML (borrowed) to text, at most `max_out` bytes.
 * *info_r gets a pool-owned html_info. Returns pool-owned NUL-terminated
 * text (length in *out_len_r), or NULL at the pool cap.
 */
const char *html_to_text(struct pool *pool, const char *html, size_t len,
    size_t max_out, size_t *out_len_r, struct html_info **info_r);

#endif
