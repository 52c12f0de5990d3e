/*
 * test.c - minimal unit test runner shared by all C unit tests.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

static const char *current;
static bool current_failed;
static unsigned passed, failed;

void
test_begin(const char *name)
{
	current = name;
	current_failed = false;
}

bool
test_assert_at(bool cond, const char *expr, const char *file, int line)
{
	if (!cond) {
		printf("FAIL %s: %s:%d: %s\n", current != NULL ? current : "?", file,
		    line, expr);
		current_failed = true;
	}
	return cond;
}

void
test_end(void)
{
	if (current_failed)
		failed++;
	else
		passed++;
	printf("%-6s %s\n", current_failed ? "FAIL" : "ok", current);
	current = NULL;
}

int
test_exit(void)
{
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

int
test_trickle(const void *data, size_t len, size_t chunk,
    int (*fn)(const void *chunk, size_t n, void *ctx), void *ctx)
{
	const char *p = data;
	size_t off = 0;
	int r = 0;

	if (chunk == 0)
		chunk = 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = fn(p + off, n, ctx);
		if (r < 0)
			return r;
		off += n;
	}
	return r;
}

char *
test_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			data = realloc(data, cap + 1);
			if (data == NULL)
				abort();
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	data[len] = '\0';
	*len_r = len;
	return data;
}
