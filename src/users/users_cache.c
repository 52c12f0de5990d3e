/*
 * users_cache.c - a small TTL cache of lookup answers (domain, user, alias
 * rows), positive and negative alike, so an SMTP burst to one recipient
 * does not hit the database for every RCPT.
 *
 * Keys are the query kind plus the lower-cased lookup key. The table is a
 * fixed array of chained buckets; when it holds max_entries, expired
 * entries are dropped, and if that frees nothing the whole cache is
 * cleared (simpler than LRU, and a cache this short-lived refills fast).
 * Time is CLOCK_MONOTONIC so a clock step cannot make entries immortal.
 */
#include "users/users_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "core/xmalloc.h"

#define CACHE_BUCKETS 1024

struct cache_entry {
	struct cache_entry *next;
	char *key;
	double expires;
	struct users_rows rows;
};

struct users_cache {
	double ttl;
	size_t max_entries, count;
	struct cache_entry *buckets[CACHE_BUCKETS];
};

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
make_key(enum users_query q, const char *key)
{
	char *k = xasprintf("%d:%s", (int)q, key);

	for (char *p = k; *p != '\0'; p++)
		*p = ascii_tolower(*p);
	return k;
}

static size_t
hash_key(const char *k)
{
	uint32_t h = 2166136261u;

	for (; *k != '\0'; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	return h % CACHE_BUCKETS;
}

struct users_cache *
users_cache_new(double ttl, size_t max_entries)
{
	struct users_cache *c = xcalloc(1, sizeof(*c));

	c->ttl = ttl;
	c->max_entries = max_entries;
	return c;
}

static void
entry_free(struct cache_entry *e)
{
	users_rows_free(&e->rows);
	free(e->key);
	free(e);
}

/* Drops entries expired at `now` (all when now < 0). */
static void
cache_purge(struct users_cache *c, double now)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry **pp = &c->buckets[i];

		while (*pp != NULL) {
			struct cache_entry *e = *pp;

			if (now >= 0 && e->expires > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			entry_free(e);
			c->count--;
		}
	}
}

void
users_cache_clear(struct users_cache *c)
{
	if (c != NULL)
		cache_purge(c, -1);
}

void
users_cache_free(struct users_cache **c)
{
	if (*c == NULL)
		return;
	users_cache_clear(*c);
	free(*c);
	*c = NULL;
}

const struct users_rows *
users_cache_get(struct users_cache *c, enum users_query q, const char *key)
{
	char *k;
	struct cache_entry **pp;
	const struct users_rows *res = NULL;
	double now;

	if (c == NULL || c->ttl <= 0)
		return NULL;
	k = make_key(q, key);
	now = now_mono();
	for (pp = &c->buckets[hash_key(k)]; *pp != NULL; pp = &(*pp)->next) {
		struct cache_entry *e = *pp;

		if (strcmp(e->key, k) != 0)
			continue;
		if (e->expires <= now) {
			*pp = e->next;
			entry_free(e);
			c->count--;
		} else {
			res = &e->rows;
		}
		break;
	}
	free(k);
	return res;
}

void
users_cache_put(struct users_cache *c, enum users_query q, const char *key,
    const struct users_rows *rows)
{
	struct cache_entry *e;
	size_t b;
	char *k;

	if (c == NULL || c->ttl <= 0 || c->max_entries == 0)
		return;
	k = make_key(q, key);
	b = hash_key(k);
	for (e = c->buckets[b]; e != NULL; e = e->next) {
		if (strcmp(e->key, k) == 0) {
			users_rows_free(&e->rows);
			users_rows_copy(&e->rows, rows);
			e->expires = now_mono() + c->ttl;
			free(k);
			return;
		}
	}
	if (c->count >= c->max_entries) {
		cache_purge(c, now_mono());
		if (c->count >= c->max_entries)
			cache_purge(c, -1);
	}
	e = xcalloc(1, sizeof(*e));
	e->key = k;
	e->expires = now_mono() + c->ttl;
	users_rows_copy(&e->rows, rows);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->count++;
}
