/*
 * release.h: laying out releases/<manifest-sha256>/ from the blob store.
 *
 * Each file of the manifest is copied from its blob, and hashed while it is copied:
 * a blob that does not match its name or its size is removed from the store (so the
 * next `have` asks for it again) and the layout is refused.  Copies, not hard links:
 * steps run as root with the release as their working directory, and a step that
 * wrote to a file of it would otherwise write into the store through the link and
 * corrupt every later push that shares the blob.
 *
 * The layout is staged next to the release and renamed into place (fsutil.h), so a
 * failed layout (missing blob, bad checksum, disk full) leaves the previous release
 * of that name, and every other release, untouched.
 */
#ifndef GG_RELEASE_H
#define GG_RELEASE_H

#include "manifest.h"

/* malloc'd path of <root>/releases/<sha256>, or NULL on ENOMEM. */
char *gg_release_path(const char *root, const char *sha256);

/* Lay out the release of manifest m (named sha256); 0, or an exit code with *cause. */
int gg_release_layout(const char *root, const char *sha256, const struct gg_manifest *m,
		      char **cause);

#endif
