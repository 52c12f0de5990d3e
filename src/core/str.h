/*
 * str.h - `struct str`, a non-owning {ptr, len} view of bytes.
 *
 * Views are used for headers, tokens and slices of a message. They are not
 * NUL-terminated and may contain NULs; never pass `ptr` to a C string
 * function. Conversions to C strings are explicit (str_dup_cstr()).
 */
#ifndef CORE_STR_H
#define CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool;

struct str {
	const char *ptr;
	size_t len;
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })
#define STR_NULL ((struct str){ NULL, 0 })

struct str str_make(const char *ptr, size_t len);
/* View of a NUL-terminated string (borrows it). NULL gives an empty view. */
struct str str_from_cstr(const char *s);

bool str_eq(struct str a, struct str b);
bool str_case_eq(struct str a, struct str b);
bool str_eq_cstr(struct str a, const char *s);
bool str_case_eq_cstr(struct str a, const char *s);
bool str_has_prefix_case(struct str s, const char *prefix);

/* Leading and trailing SP, HTAB, CR, LF removed. */
struct str str_trim(struct str s);
/* Index of the first `c`, or -1. */
ptrdiff_t str_find_chr(struct str s, char c);
/* Index of the first occurrence of `needle`, case-insensitive ASCII, or -1. */
ptrdiff_t str_find_case(struct str hay, struct str needle);
struct str str_slice(struct str s, size_t from, size_t len);

/* Decimal unsigned parse of the whole view; -1 on junk or overflow. */
int str_to_u64(struct str s, uint64_t *value_r);

/* NUL-terminated copy in `pool` (returns pool-owned; NULL at the pool cap). */
char *str_dup_cstr(struct pool *pool, struct str s);

/* ASCII-only helpers: locale-independent. */
static inline char
ascii_tolower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static inline bool
ascii_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Value of a hexadecimal digit, or -1. */
static inline int
ascii_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Copies at most size-1 bytes of src into dst and NUL-terminates. Returns
 * strlen(src); a result >= size means the copy was truncated (strlcpy).
 */
size_t str_lcpy(char *dst, const char *src, size_t size);

/*
 * snprintf that fails on truncation: returns the length written, or -1 when
 * the output did not fit (dst is then still NUL-terminated).
 */
int str_format(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
