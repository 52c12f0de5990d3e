/*
 * test_imap_seqset.c - sequence sets: syntax, '*', normalization,
 * membership and iteration.
 */
#include <string.h>

#include "core/common.h"
#include "core/pool.h"
#include "core/str.h"
#include "imap/imap_seqset.h"
#include "test.h"

static struct pool *pool;

static int
parse(const char *s, uint32_t max, struct imap_seqset *set)
{
	const char *error = NULL;

	return imap_seqset_parse(pool, s, strlen(s), max, set, &error);
}

/* Renders the set as "lo:hi,..." for comparison. */
static bool
set_is(const struct imap_seqset *set, const char *want)
{
	char out[256];
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < set->n_ranges; i++) {
		int w = str_format(out + n, sizeof(out) - n, "%s%u:%u",
		    i > 0 ? "," : "", set->ranges[i].lo, set->ranges[i].hi);

		if (w < 0)
			return false;
		n += (size_t)w;
	}
	return strcmp(out, want) == 0;
}

static void
test_syntax(void)
{
	static const char *const bad[] = {
		"", "0", "1:0", "0:5", ",1", "1,", "1,,2", "a", "1:", ":1",
		"1:2:3", "01", "4294967296", "1 2", "*:", "1;2", "-1",
		"99999999999",
	};
	struct imap_seqset set;
	size_t i;

	test_begin("seqset syntax");
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		test_assert(parse(bad[i], 10, &set) < 0);
	test_assert(parse("4294967295", 10, &set) == 0);
	test_assert(set_is(&set, "4294967295:4294967295"));
	test_assert(set.highest == 4294967295u);
	test_end();
}

static void
test_star(void)
{
	struct imap_seqset set;

	test_begin("seqset star");
	test_assert(parse("1:*", 7, &set) == 0 && set_is(&set, "1:7"));
	test_assert(set.has_star && set.highest == 1);
	test_assert(parse("*", 7, &set) == 0 && set_is(&set, "7:7"));
	test_assert(parse("*:4", 7, &set) == 0 && set_is(&set, "4:7"));
	/* UID 559:* with UIDNEXT-1 = 100 includes 100 (RFC 3501 6.4.8). */
	test_assert(parse("559:*", 100, &set) == 0 && set_is(&set, "100:559"));
	test_assert(set.highest == 559);
	/* Empty mailbox: '*' matches nothing, the rest still counts. */
	test_assert(parse("1:*", 0, &set) == 0 && set.n_ranges == 0);
	test_assert(parse("*,3", 0, &set) == 0 && set_is(&set, "3:3"));
	test_end();
}

static void
test_normalize(void)
{
	struct imap_seqset set;
	struct imap_seqset_iter it;
	uint32_t n, got[16];
	size_t k = 0;

	test_begin("seqset normalize and iterate");
	test_assert(parse("5,1:3,2,3:1,9:7,4", 20, &set) == 0);
	test_assert(set_is(&set, "1:5,7:9"));
	test_assert(imap_seqset_count(&set) == 8);
	test_assert(imap_seqset_contains(&set, 1));
	test_assert(imap_seqset_contains(&set, 5));
	test_assert(!imap_seqset_contains(&set, 6));
	test_assert(imap_seqset_contains(&set, 8));
	test_assert(!imap_seqset_contains(&set, 10));
	test_assert(!imap_seqset_contains(&set, 0));
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &n) && k < ARRAY_SIZE(got))
		got[k++] = n;
	test_assert(k == 8 && got[0] == 1 && got[4] == 5 && got[5] == 7 &&
	    got[7] == 9);
	test_assert(parse("4294967294:*", 4294967295u, &set) == 0);
	imap_seqset_iter_init(&it, &set);
	k = 0;
	while (imap_seqset_iter_next(&it, &n))
		k++;
	test_assert(k == 2);
	test_end();
}

int
main(void)
{
	pool = pool_new(0);
	test_syntax();
	test_star();
	test_normalize();
	pool_free(&pool);
	return test_exit();
}
