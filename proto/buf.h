/*
 * buf.h: a growable byte buffer, always NUL-terminated.
 *
 * Used on both sides, so it never exits on allocation failure: the growing functions
 * return -1 and leave the buffer as it was (the CLI turns that into a fatal error,
 * the root helper into a clean refusal).
 *
 * Steps for a caller:
 *   struct gg_buf b = GG_BUF_INIT;       // empty, no allocation yet
 *   gg_buf_add(&b, data, n) / gg_buf_addf(&b, "%d", x) ...
 *   use b.data (NUL-terminated) and b.len
 *   gg_buf_release(&b)                   // or: char *s = gg_buf_detach(&b, NULL);
 *
 * b.data is never NULL: an empty buffer points at a shared "" that must not be written.
 */
#ifndef GG_BUF_H
#define GG_BUF_H

#include <stddef.h>

struct gg_buf {
	char *data;
	size_t len;
	size_t alloc; /* 0 while data points at the shared empty string */
};

extern char gg_buf_empty[];
#define GG_BUF_INIT { gg_buf_empty, 0, 0 }

void gg_buf_init(struct gg_buf *b);
void gg_buf_release(struct gg_buf *b);

/* Make room for `extra` more bytes after len (plus the NUL); 0 or -1. */
int gg_buf_grow(struct gg_buf *b, size_t extra);

int gg_buf_add(struct gg_buf *b, const void *data, size_t len);
int gg_buf_addstr(struct gg_buf *b, const char *s);
int gg_buf_addch(struct gg_buf *b, char c);
int gg_buf_addf(struct gg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the first n bytes (n <= len), keeping the rest. */
void gg_buf_consume(struct gg_buf *b, size_t n);

/* Empty the buffer but keep its allocation. */
void gg_buf_reset(struct gg_buf *b);

/*
 * Hand the string to the caller, who must free() it, and reset the buffer.  Returns
 * NULL only when the buffer was empty and a copy of "" could not be made.
 */
char *gg_buf_detach(struct gg_buf *b, size_t *len);

#endif
