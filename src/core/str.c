/*
 * str.c - byte views and the bounded string helpers every module uses
 * instead of the banned libc functions.
 */
#include "core/str.h"
#include "core/pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct str
str_make(const char *ptr, size_t len)
{
	struct str s = { ptr, len };

	return s;
}

struct str
str_from_cstr(const char *s)
{
	return str_make(s, s != NULL ? strlen(s) : 0);
}

bool
str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool
str_case_eq(struct str a, struct str b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++) {
		if (ascii_tolower(a.ptr[i]) != ascii_tolower(b.ptr[i]))
			return false;
	}
	return true;
}

bool
str_eq_cstr(struct str a, const char *s)
{
	return str_eq(a, str_from_cstr(s));
}

bool
str_case_eq_cstr(struct str a, const char *s)
{
	return str_case_eq(a, str_from_cstr(s));
}

bool
str_has_prefix_case(struct str s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.len >= n && str_case_eq(str_make(s.ptr, n), str_make(prefix, n));
}

struct str
str_trim(struct str s)
{
	while (s.len > 0 && ascii_isspace(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len > 0 && ascii_isspace(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

ptrdiff_t
str_find_chr(struct str s, char c)
{
	const char *p = s.len ? memchr(s.ptr, c, s.len) : NULL;

	return p != NULL ? p - s.ptr : -1;
}

ptrdiff_t
str_find_case(struct str hay, struct str needle)
{
	size_t i;

	if (needle.len == 0)
		return 0;
	if (needle.len > hay.len)
		return -1;
	for (i = 0; i + needle.len <= hay.len; i++) {
		if (str_case_eq(str_make(hay.ptr + i, needle.len), needle))
			return (ptrdiff_t)i;
	}
	return -1;
}

struct str
str_slice(struct str s, size_t from, size_t len)
{
	if (from > s.len)
		from = s.len;
	if (len > s.len - from)
		len = s.len - from;
	return str_make(s.ptr + from, len);
}

int
str_to_u64(struct str s, uint64_t *value_r)
{
	uint64_t v = 0;
	size_t i;

	if (s.len == 0)
		return -1;
	for (i = 0; i < s.len; i++) {
		unsigned d;

		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return -1;
		d = (unsigned)(s.ptr[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

char *
str_dup_cstr(struct pool *pool, struct str s)
{
	return pool_strndup(pool, s.ptr != NULL ? s.ptr : "", s.len);
}

size_t
str_lcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size != 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
str_format(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
