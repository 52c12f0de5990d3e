/*
 * libFuzzer target for the map text parser and the map builders. The first
 * input byte picks the map kind (and the regexp key form); the rest is map
 * text. Every entry the parser reports must be a non-empty view inside the
 * input with no line break in it, the entry count must match the callback
 * count, and building a map of that kind from the same text must either
 * fail cleanly or answer lookups of every key without crashing (IP keys
 * looked up as addresses, with their prefix stripped).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "log/log.h"
#include "scan/maps/map.h"

struct fuzz_ctx {
	const char *base;
	size_t len;
	int calls;
	struct map *map;
};

static int
check_entry(void *vctx, struct str key, struct str value, unsigned line)
{
	struct fuzz_ctx *c = vctx;

	c->calls++;
	if (key.len == 0 || key.ptr < c->base || key.ptr + key.len > c->base + c->len)
		abort();
	if (value.len > 0 && (value.ptr < c->base || value.ptr + value.len > c->base + c->len))
		abort();
	if (memchr(key.ptr, '\n', key.len) != NULL || memchr(value.ptr, '\n', value.len) != NULL)
		abort();
	if (line == 0)
		abort();
	return 0;
}

static int
lookup_entry(void *vctx, struct str key, struct str value, unsigned line)
{
	struct fuzz_ctx *c = vctx;
	ptrdiff_t slash = str_find_chr(key, '/');

	(void)value;
	(void)line;
	(void)map_lookup(c->map, key.ptr, key.len, NULL);
	if (slash > 0)
		(void)map_lookup(c->map, key.ptr, (size_t)slash, NULL);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum map_kind kinds[] = { MAP_KIND_STRING, MAP_KIND_IP,
		MAP_KIND_REGEXP, MAP_KIND_GLOB };
	static bool quiet;
	struct fuzz_ctx c;
	enum map_kind kind;
	char *err = NULL;
	int n;

	if (!quiet) {
		struct log_settings ls = { LOG_TYPE_CONSOLE, LOG_LEVEL_SILENT, NULL, NULL };

		(void)log_configure(&ls, &err);
		quiet = true;
	}
	if (size < 1)
		return 0;
	kind = kinds[data[0] & 3];
	c.base = (const char *)data + 1;
	c.len = size - 1;
	c.calls = 0;
	n = map_parse_text(c.base, c.len, kind == MAP_KIND_REGEXP, check_entry, &c);
	if (n != c.calls)
		abort();
	c.map = map_new_from_text("fuzz", kind, (data[0] & 4) ? MAP_FLAG_CASE : 0,
	    c.base, c.len, &err);
	if (c.map == NULL) {
		if (err == NULL)
			abort();
		free(err);
		return 0;
	}
	if (map_size(c.map) > (size_t)n)
		abort();
	(void)map_parse_text(c.base, c.len, kind == MAP_KIND_REGEXP, lookup_entry, &c);
	map_free(&c.map);
	return 0;
}
