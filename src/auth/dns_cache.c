/*
 * dns_cache.c - the resolver's answer cache: a hash table with chaining
 * for lookups and a doubly linked list in recency order for eviction.
 *
 * Answers expire at the time the resolver computed from their TTL; an
 * expired entry is dropped when it is next looked up or when it reaches
 * the cold end of the list. The size bound counts entries, not bytes:
 * answers are small (a TXT record is at most a few KiB).
 */
#include "auth/dns_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

struct cache_entry {
	char *key;
	uint64_t hash;
	struct dns_answer *answer;
	double expires;
	struct cache_entry *chain;       /* next in the bucket */
	struct cache_entry *lru_prev, *lru_next;
};

struct dns_cache {
	struct cache_entry **buckets;
	size_t n_buckets;                /* power of two */
	size_t count, max;
	struct cache_entry *lru_head;    /* most recent */
	struct cache_entry *lru_tail;
};

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct dns_cache *
dns_cache_new(size_t max_entries)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	c->max = max_entries;
	c->n_buckets = 64;
	while (c->n_buckets < max_entries && c->n_buckets < (1u << 20))
		c->n_buckets <<= 1;
	c->buckets = xcalloc(c->n_buckets, sizeof(*c->buckets));
	return c;
}

static void
lru_unlink(struct dns_cache *c, struct cache_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void
lru_push_front(struct dns_cache *c, struct cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static struct cache_entry **
bucket_find(struct dns_cache *c, const char *key, uint64_t h)
{
	struct cache_entry **pp = &c->buckets[h & (c->n_buckets - 1)];

	while (*pp != NULL && !((*pp)->hash == h && strcmp((*pp)->key, key) == 0))
		pp = &(*pp)->chain;
	return pp;
}

static void
entry_remove(struct dns_cache *c, struct cache_entry *e)
{
	struct cache_entry **pp = bucket_find(c, e->key, e->hash);

	*pp = e->chain;
	lru_unlink(c, e);
	dns_answer_unref(&e->answer);
	free(e->key);
	free(e);
	c->count--;
}

struct dns_answer *
dns_cache_get(struct dns_cache *c, const char *key, double now)
{
	uint64_t h = key_hash(key);
	struct cache_entry *e = *bucket_find(c, key, h);

	if (e == NULL)
		return NULL;
	if (e->expires <= now) {
		entry_remove(c, e);
		return NULL;
	}
	lru_unlink(c, e);
	lru_push_front(c, e);
	return e->answer;
}

void
dns_cache_put(struct dns_cache *c, const char *key, struct dns_answer *a, double expires)
{
	uint64_t h = key_hash(key);
	struct cache_entry *e;

	if (c->max == 0)
		return;
	if ((e = *bucket_find(c, key, h)) != NULL)
		entry_remove(c, e);
	while (c->count >= c->max && c->lru_tail != NULL)
		entry_remove(c, c->lru_tail);
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->hash = h;
	e->answer = dns_answer_ref(a);
	e->expires = expires;
	e->chain = c->buckets[h & (c->n_buckets - 1)];
	c->buckets[h & (c->n_buckets - 1)] = e;
	lru_push_front(c, e);
	c->count++;
}

void
dns_cache_clear(struct dns_cache *c)
{
	while (c->lru_head != NULL)
		entry_remove(c, c->lru_head);
}

size_t
dns_cache_count(const struct dns_cache *c)
{
	return c->count;
}

void
dns_cache_free(struct dns_cache **c)
{
	if (*c == NULL)
		return;
	dns_cache_clear(*c);
	free((*c)->buckets);
	free(*c);
	*c = NULL;
}
