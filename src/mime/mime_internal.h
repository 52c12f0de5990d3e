/*
 * mime_internal.h - shared between the files of src/mime only.
 *
 * The parse context carries the pool, limits and the message being built;
 * the helpers below are the seams between headers, encoded words, params,
 * charsets, HTML and URL extraction.
 */
#ifndef MIME_INTERNAL_H
#define MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "mime/message.h"

struct pool;

/* URL/e-mail dedup set (open addressing over 64-bit hashes, heap-owned). */
struct mime_set {
	uint64_t *slots;
	size_t cap, used;
};

struct mime_ctx {
	struct pool *pool;
	const struct mime_limits *limits;
	struct mime_message *msg;
	unsigned n_parts;
	bool oom;               /* pool cap hit: stop and return NULL */
	struct mime_set url_set, email_set;
	size_t urls_cap, emails_cap;
};

/* headers.c */

/*
 * Parses a header block at the start of `in`. Sets *body_r to the bytes
 * after the blank line (empty view at the end when there is none) and ORs
 * MIME_PART_* flags into *flags_r. Returns -1 only on pool exhaustion.
 */
int mime_headers_parse(struct mime_ctx *ctx, struct str in,
    struct mime_headers *h, struct str *body_r, unsigned *flags_r);
/* Raw header value with folding removed and ends trimmed (pool-owned). */
char *mime_unfold(struct pool *pool, struct str raw, size_t *len_r);

/* rfc2047.c */

/*
 * Decodes encoded words in `len` bytes of unfolded text and converts raw
 * 8-bit bytes to UTF-8. Returns pool-owned UTF-8 (NULL at the pool cap);
 * *had_8bit_r tells whether raw 8-bit bytes were present.
 */
char *mime_rfc2047_decode(struct pool *pool, const char *s, size_t len,
    size_t *out_len_r, bool *had_8bit_r);

/* content_type.c */

#define MIME_MAX_PARAMS 64

struct mime_param {
	struct str name;   /* without the "*N*" suffix */
	struct str value;  /* without quotes; backslash escapes still there */
	int section;       /* RFC 2231 section number, -1 when none */
	bool extended;     /* "*=" form: charset'lang'%XX */
	bool quoted;
};

struct mime_ctype {
	struct str type, subtype; /* views, not lowercased */
	struct mime_param params[MIME_MAX_PARAMS];
	unsigned n_params;
};

/* Parses "type/subtype; params" (also Content-Disposition with no '/'). */
int mime_ctype_parse(const char *value, size_t len, bool want_subtype,
    struct mime_ctype *ct_r);
/*
 * Assembles parameter `name` (RFC 2231 continuations) or NULL. With
 * `decode`, the value is converted to UTF-8 (2231 charset or 2047 words);
 * without, the bytes are kept (boundaries must match exactly).
 */
const char *mime_ctype_param(struct pool *pool, const struct mime_ctype *ct,
    const char *name, bool decode);
char *mime_lower_dup(struct pool *pool, struct str s);

/* charset.c */

/* Why a conversion picked its charset (MIME_PART_* bits). */
struct mime_conv_result {
	const char *charset;   /* name actually used */
	unsigned flags;        /* MIME_PART_BAD_CHARSET | MIME_PART_CHARSET_DETECTED */
};

/*
 * Converts `len` bytes in `charset` (NULL when undeclared) to UTF-8.
 * Unknown charsets, bytes invalid in the declared charset and undeclared
 * 8-bit text go through detection. Returns pool-owned NUL-terminated UTF-8
 * (NULL at the pool cap).
 */
char *mime_charset_to_utf8(struct pool *pool, const char *charset,
    const char *in, size_t len, size_t *out_len_r,
    struct mime_conv_result *res_r);
bool mime_utf8_valid(const char *s, size_t len);
bool mime_is_ascii(const char *s, size_t len);

/* url.c */

/* Adds URLs and e-mail addresses found in plain UTF-8 text. */
int mime_extract_text(struct mime_ctx *ctx, const char *text, size_t len);
/* Adds one URL from an HTML attribute (href/src) with its shown text. */
int mime_add_html_url(struct mime_ctx *ctx, const char *href,
    const char *displayed, bool is_image);
void mime_set_free(struct mime_set *set);

#endif
