/*
 * message.h - the MIME parser's public API: bytes in, parsed message out.
 *
 * mime_parse() takes a whole message in one buffer (it is not incremental),
 * a pool for every result and a limits struct. The message bytes are
 * borrowed: `struct str` fields are views into the caller's buffer, which
 * must outlive the result. Decoded data (header values, transfer-decoded
 * bodies, UTF-8 text) is copied into the pool. The parser never reads past
 * the buffer and runs in time bounded by the input size and the limits.
 *
 * Everything returned is pool-owned and read-only for callers.
 */
#ifndef MIME_MESSAGE_H
#define MIME_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct pool;
struct html_info;

struct mime_limits {
	unsigned max_depth;      /* nesting of multipart/message parts, 32 */
	unsigned max_parts;      /* parts in the whole message, 1024 */
	unsigned max_headers;    /* headers per header block, 1024 */
	size_t max_header_block; /* bytes per header block, 1 MiB */
	size_t max_urls;         /* URLs kept per message, 10240 */
	size_t max_text;         /* decoded bytes per part kept, 10 MiB */
};

void mime_limits_default(struct mime_limits *limits);

struct mime_header {
	struct str name;
	struct str raw;     /* raw value, still folded, without "Name:" */
	const char *value;  /* unfolded, RFC 2047 decoded, UTF-8, NUL-terminated */
	bool decoded_8bit;  /* raw value had 8-bit bytes (converted to UTF-8) */
	struct mime_header *next; /* in order of appearance */
};

struct mime_headers {
	struct mime_header *first, *last;
	unsigned count;
};

/* First header named `name` (case-insensitive), or NULL. */
const struct mime_header *mime_headers_find(const struct mime_headers *h,
    const char *name);
unsigned mime_headers_count(const struct mime_headers *h, const char *name);
/* Decoded value of the first header named `name`, or NULL. */
const char *mime_headers_get(const struct mime_headers *h, const char *name);

enum mime_cte {
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_UNKNOWN,
};

/* Part anomaly flags (struct mime_part.flags). */
#define MIME_PART_BAD_BASE64             (1u << 0)
#define MIME_PART_BAD_QP                 (1u << 1)
#define MIME_PART_MISSING_BOUNDARY       (1u << 2) /* multipart, no boundary= */
#define MIME_PART_UNTERMINATED_MULTIPART (1u << 3) /* no closing boundary */
#define MIME_PART_BAD_CHARSET            (1u << 4) /* unknown/unconvertible */
#define MIME_PART_CHARSET_DETECTED       (1u << 5) /* ucsdet picked the charset */
#define MIME_PART_8BIT_HEADERS           (1u << 6) /* raw 8-bit in headers */
#define MIME_PART_DEPTH_LIMIT            (1u << 7) /* children not parsed */
#define MIME_PART_TRUNCATED              (1u << 8) /* decoded/text cut at max_text */
#define MIME_PART_BAD_CONTENT_TYPE       (1u << 9) /* unparsable Content-Type */
#define MIME_PART_UNKNOWN_CTE            (1u << 10)
#define MIME_PART_NO_HEADERS_END         (1u << 11) /* header block not ended */
#define MIME_PART_EMPTY_MULTIPART        (1u << 12) /* no boundary line found */
#define MIME_PART_BAD_HEADER_LINE        (1u << 13) /* junk line in headers */

struct mime_part {
	struct mime_headers headers;
	const char *type, *subtype; /* lowercased; "text","plain" by default */
	const char *charset;        /* declared charset or NULL */
	const char *boundary;       /* multipart boundary or NULL */
	const char *filename;       /* disposition filename or type name= */
	const char *disposition;    /* "inline"/"attachment"/other, or NULL */
	enum mime_cte cte;
	struct str raw_header;      /* view of the header block, blank line included */
	struct str raw_body;        /* view of the encoded body in the message */
	const char *decoded;        /* transfer-decoded bytes, NUL-terminated */
	size_t decoded_len;
	bool is_text, is_html, is_attachment;
	const char *utf8;           /* text parts: UTF-8 text (HTML: extracted) */
	size_t utf8_len;
	const char *detected_charset; /* charset used for conversion */
	struct mime_part *parent, *first_child, *next_sibling;
	unsigned depth;
	unsigned flags;             /* MIME_PART_* */
	struct html_info *html;     /* NULL unless is_html (mime/html.h) */
};

