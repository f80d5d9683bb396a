/*
 * release.c: a staged release of hard links to the store's verified blobs, its mark,
 * and its reuse (see release.h).
 */
#include "release.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "hash.h"
#include "protocol.h"
#include "store.h"

#define COPY_CHUNK (256 * 1024)

/* How long a layout waits for the clock to pass its last ctime (see release.h). */
#define MARK_WAIT_MS 2000

char *gg_release_path(const char *root, const char *sha256)
{
	return gg_root_path(root, GG_DIR_RELEASES, sha256, "");
}

char *gg_release_mark_path(const char *root, const char *sha256)
{
	return gg_root_path(root, GG_DIR_RELEASES, sha256, ".done");
}

/* Feed one lstat of dir/path (or of dir itself for ".") into the fingerprint. */
static int fingerprint_one(struct gg_sha256 *h, int dir, const char *path,
			   struct timespec *newest)
{
	char line[GG_MANIFEST_MAX_PATH + 256];
	struct stat st;
	int n;

	if (fstatat(dir, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	n = snprintf(line, sizeof line, "%zu:%s %ju %o %ju %ju %ju %ju %lld.%09ld %lld.%09ld\n",
		     strlen(path), path, (uintmax_t)st.st_ino, (unsigned)st.st_mode,
		     (uintmax_t)st.st_nlink, (uintmax_t)st.st_uid, (uintmax_t)st.st_gid,
		     (uintmax_t)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		     (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof line)
		return -1;
	gg_sha256_update(h, line, (size_t)n);
	if (st.st_ctim.tv_sec > newest->tv_sec ||
	    (st.st_ctim.tv_sec == newest->tv_sec && st.st_ctim.tv_nsec > newest->tv_nsec))
		*newest = st.st_ctim;
	return 0;
}

/*
 * The fingerprint of release dest as m lays it out: the lstat (inode, type and mode,
 * links, owner, size, mtime, ctime) of the release directory, of every directory
 * leading to a manifest file and of every manifest file, in manifest order.  Any
 * write, chmod, link, rename, creation or removal of an entry changes the ctime of
 * the entry or of the directory holding it, so the fingerprint changes too, without
 * reading a byte of content.  -1 when an entry is missing or unreadable.  *newest is
 * the latest ctime seen.
 */
static int fingerprint(const char *dest, const struct gg_manifest *m,
		       char hex[GG_SHA256_HEX_SIZE], struct timespec *newest)
{
	char buf[GG_MANIFEST_MAX_PATH + 1], *p;
	struct gg_sha256 h;
	int dir, r = -1;
	size_t i;

	newest->tv_sec = 0;
	newest->tv_nsec = 0;
	dir = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -1;
	gg_sha256_init(&h);
	if (fingerprint_one(&h, dir, ".", newest) != 0)
		goto out;
	for (i = 0; i < m->count; i++) {
		snprintf(buf, sizeof buf, "%s", m->files[i].path);
		for (p = strchr(buf, '/'); p != NULL; p = strchr(p + 1, '/')) {
			*p = '\0';
			if (fingerprint_one(&h, dir, buf, newest) != 0)
				goto out;
			*p = '/';
		}
		if (fingerprint_one(&h, dir, buf, newest) != 0)
			goto out;
	}
	gg_sha256_final_hex(&h, hex);
	r = 0;
out:
	close(dir);
	return r;
}

/* Whether release sha256 is as its layout left it: its mark matches its fingerprint. */
static int release_intact(const char *dest, const char *mark, const struct gg_manifest *m)
{
	struct gg_buf b = GG_BUF_INIT;
	char hex[GG_SHA256_HEX_SIZE];
	struct timespec newest;
	int ok = 0;

	if (gg_read_file(mark, 2 * GG_SHA256_HEX_SIZE, &b, NULL) == 0 &&
	    fingerprint(dest, m, hex, &newest) == 0)
		ok = b.len == GG_SHA256_HEX_SIZE && b.data[GG_SHA256_HEX_SIZE - 1] == '\n' &&
		     strncmp(b.data, hex, GG_SHA256_HEX_SIZE - 1) == 0;
	gg_buf_release(&b);
	return ok;
}

/*
 * Write the mark of a release just laid out.  File systems stamp ctimes from a coarse
 * clock (a tick of a few ms, or a second on some): a step that changed a file within
 * the tick of its layout would keep its ctime.  So the mark is written only once the
 * coarse clock has passed the newest ctime in the release; after that every change
 * gets a later ctime.  When the clock does not move on within MARK_WAIT_MS, no mark is
 * written and the next apply lays the release out again: slower, never wrong.
 */
static int release_mark(const char *dest, const char *mark, const struct gg_manifest *m,
			char **cause)
{
	char hex[GG_SHA256_HEX_SIZE];
	struct timespec newest, now, nap = { 0, 1000000 };
	int waited;

	if (fingerprint(dest, m, hex, &newest) != 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot stat the release '%s'",
				     dest);
	for (waited = 0;; waited++) {
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > newest.tv_sec ||
		    (now.tv_sec == newest.tv_sec && now.tv_nsec > newest.tv_nsec))
			break;
		if (waited >= MARK_WAIT_MS)
			return 0;
		nanosleep(&nap, NULL);
	}
	hex[GG_SHA256_HEX_SIZE - 1] = '\n';
	return gg_write_file_atomic(mark, hex, GG_SHA256_HEX_SIZE, 0600, cause);
}

/* Create the directories leading to path (relative to dir fd), 0755. */
static int make_parents(int dir, const char *path, char **cause)
{
	char buf[GG_MANIFEST_MAX_PATH + 1];
	char *p;

	snprintf(buf, sizeof buf, "%s", path);
	for (p = strchr(buf, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(dir, buf, 0755) != 0 && errno != EEXIST)
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", buf);
		*p = '/';
	}
	return 0;
}

/* Copy one blob to dir/e->path, verifying size and sha256 on the way. */
static int copy_blob(const char *root, int dir, const struct gg_manifest_entry *e,
		     unsigned char *chunk, char **cause)
{
	char *blob = gg_store_blob_path(root, e->sha256), got[GG_SHA256_HEX_SIZE];
	struct gg_sha256 h;
	uint64_t total = 0;
	struct stat st;
	int in = -1, out = -1, r = GG_HELPER_SYSTEM;
	ssize_t n;

	if (blob == NULL)
		return gg_fail(cause, r, "out of memory");
	in = open(blob, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "blob '%s' of '%s' is missing from the store (push again)", e->sha256,
			    e->path);
		goto out;
	}
	if ((r = make_parents(dir, e->path, cause)) != 0)
		goto out;
	r = GG_HELPER_SYSTEM;
	out = openat(dir, e->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		gg_fail_errno(cause, r, errno, "cannot create '%s' in the release", e->path);
		goto out;
	}
	gg_sha256_init(&h);
	for (;;) {
		n = read(in, chunk, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gg_fail_errno(cause, r, errno, "cannot read blob '%s'", e->sha256);
			goto out;
		}
		if (n == 0)
			break;
		gg_sha256_update(&h, chunk, (size_t)n);
		total += (uint64_t)n;
		if (gg_write_all(out, chunk, (size_t)n) != 0) {
			gg_fail_errno(cause, r, errno, "cannot write '%s' in the release", e->path);
			goto out;
		}
	}
	gg_sha256_final_hex(&h, got);
	if (total != e->size || strcmp(got, e->sha256) != 0) {
		/* A damaged blob must not be trusted again: the next `have` asks for it. */
		unlink(blob);
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "blob '%s' of '%s' is corrupt (%" PRIu64 " bytes, sha256 '%s'); removed, push again",
			    e->sha256, e->path, total, got);
		goto out;
	}
	if (fchmod(out, e->mode) != 0) {
		gg_fail_errno(cause, r, errno, "cannot set the mode of '%s'", e->path);
		goto out;
	}
	r = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && r == 0)
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot write '%s' in the release",
				  e->path);
	free(blob);
	return r;
}

