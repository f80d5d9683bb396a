/*
 * lookup.c: exact command lookup with "did you mean" suggestions (lookup.h).
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

/* Levenshtein distance of a and b, capped: names are short, 32 is plenty. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[33], prev, cur;

	if (la > 32 || lb > 32)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev : 1 + (prev < cur ? prev : cur);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			prev = cur;
		}
	}
	return row[lb];
}

long gg_lookup(const void *table, size_t stride, size_t count, const char *name,
	       char **suggestions)
{
	struct gg_buf list = GG_BUF_INIT;
	size_t i, len = strlen(name), matches = 0;
	const char *n;

	*suggestions = NULL;
	for (i = 0; i < count && (n = name_at(table, stride, i)) != NULL; i++)
		if (strcmp(n, name) == 0)
			return (long)i;
	for (i = 0; len > 0 && i < count && (n = name_at(table, stride, i)) != NULL; i++) {
		if (strncmp(n, name, len) != 0 && distance(n, name) > 2)
			continue;
		gg_buf_addf(&list, "%s'%s'", matches == 0 ? "" : " or ", n);
		matches++;
	}
	if (matches > 0)
		*suggestions = gg_buf_detach(&list, NULL);
	gg_buf_release(&list);
	return -1;
}
