/*
 * unpack.c: checking each entry of an untrusted archive, then letting libarchive's
 * write-disk put it into a staging directory (see unpack.h).
 */
#include "unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "error.h"
#include "fsutil.h"
#include "manifest.h"
#include "protocol.h"

#define UNPACK_FLAGS (ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | \
		      ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
		      ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Drop leading "./" and trailing "/" in place; the result may be empty (the root). */
static char *normalize(char *path)
{
	size_t len;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (path[0] == '/' && path[1] == '/')
		path++;
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if (strcmp(path, ".") == 0)
		path[0] = '\0';
	return path;
}

/*
 * A symlink target, read from the link's own directory, must stay inside the tree:
 * its ".." components all come first (they climb real directories, which write-disk
 * never creates through a symlink) and never above the top.
 */
static int symlink_stays_inside(const char *path, const char *target)
{
	const char *p, *start;
	long depth = 0;
	size_t len;
	int named = 0;

	if (target[0] == '\0' || target[0] == '/')
		return 0;
	for (p = path; *p != '\0'; p++)
		if (*p == '/')
			depth++;
	for (start = target;; start = p + 1) {
		p = strchr(start, '/');
		len = p != NULL ? (size_t)(p - start) : strlen(start);
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			/*
			 * Only leading "..": after a name, ".." climbs from wherever that
			 * name leads, and a name can be a symlink ("a/s" -> ".." makes
			 * "a/t" -> "s/../.." leave the tree although it counts as inside).
			 */
			if (named || --depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && start[0] == '.')) {
			depth++;
			named = 1;
		}
		if (p == NULL)
			return 1;
	}
}

