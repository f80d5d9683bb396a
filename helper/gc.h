/*
 * gc.h: what the VM's state root no longer needs goes, so repeated pushes do not fill
 * its disk.
 *
 * Every push of a changed payload adds blobs to the store (a new cuDNN .deb is the
 * better part of a gigabyte) and a release directory; nothing else ever removes them.
 * After `apply` has laid out a new release, gg_gc keeps the manifests it is given (the
 * new plan's and the one before it, so a push that goes back to the previous payload
 * uploads nothing) with every blob they list, and removes:
 *
 *   - releases/<sha> and releases/<sha>.done of every other manifest (the mark first,
 *     so a crash half-way leaves a release without a mark, which is never trusted);
 *   - blobs/<sha> that no kept manifest lists, when they have not been used for
 *     GG_GC_GRACE_SECONDS, "used" being the newer of the blob's mtime and its seal's
 *     (store.h): `have` refreshes it (gg_store_touch) for every blob it reports
 *     present and for the manifest it stores, so the blobs a concurrent push is
 *     counting on stay.  A blob's seal goes with it, and a seal without its blob.
 *     Partial blobs (a cut upload, waiting to be resumed) are left alone.
 *   - releases are hard links to the blobs, so removing one moves the ctimes of the
 *     blobs it shared: kept blobs and releases that were sealed or intact before are
 *     sealed again after (nothing else ran: the caller holds the lock).
 *
 * Collection is best effort: what cannot be removed stays for the next time, and
 * nothing here fails an apply.  The caller holds the runner's lock, so no layout runs
 * beside it.
 */
#ifndef GG_GC_H
#define GG_GC_H

#include <stddef.h>
#include <stdint.h>

#define GG_GC_GRACE_SECONDS 3600

struct gg_gc_stats {
	size_t releases;        /* release directories removed */
	size_t blobs;           /* blobs removed */
	uint64_t bytes;         /* their size */
};

/*
 * Collect under root, keeping the manifests named in keep (NULL entries are skipped;
 * a name whose manifest cannot be read keeps everything: nothing is removed then).
 * 0, or -1 with *cause set when nothing could be collected; stats may be NULL.
 */
int gg_gc(const char *root, const char *const *keep, size_t count, struct gg_gc_stats *stats,
	  char **cause);

#endif