/*
 * Lay out e as a hard link to its blob: verified first (its seal, else its bytes:
 * gg_store_verify), given e's mode (the blob's inode is the release's file).  A blob
 * some other release links with another mode, or one that cannot be linked, is
 * copied instead (copy_blob, which hashes it).
 */
static int link_blob(const char *root, int dir, const struct gg_manifest_entry *e,
		     unsigned char *chunk, char **cause)
{
	char *blob = gg_store_blob_path(root, e->sha256);
	struct stat st;
	int r;

	if (blob == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (lstat(blob, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "blob '%s' of '%s' is missing from the store (push again)", e->sha256,
			    e->path);
		goto out;
	}
	if ((r = gg_store_verify(root, e->sha256, e->size, cause)) != 0) {
		gg_fail_wrap(cause, r, "'%s'", e->path);
		goto out;
	}
	if ((r = make_parents(dir, e->path, cause)) != 0)
		goto out;
	if ((st.st_mode & 07777) != e->mode && (st.st_nlink != 1 || chmod(blob, e->mode) != 0)) {
		r = copy_blob(root, dir, e, chunk, cause);
		goto out;
	}
	if (linkat(AT_FDCWD, blob, dir, e->path, 0) != 0)
		r = copy_blob(root, dir, e, chunk, cause);
out:
	free(blob);
	return r;
}

int gg_release_layout(const char *root, const char *sha256, const char *prev,
		      const struct gg_manifest *m, char **cause)
{
	char *dest = gg_release_path(root, sha256), *mark = gg_release_mark_path(root, sha256);
	char *tmp = NULL, *why = NULL;
	unsigned char *chunk = malloc(COPY_CHUNK);
	struct gg_manifest prev_m = GG_MANIFEST_INIT;
	int dir = -1, prev_intact = 0, r = GG_HELPER_SYSTEM;
	size_t i;

	if (dest == NULL || mark == NULL || chunk == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if (release_intact(dest, mark, m)) {
		r = 0;
		goto out;
	}
	/*
	 * The release before shares blobs with this one: linking them again moves their
	 * link counts and ctimes, so its mark would stop matching.  Nothing else changes
	 * it meanwhile (the caller holds the lock), so one intact now is sealed again after.
	 */
	prev_intact = prev != NULL && strcmp(prev, sha256) != 0 &&
		      gg_store_load_manifest(root, prev, &prev_m, NULL) == 0 &&
		      gg_release_intact(root, prev, &prev_m);
	if ((r = gg_stage_dir(dest, &tmp, cause)) != 0)
		goto out;
	dir = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open '%s'", tmp);
		goto out;
	}
	for (i = 0; i < m->count; i++)
		if ((r = link_blob(root, dir, &m->files[i], chunk, cause)) != 0)
			goto out;
	close(dir);
	dir = -1;
	r = gg_stage_commit(tmp, dest, cause);
	tmp = NULL;
	if (r != 0)
		goto out;
	/*
	 * Every blob of m was verified above, and only this layout changed them since
	 * (their links, modes, and the old release of this name it replaced): seal them
	 * for what they are now, so that the next layout trusts them without a hash.
	 */
	for (i = 0; i < m->count; i++)
		gg_store_seal(root, m->files[i].sha256);
	if (prev_intact && !gg_release_intact(root, prev, &prev_m) &&
	    gg_release_reseal(root, prev, &prev_m, &why) != 0) {
		free(why);
		why = NULL;
	}
	/*
	 * Without its mark the release is only laid out again next time: not a failure,
	 * and not worth a line when the disk is full (what fails next says so).
	 */
	if (release_mark(dest, mark, m, &why) != 0 && !gg_disk_full(root, NULL))
		fprintf(stderr, "gcloud-gpu-helper: release kept without its mark: %s\n", why);
out:
	if (dir >= 0)
		close(dir);
	gg_manifest_release(&prev_m);
	gg_stage_abort(tmp);
	free(why);
	free(chunk);
	free(mark);
	free(dest);
	return r;
}

int gg_release_intact(const char *root, const char *sha256, const struct gg_manifest *m)
{
	char *dest = gg_release_path(root, sha256), *mark = gg_release_mark_path(root, sha256);
	int ok = dest != NULL && mark != NULL && release_intact(dest, mark, m);

	free(dest);
	free(mark);
	return ok;
}

int gg_release_reseal(const char *root, const char *sha256, const struct gg_manifest *m,
		      char **cause)
{
	char *dest = gg_release_path(root, sha256), *mark = gg_release_mark_path(root, sha256);
	int r = dest != NULL && mark != NULL ? release_mark(dest, mark, m, cause)
					     : gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");

	free(dest);
	free(mark);
	return r;
}
