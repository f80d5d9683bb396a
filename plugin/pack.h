/*
 * pack.h: a payload directory as a manifest, and its missing blobs as one tar stream
 * (zstd-compressed when that pays).
 *
 * The manifest (proto/manifest.h) lists every regular file under the payload
 * directory with its mode, size and sha256.  Hashing a large payload on every push
 * would cost seconds, so, as git's index does, a cache remembers each file's sha256
 * under its path, size, mtime (in ns), inode and device: a file whose stat matches is
 * not read again.  The cache lives in $XDG_CACHE_HOME/gcloud-gpu/hashes.json (or
 * ~/.cache/...); losing it only costs time.
 *
 * The stream is what the helper's `recv` reads (docs/ARCHITECTURE.md, the wire): a
 * tar archive of regular files named `<sha256>` (a whole blob) or `<sha256>.<offset>`
 * (the rest of a blob from that offset, to resume an upload that was cut), compressed
 * by libarchive with zstd unless a sample of the blobs shows that zstd would not make
 * it a tenth smaller (already-compressed .deb files and wheels).  It is written in
 * large blocks straight to a callback (the SSH channel), so memory stays bounded
 * whatever the payload's size.
 */
#ifndef GG_PACK_H
#define GG_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct pack_stats {
	size_t files;     /* files in the manifest */
	uint64_t bytes;   /* their total size */
	size_t hashed;    /* files read and hashed (not served by the cache) */
};

/*
 * Build the manifest of every regular file under dir (symlinks are followed; other
 * file types are refused).  Uses and updates the hash cache.  0, or GG_EXIT_ERROR with
 * *cause set (a missing directory, an unreadable file, a path the manifest refuses).
 */
int pack_manifest(const char *dir, struct gg_manifest *m, struct pack_stats *stats,
		  char **cause);

/* One blob to send: which file holds it, and from which offset. */
struct pack_blob {
	char sha256[GG_SHA256_HEX_SIZE];
	uint64_t size;
	uint64_t offset;
};

/* Where the stream goes: write all of data, 0 or an exit code with *cause set. */
typedef int (*pack_write_fn)(void *ctx, const void *data, size_t len, char **cause);
/* Called as payload bytes go out: done and total are uncompressed payload bytes. */
typedef void (*pack_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Stream the blobs (each looked up in m by sha256; its file read from dir) as tar,
 * zstd-compressed when that pays, through write.  progress may be NULL.  0, or an exit code with *cause set: the
 * write callback's, or GG_EXIT_ERROR when a file cannot be read or changed since the
 * manifest was made.
 */
int pack_stream(const char *dir, const struct gg_manifest *m, const struct pack_blob *blobs,
		size_t count, pack_write_fn write, pack_progress_fn progress, void *ctx,
		char **cause);

/* The cache file's path, malloc'd: $XDG_CACHE_HOME/gcloud-gpu/hashes.json or ~/.cache/... */
char *pack_cache_path(void);

/*
 * The recipe shipped with gcloud-gpu, malloc'd: the source tree's (next to a build's
 * CLI), the installed one (bin/../share/gcloud-gpu/payloads), else "payloads".
 */
char *pack_default_dir(void);

#endif
