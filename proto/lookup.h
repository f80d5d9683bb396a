/*
 * lookup.h: a command name as typed, found in a table of commands.  Only the exact
 * name counts: a prefix is never taken for a command (`gcloud-gpu d vm1` must not
 * delete, `ssh` must not run `ssh-config`).  For a name that is no command, the
 * names it may have meant are offered instead, as git's "did you mean" does.  Both
 * programs' command tables go through it.
 */
#ifndef GG_LOOKUP_H
#define GG_LOOKUP_H

#include <stddef.h>

/*
 * table holds count entries, stride bytes apart, each starting with a `const char *`
 * name (count may be larger when the table ends with a NULL name).  The index of the
 * entry named exactly name, or -1.  On -1, *suggestions is the list of names the
 * user may have meant ("'push'" or "'push' or 'ssh'"; malloc'd), or NULL when none
 * is close: names that start with what was typed, and names within two edits of it.
 */
long gg_lookup(const void *table, size_t stride, size_t count, const char *name,
	       char **suggestions);

#endif
