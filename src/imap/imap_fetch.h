/*
 * imap_fetch.h - FETCH (RFC 3501 sections 6.4.5 and 7.4.2): the item list
 * parsed into a struct, and one message's FETCH response rendered from
 * its raw bytes; plus ENVELOPE and BODYSTRUCTURE on their own, so the
 * store can cache them, and the IMAP string writers they use.
 *
 * The message view comes from the MIME parser (mime/message.h): part
 * boundaries, headers and decoded header values. BODY[section] bytes are
 * views into the message given (the part's header block and body), so
 * the bytes sent are exactly the stored bytes. The bytes given must be
 * the message as served: CRLF line ends (RFC822.SIZE is their length).
 */
#ifndef IMAP_IMAP_FETCH_H
#define IMAP_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap_args.h"

struct pool;
struct buf;
struct mime_message;
struct mime_part;
struct mime_headers;

/* Simple items (struct imap_fetch_items.items). */
#define IMAP_FETCH_UID           (1u << 0)
#define IMAP_FETCH_FLAGS         (1u << 1)
#define IMAP_FETCH_INTERNALDATE  (1u << 2)
#define IMAP_FETCH_RFC822_SIZE   (1u << 3)
#define IMAP_FETCH_ENVELOPE      (1u << 4)
#define IMAP_FETCH_BODY          (1u << 5) /* BODY (non-extensible BODYSTRUCTURE) */
#define IMAP_FETCH_BODYSTRUCTURE (1u << 6)
#define IMAP_FETCH_RFC822        (1u << 7) /* sets \Seen */
#define IMAP_FETCH_RFC822_HEADER (1u << 8)
#define IMAP_FETCH_RFC822_TEXT   (1u << 9) /* sets \Seen */

/* Items that need the message bytes (the others come from the index). */
#define IMAP_FETCH_NEEDS_CONTENT (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY | \
	IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_RFC822 | \
	IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT)

/* Deepest part number accepted ("1.2.3..."). */
#define IMAP_FETCH_MAX_PART_DEPTH 32
/* Most BODY[...] items and HEADER.FIELDS names per command. */
#define IMAP_FETCH_MAX_BODIES 64
#define IMAP_FETCH_MAX_FIELDS 256

enum imap_section {
	IMAP_SECTION_WHOLE,      /* BODY[] or BODY[1.2]: the whole part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,       /* needs a part number */
};

struct imap_fetch_body {
	bool peek;                 /* BODY.PEEK: does not set \Seen */
	uint32_t part[IMAP_FETCH_MAX_PART_DEPTH]; /* 1-based part path */
	unsigned n_part;           /* 0: the whole message */
	enum imap_section section;
	const char **fields;       /* HEADER.FIELDS[.NOT] names, pool-owned */
	size_t n_fields;
	bool partial;              /* <offset.count> given */
	uint32_t offset, count;
	/* The response's item name, e.g. "BODY[1.HEADER.FIELDS (FROM)]<0>"
	 * (RFC 3501: the partial echoes only the origin). */
	const char *name;
};

struct imap_fetch_items {
	unsigned items;            /* IMAP_FETCH_* */
	struct imap_fetch_body *bodies;
	size_t n_bodies;
	/* A non-PEEK BODY[], RFC822 or RFC822.TEXT is present: the caller
	 * sets \Seen before rendering and then sets include_flags if it was
	 * not set before (RFC 3501 6.4.5). */
	bool sets_seen;
	bool needs_content;        /* any item needs the message bytes */
};

/*
 * Parses the FETCH item argument (an atom such as "ALL" or
 * "BODY.PEEK[1.MIME]<0.10>", or a list of items). With uid_command
 * (UID FETCH), UID is always included. Pool-owned results. Returns 0, or
 * -1 with a static *error_r (the caller answers BAD).
 */
int imap_fetch_parse(struct pool *pool, const struct imap_arg *arg,
    bool uid_command, struct imap_fetch_items *items_r,
    const char **error_r);

/* One message as the FETCH renderer sees it; all pointers borrowed. */
struct imap_fetch_msg {
	uint32_t seq, uid;
	const char *const *flags;  /* "\\Seen", "$Label", ... */
	size_t n_flags;
	bool include_flags;        /* add FLAGS even if not asked (\Seen set) */
	time_t internal_date;
	int tz_minutes;            /* offset east of UTC for INTERNALDATE */
	const char *data;          /* the message; may be NULL when no item */
	size_t len;                /* needs content */
	uint64_t size;             /* RFC822.SIZE; 0 means `len` */
	/* Cached renderings (imap_envelope_render(), ...), or NULL. */
	const char *envelope;
	const char *bodystructure; /* extended form */
	const char *body;          /* non-extensible form */
};

/*
 * Appends "* <seq> FETCH (...)\r\n" to out. Literals are written inline
 * as "{n}\r\n" + bytes. Returns 0, or -1 with a static *error_r when out
 * reached its maximum or parsing the message hit its memory cap (out is
 * then truncated back to its old length).
 */
int imap_fetch_render(const struct imap_fetch_items *items,
    const struct imap_fetch_msg *msg, struct buf *out, const char **error_r);

/*
 * ENVELOPE / BODYSTRUCTURE of a whole message as one string, e.g. for a
 * cache: "(\"date\" \"subject\" ...)". Heap-owned (the caller frees);
 * NULL only when the message exceeds the parser's memory cap.
 */
char *imap_envelope_render(const char *data, size_t len);
char *imap_bodystructure_render(const char *data, size_t len, bool extended);

/* Lower level: from a parsed message (imap_envelope.c,
 * imap_bodystructure.c). Return 0 or -1 when out is full. */
int imap_envelope_write(struct buf *out, struct pool *pool,
    const struct mime_headers *headers);
int imap_bodystructure_write(struct buf *out, struct pool *pool,
    const struct mime_part *part, bool extended);

/*
 * IMAP string writers (RFC 3501 section 4.3): a quoted string when the
 * bytes allow it, else a literal "{n}\r\n..." (CR, LF, NUL, 8-bit, '"'
 * and '\\' force a literal). nstring writes NIL for s == NULL.
 */
int imap_write_string(struct buf *out, const char *s, size_t len);
int imap_write_nstring(struct buf *out, const char *s);
/* An astring as an atom when possible (e.g. flag-like names), else string. */
int imap_write_astring(struct buf *out, const char *s, size_t len);

#endif
