/*
 * pool.c - region allocator.
 *
 * Memory comes in chunks that double in size up to a limit; requests larger
 * than a quarter of the current chunk size get a chunk of their own, so one
 * big allocation does not waste the tail of a shared chunk.
 */
#include "core/pool.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_ALIGN 16
#define POOL_FIRST_CHUNK 4096
#define POOL_MAX_CHUNK (1024 * 1024)

struct pool_chunk {
	struct pool_chunk *next;
	size_t size;
	size_t used;
	_Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool_destructor {
	struct pool_destructor *next;
	void (*fn)(void *);
	void *arg;
};

struct pool {
	struct pool_chunk *chunks;
	struct pool_destructor *destructors;
	size_t next_chunk_size;
	size_t used;
	size_t cap;
	bool exhausted;
};

struct pool *
pool_new(size_t cap)
{
	struct pool *pool = xcalloc(1, sizeof(*pool));

	pool->cap = cap;
	pool->next_chunk_size = POOL_FIRST_CHUNK;
	return pool;
}

void
pool_free(struct pool **poolp)
{
	struct pool *pool = *poolp;
	struct pool_chunk *c, *cn;
	struct pool_destructor *d, *dn;

	if (pool == NULL)
		return;
	*poolp = NULL;
	/* Destructors may still read pool memory, so they run first. */
	for (d = pool->destructors; d != NULL; d = dn) {
		dn = d->next;
		d->fn(d->arg);
		free(d);
	}
	for (c = pool->chunks; c != NULL; c = cn) {
		cn = c->next;
		free(c);
	}
	free(pool);
}

static struct pool_chunk *
pool_chunk_new(size_t size)
{
	struct pool_chunk *c = xmalloc(sizeof(*c) + size);

	c->size = size;
	c->used = 0;
	return c;
}

void *
pool_alloc(struct pool *pool, size_t size)
{
	struct pool_chunk *c = pool->chunks;
	size_t rounded;
	void *p;

	if (size > SIZE_MAX - POOL_ALIGN)
		goto exhausted;
	rounded = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	if (rounded == 0)
		rounded = POOL_ALIGN;
	if (pool->cap != 0 && (rounded > pool->cap || pool->used > pool->cap - rounded))
		goto exhausted;

	if (c == NULL || c->size - c->used < rounded) {
		if (rounded > pool->next_chunk_size / 4) {
			/* Dedicated chunk, linked behind the current one. */
			struct pool_chunk *big = pool_chunk_new(rounded);

			if (c != NULL) {
				big->next = c->next;
				c->next = big;
			} else {
				big->next = NULL;
				pool->chunks = big;
			}
			big->used = rounded;
			pool->used += rounded;
			memset(big->data, 0, rounded);
			return big->data;
		}
		c = pool_chunk_new(pool->next_chunk_size);
		c->next = pool->chunks;
		pool->chunks = c;
		if (pool->next_chunk_size < POOL_MAX_CHUNK)
			pool->next_chunk_size *= 2;
	}
	p = c->data + c->used;
	c->used += rounded;
	pool->used += rounded;
	memset(p, 0, rounded);
	return p;

exhausted:
	pool->exhausted = true;
	return NULL;
}

void *
pool_calloc(struct pool *pool, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		pool->exhausted = true;
		return NULL;
	}
	return pool_alloc(pool, nmemb * size);
}

void *
pool_memdup(struct pool *pool, const void *src, size_t n)
{
	void *p = pool_alloc(pool, n);

	if (p != NULL && n != 0)
		memcpy(p, src, n);
	return p;
}

char *
pool_strndup(struct pool *pool, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = pool_alloc(pool, n + 1);
	if (p != NULL) {
		if (n != 0)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *
pool_strdup(struct pool *pool, const char *s)
{
	return pool_strndup(pool, s, strlen(s));
}

char *
pool_vprintf(struct pool *pool, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = pool_alloc(pool, (size_t)n + 1);
	if (p != NULL)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
pool_printf(struct pool *pool, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = pool_vprintf(pool, fmt, ap);
	va_end(ap);
	return p;
}

void
pool_add_destructor(struct pool *pool, void (*fn)(void *), void *arg)
{
	/* Heap-allocated so a pool at its cap can still register cleanup. */
	struct pool_destructor *d = xmalloc(sizeof(*d));

	d->fn = fn;
	d->arg = arg;
	d->next = pool->destructors;
	pool->destructors = d;
}

size_t
pool_used(const struct pool *pool)
{
	return pool->used;
}

bool
pool_exhausted(const struct pool *pool)
{
	return pool->exhausted;
}
