/*
 * fsutil.c: durable writes, directory staging and tree removal (see fsutil.h).
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "error.h"
#include "protocol.h"

char *gg_path_join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

char *gg_root_path(const char *root, const char *dir, const char *name, const char *suffix)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s/%s%s", root, dir, name, suffix) < 0)
		return NULL;
	return s;
}

int gg_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int gg_fsync_dir(const char *path, char **cause)
{
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open '%s'", path);
	if (fsync(fd) != 0 && errno != EINVAL)
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot sync '%s'", path);
	close(fd);
	return r;
}

/* mkdir that accepts an existing directory (and refuses anything else there). */
static int make_dir(const char *path, mode_t mode, char **cause)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", path);
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return gg_fail(cause, GG_HELPER_SYSTEM, "'%s' exists and is not a directory", path);
	return 0;
}

/*
 * A directory of the state root that no other user can change: ours (the helper's
 * user, root on a VM) and writable by no group or other.  Another owner, or a mode
 * that let others write, could have swapped the helper binary (bin/) or a blob: it is
 * refused, not repaired, as what it holds can no longer be trusted.
 */
static int dir_trusted(const char *path, char **cause)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot stat '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return gg_fail(cause, GG_HELPER_REFUSED, "'%s' is not a directory", path);
	if (st.st_uid != geteuid())
		return gg_fail(cause, GG_HELPER_REFUSED, "'%s' belongs to user %u, not to %u: another "
			       "user could swap what runs as root there; remove it or give it to "
			       "root (chown root:root, chmod 700)", path, (unsigned)st.st_uid,
			       (unsigned)geteuid());
	if ((st.st_mode & 022) != 0)
		return gg_fail(cause, GG_HELPER_REFUSED, "'%s' is writable by other users (mode %03o): "
			       "another user could swap what runs as root there; remove it, or "
			       "check it and chmod 700", path, (unsigned)(st.st_mode & 0777));
	return 0;
}

int gg_root_prepare(const char *root, char **cause)
{
	static const char *const subdirs[] = { GG_DIR_BLOBS, GG_DIR_RELEASES };
	struct stat st;
	char *sub;
	size_t i;
	int r;

	if ((r = make_dir(root, 0700, cause)) != 0 || (r = dir_trusted(root, cause)) != 0)
		return r;
	sub = gg_path_join(root, "bin");
	if (sub == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	r = access(sub, F_OK) == 0 ? dir_trusted(sub, cause) : 0;
	free(sub);
	if (r != 0)
		return r;
	if (stat(root, &st) == 0 && (st.st_mode & 077) != 0 && chmod(root, 0700) != 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot make '%s' root-only",
				     root);
	for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		sub = gg_path_join(root, subdirs[i]);
		if (sub == NULL)
			return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		r = make_dir(sub, 0700, cause);
		free(sub);
		if (r != 0)
			return r;
	}
	return 0;
}

/*
 * Write data to a new file of the given mode and rename it over path, then fsync the
 * directory.  shared: several processes may write path at once (a content-addressed
 * blob, or the idle stop's setting and units), so the temporary name is unique
 * ("<path>.tmp-XXXXXX"), the last rename wins whole, and a path already in place
 * counts as written when the rename fails; else it is "<path>.tmp".
 */
static int write_replace(const char *path, const void *data, size_t len, mode_t mode,
			 int shared, char **cause)
{
	char *tmp = NULL, *dir = NULL, *slash;
	struct stat st;
	int fd = -1, r = GG_HELPER_SYSTEM;

	if (asprintf(&tmp, shared ? "%s.tmp-XXXXXX" : "%s.tmp", path) < 0 ||
	    (dir = strdup(path)) == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else
		*slash = '\0';
	if (shared)
		fd = mkostemp(tmp, O_CLOEXEC);
	else
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		gg_fail_errno(cause, r, errno, "cannot create '%s'", tmp);
		if (shared) { /* nothing was made under the template's name: unlink nothing */
			free(tmp);
			tmp = NULL;
		}
		goto out;
	}
	if (shared && fchmod(fd, mode) != 0) {
		gg_fail_errno(cause, r, errno, "cannot set the mode of '%s'", tmp);
		goto out;
	}
	if (gg_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		gg_fail_errno(cause, r, errno, "cannot write '%s'", tmp);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		gg_fail_errno(cause, r, errno, "cannot write '%s'", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0 && !(shared && lstat(path, &st) == 0 && S_ISREG(st.st_mode))) {
		gg_fail_errno(cause, r, errno, "cannot rename '%s' into place", tmp);
		goto out;
	}
	if (shared)
		unlink(tmp); /* still there only when another writer's copy was in place */
	free(tmp);
	tmp = NULL;
	r = gg_fsync_dir(dir, cause);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dir);
	return r;
}

