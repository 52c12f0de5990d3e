/*
 * imap_search.h - SEARCH programs (RFC 3501 section 6.4.4): parsed from
 * the command's argument tree into a key tree, then evaluated against
 * one message at a time.
 *
 * Sequence sets in the program resolve '*' at parse time (the mailbox
 * does not change during one command). Keys that need the message
 * (headers, BODY, TEXT, SENT*) load and parse it lazily, at most once per
 * message, and only after the cheap keys of the same AND group passed.
 * Header and text matches are case-insensitive substring matches on
 * RFC 2047 decoded header values and on the decoded UTF-8 text of the
 * text parts (mime/message.h); ASCII letters fold, other bytes compare
 * exactly.
 */
#ifndef IMAP_IMAP_SEARCH_H
#define IMAP_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap_args.h"

struct pool;
struct imap_search_key;   /* opaque, pool-owned */
struct mime_message;

/* Most keys in one program, and deepest nesting of (), NOT and OR. */
#define IMAP_SEARCH_MAX_KEYS 1000
#define IMAP_SEARCH_MAX_DEPTH 32

/* Prefix of *error_r for an unsupported CHARSET: answer NO, not BAD. */
#define IMAP_SEARCH_BADCHARSET "[BADCHARSET (UTF-8 US-ASCII)]"

/*
 * Parses the SEARCH arguments (after "SEARCH", CHARSET included) into a
 * pool-owned program. max_seq is the message count, max_uid UIDNEXT-1.
 * Returns 0, or -1 with a static *error_r: BAD, unless it starts with
 * IMAP_SEARCH_BADCHARSET (then NO).
 */
int imap_search_parse(struct pool *pool, const struct imap_arg *args,
    size_t n_args, uint32_t max_seq, uint32_t max_uid,
    struct imap_search_key **program_r, const char **error_r);

/* Whether the program needs message content (headers or bodies). */
bool imap_search_needs_content(const struct imap_search_key *program);

/*
 * One message for evaluation. The caller fills the index fields; for
 * content keys it either sets data/len or a load callback (called at
 * most once; returns 0 with borrowed bytes that stay valid until
 * imap_search_msg_clear(), or -1). The parsed view is kept in the struct
 * (heap pool) until imap_search_msg_clear().
 */
struct imap_search_msg {
	uint32_t seq, uid;
	const char *const *flags;  /* "\\Seen", "\\Recent", keywords ... */
	size_t n_flags;
	time_t internal_date;
	int tz_minutes;            /* the server's zone for BEFORE/ON/SINCE */
	uint64_t size;
	const char *data;
	size_t len;
	int (*load)(void *ctx, const char **data_r, size_t *len_r);
	void *load_ctx;
	/* Private state. */
	struct pool *pool_;
	struct mime_message *mime_;
	bool load_failed_;
};

/*
 * 1 when the message matches, 0 when not, -1 when its content was needed
 * but could not be loaded or parsed (the caller answers NO).
 */
int imap_search_match(const struct imap_search_key *program,
    struct imap_search_msg *msg);

/* Frees the lazily parsed view; the struct may be reused afterwards. */
void imap_search_msg_clear(struct imap_search_msg *msg);

#endif
