/*
 * buf.c: the growable buffer of buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char gg_buf_empty[1];

void gg_buf_init(struct gg_buf *b)
{
	b->data = gg_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void gg_buf_release(struct gg_buf *b)
{
	if (b->alloc != 0)
		free(b->data);
	gg_buf_init(b);
}

int gg_buf_grow(struct gg_buf *b, size_t extra)
{
	size_t want, alloc;
	char *data;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	alloc = b->alloc < 64 ? 64 : b->alloc;
	while (alloc < want)
		alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
	data = realloc(b->alloc != 0 ? b->data : NULL, alloc);
	if (data == NULL)
		return -1;
	if (b->alloc == 0)
		data[0] = '\0';
	b->data = data;
	b->alloc = alloc;
	return 0;
}

int gg_buf_add(struct gg_buf *b, const void *data, size_t len)
{
	if (gg_buf_grow(b, len) != 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int gg_buf_addstr(struct gg_buf *b, const char *s)
{
	return gg_buf_add(b, s, strlen(s));
}

int gg_buf_addch(struct gg_buf *b, char c)
{
	return gg_buf_add(b, &c, 1);
}

int gg_buf_addf(struct gg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || gg_buf_grow(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void gg_buf_consume(struct gg_buf *b, size_t n)
{
	if (n >= b->len) {
		gg_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void gg_buf_reset(struct gg_buf *b)
{
	b->len = 0;
	if (b->alloc != 0)
		b->data[0] = '\0';
}

char *gg_buf_detach(struct gg_buf *b, size_t *len)
{
	char *s = b->alloc != 0 ? b->data : strdup("");

	if (len != NULL)
		*len = b->len;
	gg_buf_init(b);
	return s;
}
