/*
 * buf.c - growable byte buffer with a hard maximum.
 */
#include "core/buf.h"
#include "core/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *buf, size_t max)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->max = max;
}

void
buf_deinit(struct buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

void
buf_reset(struct buf *buf)
{
	buf->len = 0;
	if (buf->data != NULL)
		buf->data[0] = '\0';
}

int
buf_reserve(struct buf *buf, size_t extra)
{
	size_t need, ncap;

	if (extra > SIZE_MAX - buf->len - 1)
		return -1;
	if (buf->max != 0 && buf->len + extra > buf->max)
		return -1;
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return 0;
	ncap = buf->cap ? buf->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	buf->data = xrealloc(buf->data, ncap);
	buf->cap = ncap;
	return 0;
}

int
buf_append(struct buf *buf, const void *data, size_t len)
{
	if (buf_reserve(buf, len) < 0)
		return -1;
	if (len != 0)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int
buf_append_cstr(struct buf *buf, const char *s)
{
	return buf_append(buf, s, strlen(s));
}

int
buf_putc(struct buf *buf, char c)
{
	return buf_append(buf, &c, 1);
}

int
buf_vprintf(struct buf *buf, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(buf, (size_t)n) < 0)
		return -1;
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_consume(struct buf *buf, size_t n)
{
	if (n >= buf->len) {
		buf_reset(buf);
		return;
	}
	memmove(buf->data, buf->data + n, buf->len - n);
	buf->len -= n;
	buf->data[buf->len] = '\0';
}

char *
buf_steal(struct buf *buf, size_t *len_r)
{
	char *p = buf->data;

	if (len_r != NULL)
		*len_r = buf->len;
	if (p == NULL)
		p = xstrdup("");
	buf->data = NULL;
	buf->len = buf->cap = 0;
	return p;
}
