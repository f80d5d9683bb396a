/*
 * lookup.c: exact or unique-prefix lookup in a command table (see lookup.h).
 */
#include "lookup.h"

#include <string.h>

#include "buf.h"

/* The name of entry i, or NULL at the table's end. */
static const char *name_at(const void *table, size_t stride, size_t i)
{
	const char *const *p = (const void *)((const char *)table + i * stride);

	return *p;
}

long gg_lookup(const void *table, size_t stride, size_t count, const char *name,
	       char **candidates)
{
	struct gg_buf list = GG_BUF_INIT;
	size_t i, len = strlen(name), matches = 0;
	const char *n;
	long found = -1;

	*candidates = NULL;
	for (i = 0; i < count && (n = name_at(table, stride, i)) != NULL; i++)
		if (strcmp(n, name) == 0)
			return (long)i;
	for (i = 0; len > 0 && i < count && (n = name_at(table, stride, i)) != NULL; i++) {
		if (strncmp(n, name, len) != 0)
			continue;
		found = (long)i;
		matches++;
		gg_buf_addf(&list, " %s", n);
	}
	if (matches <= 1) {
		gg_buf_release(&list);
		return found;
	}
	*candidates = gg_buf_detach(&list, NULL);
	return -2;
}
