/*
 * lookup.h: a command name as typed, found in a table of commands: the exact name, or
 * else the one name it is a prefix of, as git and tmux take abbreviations.  Both
 * programs' command tables go through it.
 */
#ifndef GG_LOOKUP_H
#define GG_LOOKUP_H

#include <stddef.h>

/*
 * table holds count entries, stride bytes apart, each starting with a `const char *`
 * name (count may be larger when the table ends with a NULL name).  The index of the
 * entry name stands for; -1 when it stands for none; -2 when it is a prefix of several,
 * whose names (each after a space) are then in *candidates (malloc'd, or NULL when
 * memory ran out).  An empty name stands for none.
 */
long gg_lookup(const void *table, size_t stride, size_t count, const char *name,
	       char **candidates);

#endif
