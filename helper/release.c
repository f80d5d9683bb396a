/*
 * release.c: verified copies from the store into a staged release (see release.h).
 */
#include "release.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "hash.h"
#include "protocol.h"
#include "store.h"

#define COPY_CHUNK (256 * 1024)

char *gg_release_path(const char *root, const char *sha256)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s/%s", root, GG_DIR_RELEASES, sha256) < 0)
		return NULL;
	return s;
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

int gg_release_layout(const char *root, const char *sha256, const struct gg_manifest *m,
		      char **cause)
{
	char *dest = gg_release_path(root, sha256), *tmp = NULL;
	unsigned char *chunk = malloc(COPY_CHUNK);
	int dir = -1, r = GG_HELPER_SYSTEM;
	size_t i;

	if (dest == NULL || chunk == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if ((r = gg_stage_dir(dest, &tmp, cause)) != 0)
		goto out;
	dir = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open '%s'", tmp);
		goto out;
	}
	for (i = 0; i < m->count; i++)
		if ((r = copy_blob(root, dir, &m->files[i], chunk, cause)) != 0)
			goto out;
	close(dir);
	dir = -1;
	r = gg_stage_commit(tmp, dest, cause);
	tmp = NULL;
out:
	if (dir >= 0)
		close(dir);
	gg_stage_abort(tmp);
	free(chunk);
	free(dest);
	return r;
}
