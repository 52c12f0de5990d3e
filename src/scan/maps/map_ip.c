/*
 * map_ip.c - IP/CIDR sets for maps.
 *
 * Every address is held as 128 bits, IPv4 as IPv4-mapped IPv6, so one
 * sorted array serves both families and "::ffff:192.0.2.1" matches an
 * entry "192.0.2.0/24" without a special case. Each entry is a range
 * [start, end]; CIDR blocks are either nested or disjoint, so after
 * sorting by start (wider first) each range can point to its nearest
 * enclosing range. A lookup binary-searches the last range starting at or
 * before the address and, if that one ends too early, walks up its
 * enclosing ranges: the first hit is the most specific entry, found in
 * O(log n + 128) whatever the nesting.
 */
#include "scan/maps/map_internal.h"
#include "core/xmalloc.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static int
parse_prefix(struct str s, unsigned max, unsigned *plen_r)
{
	unsigned v = 0;

	if (s.len == 0 || s.len > 3)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s.ptr[i] - '0');
	}
	if (v > max)
		return -1;
	*plen_r = v;
	return 0;
}

static map_ip
ip_from_bytes(const unsigned char *b, size_t n)
{
	map_ip v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | b[i];
	return v;
}

int
map_ip_parse(struct str text, bool cidr, map_ip *start_r, map_ip *end_r)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bytes[16];
	ptrdiff_t slash = str_find_chr(text, '/');
	struct str a = slash < 0 ? text : str_slice(text, 0, (size_t)slash);
	unsigned plen;
	map_ip v, host;

	if (a.len == 0 || a.len >= sizeof(addr) || memchr(a.ptr, '\0', a.len) != NULL)
		return -1;
	memcpy(addr, a.ptr, a.len);
	addr[a.len] = '\0';
	if (inet_pton(AF_INET, addr, bytes) == 1) {
		v = ((map_ip)0xffff << 32) | ip_from_bytes(bytes, 4);
		plen = 32;
		if (slash >= 0 && parse_prefix(str_slice(text, (size_t)slash + 1,
		    text.len - (size_t)slash - 1), 32, &plen) < 0)
			return -1;
		plen += 96;
	} else if (inet_pton(AF_INET6, addr, bytes) == 1) {
		v = ip_from_bytes(bytes, 16);
		plen = 128;
		if (slash >= 0 && parse_prefix(str_slice(text, (size_t)slash + 1,
		    text.len - (size_t)slash - 1), 128, &plen) < 0)
			return -1;
	} else {
		return -1;
	}
	if (slash >= 0 && !cidr)
		return -1;
	host = plen == 0 ? ~(map_ip)0 : (((map_ip)1 << (128 - plen)) - 1);
	*start_r = v & ~host;
	*end_r = v | host;
	return 0;
}

void
map_ipset_add(struct map_ipset *set, map_ip start, map_ip end, const char *value)
{
	struct map_range *r;

	set->ranges = xgrow(set->ranges, &set->cap, set->n + 1, sizeof(*set->ranges));
	r = &set->ranges[set->n++];
	r->start = start;
	r->end = end;
	r->parent = -1;
	r->value = value;
}

static int
range_cmp(const void *pa, const void *pb)
{
	const struct map_range *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	/* Wider first, so an enclosing block precedes the blocks inside it. */
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;
	return 0;
}

void
map_ipset_finish(struct map_ipset *set)
{
	long *stack;
	size_t out = 0, depth = 0;

	if (set->n == 0)
		return;
	/* qsort is not stable: equal ranges keep an arbitrary value, which
	 * is fine for duplicates in one map. */
	qsort(set->ranges, set->n, sizeof(*set->ranges), range_cmp);
	for (size_t i = 0; i < set->n; i++) {
		if (out > 0 && range_cmp(&set->ranges[out - 1], &set->ranges[i]) == 0)
			continue;
		set->ranges[out++] = set->ranges[i];
	}
	set->n = out;
	stack = xcalloc(set->n, sizeof(*stack));
	for (size_t i = 0; i < set->n; i++) {
		struct map_range *r = &set->ranges[i];

		while (depth > 0 && set->ranges[stack[depth - 1]].end < r->start)
			depth--;
		r->parent = depth > 0 ? stack[depth - 1] : -1;
		stack[depth++] = (long)i;
	}
	free(stack);
}

const struct map_range *
map_ipset_find(const struct map_ipset *set, map_ip ip)
{
	size_t lo = 0, hi = set->n;
	long i;

	/* Last range with start <= ip. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->ranges[mid].start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = (long)lo - 1; i >= 0; i = set->ranges[i].parent) {
		if (set->ranges[i].end >= ip)
			return &set->ranges[i];
	}
	return NULL;
}

void
map_ipset_free(struct map_ipset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}
