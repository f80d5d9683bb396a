/*
 * os-release.h: the reader of /etc/os-release (os-release(5)) behind probe's "os"
 * facts, on its own so that the fuzz harness (tests/fuzz/fuzz_osrelease.c) reaches it
 * without a sysroot.  The text is whatever the VM's /etc holds: untrusted data.
 */
#ifndef GG_OS_RELEASE_H
#define GG_OS_RELEASE_H

#include <jansson.h>

/*
 * Set "id", "version_id" and "pretty_name" in obj from the os-release text (a C
 * string: KEY=VALUE lines, values bare, "double-quoted" with backslash escapes or
 * 'single-quoted'; the last assignment of a key wins, as in the shell).  A key that
 * is absent, or whose value is not valid UTF-8, is set to null.  Returns 0, or -1
 * when memory runs out (obj may then hold some of the keys).
 */
int gg_os_release_fields(json_t *obj, const char *text);

#endif
