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
 *
 * Reuse: once a release is in place, releases/<sha256>.done (its mark) records the
 * sha256 of a fingerprint of it: the lstat (inode, mode, links, owner, size, mtime,
 * ctime) of the release directory, of each directory leading to a manifest file and of
 * each manifest file.  A later layout of the same manifest whose release still has
 * that fingerprint keeps it as it is: no copy, no hash, no sync.  Any change a step
 * made through the file system (write, chmod, a file added or removed anywhere in the
 * tree) moves a ctime, and a release without a matching mark (a crash before the mark
 * was written, a step that touched it) is laid out again from the store, from scratch.
 * What is not caught: content changed behind the file system's back (a disk that
 * rots, a clock set back and ctimes forged by root); the blobs of a kept release are
 * not read again either.  See docs/ARCHITECTURE.md, "Releases".
 */
#ifndef GG_RELEASE_H
#define GG_RELEASE_H

#include "manifest.h"

/* malloc'd path of <root>/releases/<sha256>, or NULL on ENOMEM. */
char *gg_release_path(const char *root, const char *sha256);

/* malloc'd path of <root>/releases/<sha256>.done (the mark), or NULL on ENOMEM. */
char *gg_release_mark_path(const char *root, const char *sha256);

/*
 * Lay out the release of manifest m (named sha256), or keep the one in place when its
 * mark matches; 0, or an exit code with *cause.  prev (may be NULL) names the release
 * laid out before (the plan's): when its mark matches, its files that m lists with the
 * same path, bytes and mode are hard-linked into the new release instead of copied
 * from the store, so a push that changed one script does not copy the whole payload.
 * Links join two releases, never a release and the store: a step that writes to such
 * a file changes the old release too, whose mark then no longer matches.
 */
int gg_release_layout(const char *root, const char *sha256, const char *prev,
		      const struct gg_manifest *m, char **cause);

/* Whether release sha256 is in place and as its layout left it (its mark matches). */
int gg_release_intact(const char *root, const char *sha256, const struct gg_manifest *m);

/*
 * Write the mark of release sha256 again, for its state now.  Only for a release that
 * was intact before a change the helper made itself: removing an older release that
 * shared files with it (links) moves their link count and ctime, which no step did.
 */
int gg_release_reseal(const char *root, const char *sha256, const struct gg_manifest *m,
		      char **cause);

#endif
