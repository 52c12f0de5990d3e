/*
 * strmap.c - string-keyed open-addressing hash map (FNV-1a).
 */
#include "core/strmap.h"
#include "core/str.h"
#include "core/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct strmap_slot {
	char *key;
	void *value;
	uint64_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* power of two */
	size_t count;
	bool icase;
};

static uint64_t
strmap_hash(const struct strmap *m, const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)(m->icase ? ascii_tolower(*key) : *key);
		h *= 1099511628211ull;
	}
	return h;
}

struct strmap *
strmap_new(bool case_insensitive)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->icase = case_insensitive;
	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void
strmap_free(struct strmap **mp)
{
	struct strmap *m = *mp;

	if (m == NULL)
		return;
	*mp = NULL;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	for (;;) {
		struct strmap_slot *s = &m->slots[i];

		if (s->key == NULL)
			return s;
		if (s->hash == h &&
		    (m->icase ? strcasecmp(s->key, key) : strcmp(s->key, key)) == 0)
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key != NULL)
			*strmap_find(m, old[i].key, old[i].hash) = old[i];
	}
	free(old);
}

void *
strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = strmap_hash(m, key);
	struct strmap_slot *s;
	void *prev;

	if ((m->count + 1) * 4 > m->cap * 3)
		strmap_grow(m);
	s = strmap_find(m, key, h);
	if (s->key != NULL) {
		prev = s->value;
		s->value = value;
		return prev;
	}
	s->key = xstrdup(key);
	s->hash = h;
	s->value = value;
	m->count++;
	return NULL;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	return strmap_find(m, key, strmap_hash(m, key))->value;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->count;
}
