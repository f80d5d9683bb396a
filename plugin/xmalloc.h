/*
 * xmalloc.h: allocation that cannot fail, for the CLI only.
 *
 * Out of memory on the user's machine leaves nothing worth saving, so these print one
 * line and exit.  The root helper never uses them: it returns errors instead.
 */
#ifndef GG_XMALLOC_H
#define GG_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int xasprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