/* A hard link's target: already extracted here, a regular file, reached through no symlink. */
static int hardlink_target_ok(const char *target)
{
	char prefix[GG_MANIFEST_MAX_PATH + 1];
	const char *p;
	struct stat st;

	for (p = strchr(target, '/'); p != NULL; p = strchr(p + 1, '/')) {
		memcpy(prefix, target, (size_t)(p - target));
		prefix[p - target] = '\0';
		if (lstat(prefix, &st) != 0 || !S_ISDIR(st.st_mode))
			return 0;
	}
	return lstat(target, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Check one entry and rewrite its names to their normal form.  Returns 0 to
 * extract, 1 to skip (the archive's root directory), or GG_HELPER_REFUSED.
 */
static int check_entry(struct archive_entry *entry, char **cause)
{
	const char *raw = archive_entry_pathname(entry);
	char *copy = NULL, *path, *link_copy = NULL, *target;
	mode_t type = archive_entry_filetype(entry);
	int r = GG_HELPER_REFUSED;

	if (raw == NULL)
		return gg_fail(cause, r, "refused an entry without a name");
	copy = strdup(raw);
	if (copy == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	path = normalize(copy);
	if (path[0] == '\0' && type == AE_IFDIR) {
		r = 1;
		goto out;
	}
	if (path[0] == '/') {
		gg_fail(cause, r, "refused entry '%s': absolute path", raw);
		goto out;
	}
	if (gg_manifest_path_check(path, cause) != 0) {
		gg_fail_wrap(cause, r, "refused entry '%s'", raw);
		goto out;
	}
	/* A hard link entry may carry no file type of its own; its target is checked below. */
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
	    !(type == 0 && archive_entry_hardlink(entry) != NULL)) {
		gg_fail(cause, r, "refused entry '%s': device node, fifo or socket", raw);
		goto out;
	}
	if ((archive_entry_mode(entry) & (S_ISUID | S_ISGID)) != 0) {
		gg_fail(cause, r, "refused entry '%s': set-uid or set-gid", raw);
		goto out;
	}
	if (type == AE_IFLNK &&
	    !symlink_stays_inside(path, archive_entry_symlink(entry) != NULL ?
				  archive_entry_symlink(entry) : "")) {
		gg_fail(cause, r, "refused entry '%s': symlink points outside the tree", raw);
		goto out;
	}
	if (archive_entry_hardlink(entry) != NULL) {
		link_copy = strdup(archive_entry_hardlink(entry));
		if (link_copy == NULL) {
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			goto out;
		}
		target = normalize(link_copy);
		if (target[0] == '/' || gg_manifest_path_check(target, NULL) != 0 ||
		    !hardlink_target_ok(target)) {
			gg_fail(cause, r, "refused entry '%s': hard link to '%s' outside the tree",
				raw, archive_entry_hardlink(entry));
			goto out;
		}
		archive_entry_set_hardlink(entry, target);
	}
	archive_entry_set_pathname(entry, path);
	r = 0;
out:
	free(copy);
	free(link_copy);
	return r;
}

/* Copy one entry's data from the reader to the disk writer. */
static int copy_data(struct archive *in, struct archive *out, const char *name, char **cause)
{
	const void *data;
	size_t len;
	la_int64_t offset;
	int ar;

	for (;;) {
		ar = archive_read_data_block(in, &data, &len, &offset);
		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return gg_fail(cause, GG_HELPER_REFUSED, "archive is corrupt at '%s': %s", name,
				       archive_error_string(in));
		if (archive_write_data_block(out, data, len, offset) != ARCHIVE_OK)
			return gg_fail(cause, GG_HELPER_SYSTEM, "cannot write '%s': %s", name,
				       archive_error_string(out));
	}
}

/* Extract every entry into the current directory (the staging directory). */
static int extract_all(struct archive *in, struct archive *out, char **cause)
{
	struct archive_entry *entry;
	int ar, r;

	for (;;) {
		ar = archive_read_next_header(in, &entry);
		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return gg_fail(cause, GG_HELPER_REFUSED, "archive is corrupt: %s",
				       archive_error_string(in));
		r = check_entry(entry, cause);
		if (r == 1)
			continue;
		if (r != 0)
			return r;
		if (archive_write_header(out, entry) != ARCHIVE_OK)
			return gg_fail(cause, archive_errno(out) == ENOSPC || archive_errno(out) == EIO ?
				       GG_HELPER_SYSTEM : GG_HELPER_REFUSED,
				       "refused entry '%s': %s", archive_entry_pathname(entry),
				       archive_error_string(out));
		if (archive_entry_size(entry) > 0 &&
		    (r = copy_data(in, out, archive_entry_pathname(entry), cause)) != 0)
			return r;
		if (archive_write_finish_entry(out) != ARCHIVE_OK)
			return gg_fail(cause, GG_HELPER_SYSTEM, "cannot finish '%s': %s",
				       archive_entry_pathname(entry), archive_error_string(out));
	}
}

int gg_unpack(const char *archive, const char *dest, char **cause)
{
	struct archive *in = NULL, *out = NULL;
	char *tmp = NULL;
	int cwd = -1, r = GG_HELPER_SYSTEM;

	in = archive_read_new();
	out = archive_write_disk_new();
	if (in == NULL || out == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(in);
	archive_read_support_filter_zstd(in);
	/* No archive_write_disk_set_standard_lookup: that would need NSS. */
	archive_write_disk_set_options(out, UNPACK_FLAGS);
	if (archive_read_open_filename(in, archive, 1024 * 1024) != ARCHIVE_OK) {
		r = gg_fail(cause, GG_HELPER_REFUSED, "cannot read archive '%s': %s", archive,
			    archive_error_string(in));
		goto out;
	}
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0) {
		gg_fail_errno(cause, r, errno, "cannot open the current directory");
		goto out;
	}
	if ((r = gg_stage_dir(dest, &tmp, cause)) != 0)
		goto out;
	/* write-disk resolves names against the cwd: work inside the staging directory. */
	if (chdir(tmp) != 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot enter '%s'", tmp);
		goto out;
	}
	r = extract_all(in, out, cause);
	if (r == 0 && archive_write_close(out) != ARCHIVE_OK)
		r = gg_fail(cause, GG_HELPER_SYSTEM, "cannot finish extraction: %s",
			    archive_error_string(out));
	if (fchdir(cwd) != 0 && r == 0)
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot return to the directory");
	if (r == 0) {
		r = gg_stage_commit(tmp, dest, cause);
		tmp = NULL;
	}
out:
	if (r != 0 && cwd >= 0 && fchdir(cwd) != 0)
		r = GG_HELPER_SYSTEM;
	gg_stage_abort(tmp);
	if (cwd >= 0)
		close(cwd);
	if (in != NULL)
		archive_read_free(in);
	if (out != NULL)
		archive_write_free(out);
	return r;
}