int gg_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 char **cause)
{
	return write_replace(path, data, len, mode, 0, cause);
}

int gg_write_file_shared(const char *path, const void *data, size_t len, mode_t mode,
			 char **cause)
{
	return write_replace(path, data, len, mode, 1, cause);
}

int gg_read_fd(int fd, const char *name, size_t max, struct gg_buf *out, char **cause)
{
	char chunk[65536];
	size_t total = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot read %s", name);
		if (n == 0)
			return 0;
		total += (size_t)n;
		if (total > max)
			return gg_fail(cause, GG_HELPER_REFUSED, "%s is larger than %zu bytes", name, max);
		if (gg_buf_add(out, chunk, (size_t)n) != 0)
			return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory reading %s", name);
	}
}

int gg_read_file(const char *path, size_t max, struct gg_buf *out, char **cause)
{
	char *name = NULL;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open '%s'", path);
	if (asprintf(&name, "'%s'", path) < 0)
		name = NULL;
	r = gg_read_fd(fd, name != NULL ? name : path, max, out, cause);
	free(name);
	close(fd);
	return r;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int gg_remove_tree(const char *path, char **cause)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : gg_fail_errno(cause, GG_HELPER_SYSTEM, errno,
							  "cannot remove '%s'", path);
	/* FTW_DEPTH: children before their directory; FTW_PHYS: never follow links. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot remove '%s'", path);
	return 0;
}

int gg_stage_dir(const char *dest, char **tmp, char **cause)
{
	char *t = NULL;

	if (asprintf(&t, "%s.tmp-XXXXXX", dest) < 0)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (mkdtemp(t) == NULL) {
		int saved = errno;

		free(t);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, saved, "cannot create a directory next to '%s'",
				     dest);
	}
	/* mkdtemp makes it 0700; the release inside a root-only state root may be 0755. */
	chmod(t, 0755);
	*tmp = t;
	return 0;
}

void gg_stage_abort(char *tmp)
{
	if (tmp == NULL)
		return;
	gg_remove_tree(tmp, NULL);
	free(tmp);
}

int gg_stage_commit(char *tmp, const char *dest, char **cause)
{
	char *parent = NULL, *slash;
	int fd, r = GG_HELPER_SYSTEM;

	/* One syncfs makes every file in the staged tree durable before it is visible. */
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0) {
		gg_fail_errno(cause, r, errno, "cannot sync '%s'", tmp);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) != 0) {
		if (errno != EEXIST) {
			gg_fail_errno(cause, r, errno, "cannot rename '%s' to '%s'", tmp, dest);
			goto fail;
		}
		/* dest exists: swap both in one step, then drop the old tree (now at tmp). */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_EXCHANGE) != 0) {
			gg_fail_errno(cause, r, errno, "cannot replace '%s'", dest);
			goto fail;
		}
	} else {
		free(tmp);
		tmp = NULL;
	}
	parent = strdup(dest);
	if (parent == NULL) {
		gg_fail(cause, r, "out of memory");
		goto fail;
	}
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	r = gg_fsync_dir(parent, cause);
	free(parent);
	gg_stage_abort(tmp);
	return r;
fail:
	gg_stage_abort(tmp);
	return r;
}

int gg_disk_full(const char *path, unsigned long long *free_bytes)
{
	struct statvfs sv;
	unsigned long long space;

	if (statvfs(path, &sv) != 0)
		return 0;
	space = (unsigned long long)sv.f_bfree * sv.f_frsize;
	if (free_bytes != NULL)
		*free_bytes = space;
	return space < GG_DISK_FULL_BYTES;
}

void gg_read_boot_id(const char *file, char out[64])
{
	FILE *f = fopen(file, "re");
	size_t n;

	strcpy(out, "unknown");
	if (f == NULL)
		return;
	if (fgets(out, 64, f) == NULL)
		strcpy(out, "unknown");
	fclose(f);
	n = strcspn(out, "\r\n \t");
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "unknown");
}
