/*
 * dns_internal.h - pieces of the resolver shared between dns.c, the
 * answer parser and the cache; not for other modules.
 */
#ifndef AUTH_DNS_INTERNAL_H
#define AUTH_DNS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/dns.h"

/*
 * A parsed answer in one heap block (records and their strings inside),
 * refcounted: the cache holds one reference and a delivery in progress
 * another, so an eviction during a callback does not pull the reply away.
 */
struct dns_answer {
	unsigned refcount;
	enum dns_rcode rcode;
	bool ad;
	uint32_t ttl;            /* min TTL of the records, or the negative TTL */
	bool has_ttl;            /* false: no record and no SOA gave one */
	struct dns_rr *rr;
	size_t n_rr;
};

/*
 * Parses a reply to a query for `qtype`: header rcode and AD bit, answer
 * records of that type, negative TTL from an authority SOA (min of its
 * TTL and MINIMUM). NULL when malformed.
 */
struct dns_answer *dns_answer_parse(const unsigned char *abuf, size_t alen, int qtype);
/* An answer without records (timeouts, errors). */
struct dns_answer *dns_answer_new_empty(enum dns_rcode rcode);
struct dns_answer *dns_answer_ref(struct dns_answer *a);
void dns_answer_unref(struct dns_answer **a);

/* LRU of answers keyed by "qtype/lowercased name". max 0: caches nothing. */
struct dns_cache;
struct dns_cache *dns_cache_new(size_t max_entries);
void dns_cache_free(struct dns_cache **c);
/* A borrowed answer still fresh at `now`, or NULL; refreshes its LRU rank. */
struct dns_answer *dns_cache_get(struct dns_cache *c, const char *key, double now);
/* Takes a new reference to `a`; replaces an older entry of the same key. */
void dns_cache_put(struct dns_cache *c, const char *key, struct dns_answer *a,
    double expires);
void dns_cache_clear(struct dns_cache *c);
size_t dns_cache_count(const struct dns_cache *c);

#endif