#define MIME_URL_FROM_HTML  (1u << 0)
#define MIME_URL_FROM_TEXT  (1u << 1)
#define MIME_URL_PHISHED    (1u << 2) /* shown text is a URL to another host */
#define MIME_URL_HAS_IP     (1u << 3) /* host is an IPv4/IPv6 literal */
#define MIME_URL_OBFUSCATED (1u << 4) /* %-encoded host, userinfo, odd IP form */
#define MIME_URL_MAILTO     (1u << 5)
#define MIME_URL_SCHEMELESS (1u << 6) /* bare www.host in text */
#define MIME_URL_IMAGE      (1u << 7) /* <img src> */

struct mime_url {
	const char *url;
	const char *host;      /* lowercased, IDN as given; "" if none */
	const char *displayed; /* HTML: visible text of the <a>, or NULL */
	unsigned flags;        /* MIME_URL_* */
};

struct mime_email {
	const char *addr;
	const char *user;
	const char *domain;
};

/* Message flags (struct mime_message.flags). */
#define MIME_MSG_NO_HEADERS_END   (1u << 0) /* no blank line after headers */
#define MIME_MSG_HEADERS_TRUNCATED (1u << 1) /* max_headers/max_header_block */
#define MIME_MSG_PARTS_LIMIT      (1u << 2)
#define MIME_MSG_DEPTH_LIMIT      (1u << 3)
#define MIME_MSG_MBOX_FROM_LINE   (1u << 4) /* leading "From " line skipped */
#define MIME_MSG_URLS_LIMIT       (1u << 5)
#define MIME_MSG_8BIT_HEADERS     (1u << 6)
#define MIME_MSG_EMPTY            (1u << 7)
#define MIME_MSG_BROKEN_MIME      (1u << 8) /* some part has an anomaly flag */

struct mime_message {
	struct mime_headers headers; /* top-level headers */
	struct mime_part *root;      /* root part shares the top-level headers */
	struct mime_part **parts;    /* all parts, pre-order */
	unsigned n_parts;
	struct mime_part **text_parts;
	unsigned n_text_parts;
	struct mime_url *urls;       /* deduplicated by full URL, in order */
	size_t n_urls;
	struct mime_email *emails;   /* found in bodies, deduplicated */
	size_t n_emails;
	const char *subject;         /* decoded, or NULL */
	const char *message_id;      /* without <>, or NULL */
	struct str body;             /* everything after the top header block */
	unsigned flags;              /* MIME_MSG_* */
};

/*
 * Parses `data` (borrowed; must outlive the result). `limits` may be NULL
 * for the defaults. Returns NULL only when the pool cap is reached, with
 * *error_r set (static text); any other input parses best-effort with flags.
 */
struct mime_message *mime_parse(struct pool *pool, const char *data,
    size_t len, const struct mime_limits *limits, const char **error_r);

/*
 * RFC 5322 address lists (From/To/Cc values): name-addr and addr-spec,
 * groups, comments, quoted strings, tolerant of common junk. `value` is a
 * header value (raw or decoded), borrowed. Returns a pool-owned list, or
 * NULL when there is no address.
 */
struct mime_address {
	const char *name;   /* decoded display name or NULL */
	const char *addr;   /* "user@domain" (or just user) */
	const char *user;
	const char *domain; /* as given; "" when absent */
	/* Only from mime_parse_addresses_groups(): a marker, not an address
	 * (addr/user/domain ""): group_start carries the group's name in
	 * `name`; group_end follows its last member. */
	bool group_start, group_end;
	struct mime_address *next;
};

struct mime_address *mime_parse_addresses(struct pool *pool,
    const char *value, size_t len);
/* As mime_parse_addresses(), with group start/end markers (IMAP ENVELOPE). */
struct mime_address *mime_parse_addresses_groups(struct pool *pool,
    const char *value, size_t len);

/*
 * Parameters of a Content-Type (want_subtype) or Content-Disposition
 * value, raw from the header (folded is fine): the type (and subtype) as
 * written, and each parameter once, RFC 2231 sections joined, values
 * unquoted and not charset-decoded. Pool-owned; -1 when unparsable or at
 * the pool cap.
 */
struct mime_param_kv {
	const char *name;
	const char *value;
	struct mime_param_kv *next;
};

int mime_parse_params(struct pool *pool, struct str raw, bool want_subtype,
    const char **type_r, const char **subtype_r,
    struct mime_param_kv **params_r);

#endif
