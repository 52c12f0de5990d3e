/*
 * buf.h - `struct buf`, an owned, growable byte buffer with a hard maximum.
 *
 * Binary safe; always NUL-terminated after its `len` bytes for convenience.
 * Appends that would exceed `max` fail with -1 and leave the buffer as it
 * was, so limits are checked before memory is spent.
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/common.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = no maximum */
};

void buf_init(struct buf *buf, size_t max);
void buf_deinit(struct buf *buf);
/* Keeps the allocation, drops the contents. */
void buf_reset(struct buf *buf);

int buf_append(struct buf *buf, const void *data, size_t len);
int buf_append_cstr(struct buf *buf, const char *s);
int buf_putc(struct buf *buf, char c);
int buf_printf(struct buf *buf, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vprintf(struct buf *buf, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Ensure room for `extra` more bytes; returns -1 past max. */
int buf_reserve(struct buf *buf, size_t extra);
/* Drop the first n bytes (consumed input). */
void buf_consume(struct buf *buf, size_t n);
/* Hand the storage to the caller (who frees it); the buffer becomes empty. */
char *buf_steal(struct buf *buf, size_t *len_r);

#endif
