/*
 * strmap.h - a hash map from NUL-terminated string keys to pointers.
 *
 * Open addressing with linear probing; keys are copied and owned by the
 * map, values are borrowed. Optionally ASCII case-insensitive. Not for
 * untrusted key sets of unbounded size (the hash is not keyed).
 */
#ifndef CORE_STRMAP_H
#define CORE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

struct strmap *strmap_new(bool case_insensitive);
void strmap_free(struct strmap **map);
/* Inserts or replaces; returns the previous value or NULL. */
void *strmap_put(struct strmap *map, const char *key, void *value);
void *strmap_get(const struct strmap *map, const char *key);
size_t strmap_count(const struct strmap *map);

#endif
