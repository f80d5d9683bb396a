/*
 * store.h: the content-addressed blob store under <root>/blobs.
 *
 * A blob is a payload file named by its sha256 (blobs/<sha256>).  It becomes visible
 * only complete and verified: `recv` writes it to blobs/<sha256>.partial, hashing as
 * it writes, and renames it into place when the bytes match their name.  An upload
 * cut off midway leaves the partial file; its size is the offset from which the next
 * upload continues (`have` reports it, `recv` accepts "<sha256>.<offset>" entries).
 * A partial file is only written under an exclusive flock on it, so two uploads of
 * the same blob cannot interleave.
 *
 * The manifest of a push is kept as a blob too, so `apply` can name it by sha256.
 *
 * Seals: releases are hard links to the blobs (release.h), so a step that writes to a
 * file of its release writes to the blob.  blobs/<sha256>.seal holds the lstat of the
 * blob (inode, mode, links, size, mtime, ctime) taken when the helper last knew its
 * bytes to match its name: when `recv` stored it, and after each change the helper
 * made to it itself under the runner's lock (a layout's chmod and link, a collection's
 * unlink of a release).  Any write, chmod, link or unlink moves the ctime, which root
 * cannot set back, so a blob whose lstat still matches its seal holds the bytes that
 * were verified; one that does not is hashed again before it is used (have, layout),
 * and dropped when it fails.  The seal's mtime is also the blob's "last used" time.
 */
#ifndef GG_STORE_H
#define GG_STORE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "manifest.h"
#include "protocol.h"

/* The biggest manifest `have` reads. */
#define GG_STORE_MAX_MANIFEST (64 * 1024 * 1024)

/* malloc'd path of blobs/<sha256>, or of blobs/<sha256>.partial; NULL on ENOMEM. */
char *gg_store_blob_path(const char *root, const char *sha256);
char *gg_store_partial_path(const char *root, const char *sha256);

#define GG_STORE_SEAL_SUFFIX ".seal"

/* malloc'd path of blobs/<sha256>.seal; NULL on ENOMEM. */
char *gg_store_seal_path(const char *root, const char *sha256);

/*
 * Seal blob sha256 for what it is now.  Only after its bytes were verified and while
 * nothing else can write to it (recv's new blob; under the runner's lock otherwise).
 * Best effort: a seal that is missing only costs a hash.
 */
void gg_store_seal(const char *root, const char *sha256);

/* Whether blob sha256 is there and still matches its seal. */
int gg_store_sealed(const char *root, const char *sha256);

/*
 * Make sure blob sha256 holds size bytes that match its name: at once when its seal
 * matches, else by hashing it.  A blob that fails is removed with its seal (the next
 * `have` asks for it) and GG_HELPER_REFUSED says so; a missing one is refused too.
 * It does not seal: the caller does that when it may (gg_store_seal).
 */
int gg_store_verify(const char *root, const char *sha256, uint64_t size, char **cause);

/*
 * Mark blob sha256 as just used, so that a collection (gc.h) leaves it for
 * GG_GC_GRACE_SECONDS: its seal's mtime (the blob's own when it has no seal and no
 * release links it).  The store owns these mtimes: this is the only writer of them
 * besides `recv`; gc.c only reads them.
 */
void gg_store_touch(const char *root, const char *sha256);

/*
 * `have`: validate the manifest text (it must be canonical, as gg_manifest_format
 * writes it; one trailing newline is allowed), store it as a blob, and return the
 * missing blobs as the wire object {"manifest":…,"missing":[{"sha256","size","offset"}]}
 * in *result (owned by the caller).
 */
int gg_store_have(const char *root, const char *text, size_t len, json_t **result,
		  char **cause);

/*
 * `recv`: read a tar (optionally zstd) stream of blobs from fd and store each one.
 * On success *result is {"stored":[…],"bytes":N}.  A stream cut off midway keeps
 * what arrived as a partial file and fails with GG_HELPER_REFUSED.
 */
int gg_store_recv(const char *root, int fd, json_t **result, char **cause);

/*
 * Load and parse the manifest stored as blob sha256 (refusing one whose bytes do
 * not match the name).  m must be GG_MANIFEST_INIT.
 */
int gg_store_load_manifest(const char *root, const char *sha256, struct gg_manifest *m,
			   char **cause);

#endif
