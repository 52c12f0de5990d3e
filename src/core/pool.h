/*
 * pool.h - region allocator: many allocations, one free.
 *
 * Pools are made per lifetime (config, session, transaction, task). Memory is
 * zeroed. A pool has a cap: once the total handed out would exceed it,
 * pool_alloc() returns NULL and pool_exhausted() turns true, so a hostile
 * message cannot make a task grow without bound. Callers that parse
 * untrusted input must check for NULL; everything else may use a pool made
 * with cap 0 (unlimited), whose allocations never fail.
 *
 * Destructors registered with pool_add_destructor() run in reverse order of
 * registration when the pool is freed; use them for fds, Lua refs and other
 * external resources owned by the pool's lifetime.
 */
#ifndef CORE_POOL_H
#define CORE_POOL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

struct pool;

/* `cap` is the most bytes the pool may hand out; 0 means no cap. */
struct pool *pool_new(size_t cap);
/* Frees everything allocated from *pool and sets *pool to NULL. Accepts NULL. */
void pool_free(struct pool **pool);

/* Zeroed memory, aligned for any type. NULL only when the cap is reached. */
void *pool_alloc(struct pool *pool, size_t size);
/* As pool_alloc, for nmemb * size with overflow checking. */
void *pool_calloc(struct pool *pool, size_t nmemb, size_t size);
/* Copies of bytes; the string variants NUL-terminate. NULL on cap. */
void *pool_memdup(struct pool *pool, const void *p, size_t n);
char *pool_strndup(struct pool *pool, const char *s, size_t n);
char *pool_strdup(struct pool *pool, const char *s);
char *pool_printf(struct pool *pool, const char *fmt, ...) PRINTF_LIKE(2, 3);
char *pool_vprintf(struct pool *pool, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

void pool_add_destructor(struct pool *pool, void (*fn)(void *), void *arg);

/* Bytes handed out so far, and whether an allocation hit the cap. */
size_t pool_used(const struct pool *pool);
bool pool_exhausted(const struct pool *pool);

#endif
