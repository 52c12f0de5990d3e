/*
 * imap_seqset.h - IMAP sequence sets (RFC 3501 section 9, "sequence-set"):
 * "1:3,5,7:*" parsed into sorted, merged ranges of message sequence
 * numbers or UIDs.
 *
 * '*' is resolved at parse time against `max` (the message count for
 * sequence numbers, UIDNEXT-1 for UIDs), so the set is only valid while
 * the mailbox does not change under the command. A range "a:b" means the
 * same as "b:a". With max == 0 (an empty mailbox) a '*' matches nothing.
 * Numbers above max are kept (RFC 3501 allows "UID 559:*" to match the
 * last UID below 559); callers that must reject sequence numbers past
 * the message count look at `highest`.
 */
#ifndef IMAP_IMAP_SEQSET_H
#define IMAP_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

/* Most comma-separated elements accepted in one set. */
#define IMAP_SEQSET_MAX_RANGES 10000

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi, both >= 1 */
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* sorted, disjoint, non-adjacent */
	size_t n_ranges;
	uint32_t highest;  /* largest explicit number (not '*'), 0 if none */
	bool has_star;
};

/*
 * Parses `len` bytes of `s` (borrowed). Ranges are pool-owned. Returns 0,
 * or -1 with a static *error_r on syntax errors, a 0, a number above
 * 2^32-1, too many ranges or the pool cap.
 */
int imap_seqset_parse(struct pool *pool, const char *s, size_t len,
    uint32_t max, struct imap_seqset *set_r, const char **error_r);

/* Whether n is in the set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

/* How many numbers the set holds (may exceed the messages present). */
uint64_t imap_seqset_count(const struct imap_seqset *set);

/*
 * Iteration in ascending order:
 *	struct imap_seqset_iter it; uint32_t n;
 *	imap_seqset_iter_init(&it, set);
 *	while (imap_seqset_iter_next(&it, &n)) ...
 */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t range;
	uint64_t next;
};

void imap_seqset_iter_init(struct imap_seqset_iter *it,
    const struct imap_seqset *set);
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r);

#endif
