/*
 * imap_seqset.c - sequence set parsing, membership and iteration.
 *
 * The set is normalized right away (each range ordered, all ranges
 * sorted and merged), so membership is a binary search and iteration is
 * a walk without duplicates, however the client wrote the set: "5,1:3,2"
 * yields 1,2,3,5 once each, as RFC 3501 asks of FETCH and SEARCH answers.
 */
#include "imap/imap_seqset.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/pool.h"

/* Parses one number or '*' at s[*i]; 1 for '*', 0 for a number, -1 bad. */
static int
seq_number(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
	uint64_t v = 0;
	size_t start = *i;

	if (*i < len && s[*i] == '*') {
		(*i)++;
		return 1;
	}
	/* nz-number: no leading zero, at least one digit. */
	if (*i >= len || s[*i] < '1' || s[*i] > '9')
		return -1;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX || *i - start > 10)
			return -1;
		(*i)++;
	}
	*n_r = (uint32_t)v;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static size_t
ranges_normalize(struct imap_seq_range *r, size_t n)
{
	size_t i, out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), range_cmp);
	for (i = 1; i < n; i++) {
		if ((uint64_t)r[i].lo <= (uint64_t)r[out].hi + 1) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

/* Counts the comma-separated elements so one allocation suffices. */
static size_t
count_elements(const char *s, size_t len)
{
	size_t i, n = 1;

	for (i = 0; i < len; i++) {
		if (s[i] == ',')
			n++;
	}
	return n;
}

/* One element "a", "a:b" with '*' allowed; appends unless it is empty. */
static int
parse_element(const char *s, size_t len, size_t *i, uint32_t max,
    struct imap_seqset *set)
{
	uint32_t a = 0, b = 0;
	int sa, sb;

	if ((sa = seq_number(s, len, i, &a)) < 0)
		return -1;
	if (sa == 1)
		a = max;
	else if (a > set->highest)
		set->highest = a;
	b = a;
	if (*i < len && s[*i] == ':') {
		(*i)++;
		if ((sb = seq_number(s, len, i, &b)) < 0)
			return -1;
		if (sb == 1)
			b = max;
		else if (b > set->highest)
			set->highest = b;
		sa |= sb;
	}
	if (sa == 1)
		set->has_star = true;
	if (a == 0 || b == 0)
		return 0; /* '*' in an empty mailbox: nothing */
	set->ranges[set->n_ranges].lo = MIN(a, b);
	set->ranges[set->n_ranges].hi = MAX(a, b);
	set->n_ranges++;
	return 0;
}

int
imap_seqset_parse(struct pool *pool, const char *s, size_t len,
    uint32_t max, struct imap_seqset *set_r, const char **error_r)
{
	size_t i = 0, n;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	n = count_elements(s, len);
	if (n > IMAP_SEQSET_MAX_RANGES) {
		*error_r = "Too many ranges in sequence set";
		return -1;
	}
	set_r->ranges = pool_calloc(pool, n, sizeof(*set_r->ranges));
	if (set_r->ranges == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	for (;;) {
		if (parse_element(s, len, &i, max, set_r) < 0)
			break;
		if (i == len) {
			set_r->n_ranges = ranges_normalize(set_r->ranges,
			    set_r->n_ranges);
			return 0;
		}
		if (s[i] != ',')
			break;
		i++;
	}
	set_r->n_ranges = 0;
	*error_r = "Invalid sequence set";
	return -1;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->n_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->ranges[mid].lo)
			hi = mid;
		else if (n > set->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < set->n_ranges; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

void
imap_seqset_iter_init(struct imap_seqset_iter *it,
    const struct imap_seqset *set)
{
	it->set = set;
	it->range = 0;
	it->next = set->n_ranges > 0 ? set->ranges[0].lo : 0;
}

bool
imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r)
{
	const struct imap_seqset *set = it->set;

	if (it->range >= set->n_ranges)
		return false;
	*n_r = (uint32_t)it->next;
	if (it->next < set->ranges[it->range].hi) {
		it->next++;
	} else if (++it->range < set->n_ranges) {
		it->next = set->ranges[it->range].lo;
	}
	return true;
}
