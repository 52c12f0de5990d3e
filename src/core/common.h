/*
 * common.h - the few macros and fixed-width includes every module may use.
 * Nothing here allocates or knows about mail.
 */
#ifndef CORE_COMMON_H
#define CORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

/* Broken invariant: abort with a core. Never used for bad input. */
NORETURN void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);
#define ASSERT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			panic("assertion failed: %s (%s:%d)", #cond,          \
			    __FILE__, __LINE__);                              \
	} while (0)

#endif
