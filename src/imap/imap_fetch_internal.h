/*
 * imap_fetch_internal.h - helpers shared by imap_fetch.c,
 * imap_envelope.c and imap_bodystructure.c only.
 */
#ifndef IMAP_IMAP_FETCH_INTERNAL_H
#define IMAP_IMAP_FETCH_INTERNAL_H

#include <stddef.h>

#include "core/str.h"

struct buf;
struct pool;
struct mime_headers;
struct mime_message;

/* Memory cap for parsing one message for FETCH/SEARCH: generous, but a
 * hostile message cannot take the process down. */
#define IMAP_PARSE_POOL_MIN (64u * 1024 * 1024)

/* A pool sized for parsing a message of `len` bytes (never NULL). */
struct pool *imap_parse_pool_new(size_t len);
/* mime_parse() with default limits; NULL at the pool cap. */
struct mime_message *imap_parse_message(struct pool *pool, const char *data,
    size_t len);

/* The first `name` header's raw value, unfolded and trimmed, as an
 * nstring (NIL when absent). */
int imap_write_header_nstring(struct buf *out, const struct mime_headers *h,
    const char *name);
/* The unfolded, trimmed raw value of the first `name` header, or an
 * empty view with ptr NULL when absent; pool-owned copy. */
struct str imap_header_unfolded(struct pool *pool,
    const struct mime_headers *h, const char *name);
/* Uppercased copy of s as a quoted/literal string. */
int imap_write_upper(struct buf *out, const char *s);

#endif
