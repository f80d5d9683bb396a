/*
 * manifest.h: the list of payload files one push delivers.
 *
 * The CLI builds it from the payload directory; the helper receives it, trusts
 * nothing in it, and uses it to ask for missing blobs and to lay out a release.
 * On the wire it is canonical JSON (compact, keys sorted, files sorted by path):
 *
 *     {"files":[{"mode":493,"path":"steps/10-preflight.sh","sha256":"...","size":812}],
 *      "format":1}
 *
 * so the sha256 of those bytes names the release (releases/<manifest-sha256>/), and
 * the same payload always gives the same name.
 */
#ifndef GG_MANIFEST_H
#define GG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "protocol.h"

#define GG_MANIFEST_FORMAT 1
#define GG_MANIFEST_MAX_FILES 100000
#define GG_MANIFEST_MAX_PATH 1024      /* bytes, whole relative path */
#define GG_MANIFEST_MAX_COMPONENT 255  /* bytes, one path component */
#define GG_MANIFEST_MAX_SIZE (UINT64_C(1) << 40) /* one file, 1 TiB */

struct gg_manifest_entry {
	char *path;                    /* relative, '/'-separated, validated */
	unsigned int mode;             /* permission bits only: 0644 or 0755 */
	uint64_t size;
	char sha256[GG_SHA256_HEX_SIZE];
};

struct gg_manifest {
	struct gg_manifest_entry *files;
	size_t count;
	size_t alloc;
};

#define GG_MANIFEST_INIT { NULL, 0, 0 }

void gg_manifest_release(struct gg_manifest *m);

/*
 * Add one file.  The path is checked (gg_manifest_path_check), the mode reduced to
 * 0755 when any execute bit is set and 0644 otherwise.  0, or -1 with *cause set.
 */
int gg_manifest_add(struct gg_manifest *m, const char *path, unsigned int mode,
		    uint64_t size, const char *sha256, char **cause);

/* Sort by path and refuse duplicates; done by format and parse. 0 or -1. */
int gg_manifest_sort(struct gg_manifest *m, char **cause);

/* Append the canonical JSON (no trailing newline).  0, or -1 with *cause set. */
int gg_manifest_format(struct gg_manifest *m, struct gg_buf *out, char **cause);

/*
 * Parse and validate untrusted manifest text: format version, every path, mode,
 * size and sha256, no duplicate paths, no path that is also a directory of another,
 * and the limits above.  Returns 0 and fills m, or -1 with *cause set.
 */
int gg_manifest_parse(const char *text, size_t len, struct gg_manifest *m, char **cause);

/*
 * Check one relative path: not empty, not absolute, no empty, "." or ".."
 * components, no backslash or control characters, within the length limits.
 */
int gg_manifest_path_check(const char *path, char **cause);

#endif
