/*
 * xmalloc.h - heap allocation that aborts on exhaustion.
 *
 * Out of memory is not a condition a mail daemon can answer sensibly in the
 * middle of a protocol exchange, so these never return NULL.
 */
#ifndef CORE_XMALLOC_H
#define CORE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
/* Zeroed; checks nmemb * size for overflow. */
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow an array to hold at least `need` elements of `size` bytes, doubling. */
void *xgrow(void *ptr, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* A formatted string on the heap (for error messages and the like). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
