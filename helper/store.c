/*
 * store.c: `have` and `recv` over the blob store (see store.h).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "hash.h"
#include "prefetch.h"

/*
 * A blob's written data is handed to the disk every this many bytes, so that the
 * fsync at its end (before it may be renamed into the store) waits for the last
 * stretch only, not for the whole blob while the upload stands still.
 */
#define WRITEBACK_STRIDE (8 * 1024 * 1024)
/*
 * How long recv waits for another upload of the same blob to let go of its partial:
 * the recv of a link that just dropped is still writing and syncing what it got.
 */
#define RECV_LOCK_WAIT_MS 10000

/* The longest seal text. */
#define SEAL_MAX 160

char *gg_store_blob_path(const char *root, const char *sha256)
{
	return gg_root_path(root, GG_DIR_BLOBS, sha256, "");
}

char *gg_store_partial_path(const char *root, const char *sha256)
{
	return gg_root_path(root, GG_DIR_BLOBS, sha256, ".partial");
}

/* Hash the first `len` bytes of fd from its start (a partial file being continued). */
static int hash_prefix(int fd, uint64_t len, struct gg_sha256 *h, const char *path,
		       char **cause)
{
	static char chunk[256 * 1024];
	uint64_t done = 0;
	ssize_t n;

	while (done < len) {
		size_t want = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;

		n = pread(fd, chunk, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, n < 0 ? errno : EIO,
					     "cannot read '%s'", path);
		gg_sha256_update(h, chunk, (size_t)n);
		done += (uint64_t)n;
	}
	return 0;
}

/*
 * A partial file as big as its blob was complete when something stopped the
 * rename: promote it when it verifies.  Returns 1 when the blob is now stored.
 */
static int promote_complete_partial(const char *root, const char *sha256, const char *partial)
{
	char hex[GG_SHA256_HEX_SIZE], *blob;
	int stored = 0;

	if (gg_sha256_file(partial, hex, NULL, NULL) == 0 && strcmp(hex, sha256) == 0) {
		blob = gg_store_blob_path(root, sha256);
		/* Stored once the rename is durable: the seal beside it is written, then the
		 * directory is fsync'd, as recv does. */
		if (blob != NULL && rename(partial, blob) == 0) {
			gg_store_seal(root, sha256);
			*strrchr(blob, '/') = '\0';
			stored = gg_fsync_dir(blob, NULL) == 0;
		}
		free(blob);
	}
	if (!stored)
		unlink(partial);
	return stored;
}

char *gg_store_seal_path(const char *root, const char *sha256)
{
	return gg_root_path(root, GG_DIR_BLOBS, sha256, GG_STORE_SEAL_SUFFIX);
}

/* What a seal holds: the inode's identity and every time the kernel stamps on it. */
static int seal_text(const struct stat *st, char *out, size_t size)
{
	int n = snprintf(out, size, "%ju %o %ju %ju %lld.%09ld %lld.%09ld\n", (uintmax_t)st->st_ino,
			 (unsigned)st->st_mode, (uintmax_t)st->st_nlink, (uintmax_t)st->st_size,
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
			 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);

	return n > 0 && (size_t)n < size ? n : -1;
}

void gg_store_seal(const char *root, const char *sha256)
{
	char *blob = gg_store_blob_path(root, sha256), *seal = gg_store_seal_path(root, sha256);
	char text[SEAL_MAX], *tmp = NULL;
	struct stat st;
	int fd = -1, n;

	if (blob == NULL || seal == NULL || lstat(blob, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (n = seal_text(&st, text, sizeof text)) < 0 || asprintf(&tmp, "%s.tmp", seal) < 0) {
		tmp = NULL;
		goto out;
	}
	/*
	 * Not synced: a seal lost or torn by a power cut only costs one hash of the blob
	 * (it no longer matches).  Written aside and renamed, so it is never half there.
	 */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || gg_write_all(fd, text, (size_t)n) != 0 || close(fd) != 0 ||
	    rename(tmp, seal) != 0)
		unlink(tmp);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(blob);
	free(seal);
}

int gg_store_sealed(const char *root, const char *sha256)
{
	char *blob = gg_store_blob_path(root, sha256), *seal = gg_store_seal_path(root, sha256);
	char text[SEAL_MAX];
	struct gg_buf b = GG_BUF_INIT;
	struct stat st;
	int n, ok = 0;

	if (blob != NULL && seal != NULL && lstat(blob, &st) == 0 && S_ISREG(st.st_mode) &&
	    (n = seal_text(&st, text, sizeof text)) > 0 &&
	    gg_read_file(seal, SEAL_MAX, &b, NULL) == 0)
		ok = b.len == (size_t)n && memcmp(b.data, text, (size_t)n) == 0;
	gg_buf_release(&b);
	free(blob);
	free(seal);
	return ok;
}

/* Remove blob sha256 and its seal: its bytes are not what its name says. */
static void drop_blob(const char *root, const char *sha256)
{
	char *blob = gg_store_blob_path(root, sha256), *seal = gg_store_seal_path(root, sha256);

	if (seal != NULL)
		unlink(seal);
	if (blob != NULL)
		unlink(blob);
	free(blob);
	free(seal);
}

int gg_store_verify(const char *root, const char *sha256, uint64_t size, char **cause)
{
	char *blob, hex[GG_SHA256_HEX_SIZE];
	uint64_t got = 0;
	int r;

	if (gg_store_sealed(root, sha256))
		return 0;
	blob = gg_store_blob_path(root, sha256);
	if (blob == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	r = gg_sha256_file(blob, hex, &got, NULL);
	free(blob);
	if (r != 0)
		return gg_fail(cause, GG_HELPER_REFUSED, "blob '%s' is missing from the store (push again)",
			       sha256);
	if (got == size && strcmp(hex, sha256) == 0)
		return 0;
	/* Damaged (a step wrote to its release's link of it): the next `have` asks for it. */
	drop_blob(root, sha256);
	return gg_fail(cause, GG_HELPER_REFUSED,
		       "blob '%s' is corrupt (%" PRIu64 " bytes, sha256 '%s'); removed, push again",
		       sha256, got, hex);
}

void gg_store_touch(const char *root, const char *sha256)
{
	char *seal = gg_store_seal_path(root, sha256), *blob = gg_store_blob_path(root, sha256);
	struct stat st;

	/*
	 * The seal's mtime, not the blob's: a blob is also a file of the releases linked
	 * to it, and a touch would move its ctime, so their marks and its own seal would
	 * stop matching.  A blob without a seal is touched itself, only when no release
	 * links it.  A blob that cannot be touched is only less protected from a collection.
	 */
	if (seal != NULL && utimensat(AT_FDCWD, seal, NULL, AT_SYMLINK_NOFOLLOW) != 0 &&
	    blob != NULL && lstat(blob, &st) == 0 && st.st_nlink == 1)
		(void)utimensat(AT_FDCWD, blob, NULL, AT_SYMLINK_NOFOLLOW);
	free(seal);
	free(blob);
}

/*
 * How much of blob sha256 (of size bytes) is on the VM: -1 stored (and its mtime
 * refreshed: gg_store_touch), else the offset.
 */
static int64_t blob_offset(const char *root, const char *sha256, uint64_t size)
{
	char *blob = gg_store_blob_path(root, sha256);
	char *partial = gg_store_partial_path(root, sha256);
	struct stat st;
	int64_t offset = 0;

	if (blob == NULL || partial == NULL)
		goto out;
	/*
	 * Present, and its seal matches (or its bytes, hashed again, match its name).  A
	 * blob that does not (a step wrote to it through a release) is dropped here, so
	 * that it is sent again and `recv` does not take it for stored.
	 */
	if (lstat(blob, &st) == 0) {
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
		    gg_store_verify(root, sha256, size, NULL) == 0) {
			/* The push asking counts on it, so a collection must leave it (gc.h). */
			gg_store_touch(root, sha256);
			offset = -1;
			goto out;
		}
		drop_blob(root, sha256);
	}
	if (lstat(partial, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((uint64_t)st.st_size < size)
		offset = st.st_size;
	else if ((uint64_t)st.st_size == size && promote_complete_partial(root, sha256, partial))
		offset = -1;
	else
		unlink(partial);
out:
	free(blob);
	free(partial);
	return offset;
}

int gg_store_have(const char *root, const char *text, size_t len, json_t **result,
		  char **cause)
{
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct gg_buf canonical = GG_BUF_INIT;
	char sha[GG_SHA256_HEX_SIZE], *path = NULL;
	json_t *out = NULL, *missing, *seen = NULL;
	struct stat st;
	size_t i;
	int r;

	*result = NULL;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (gg_manifest_parse(text, len, &m, cause) != 0)
		return gg_fail_wrap(cause, GG_HELPER_REFUSED, "manifest refused");
	r = GG_HELPER_SYSTEM;
	if (gg_manifest_format(&m, &canonical, cause) != 0)
		goto out;
	if (canonical.len != len || memcmp(canonical.data, text, len) != 0) {
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "manifest refused: it is not in canonical form (compact, sorted)");
		goto out;
	}
	if ((r = gg_root_prepare(root, cause)) != 0)
		goto out;
	r = GG_HELPER_SYSTEM;
	gg_sha256_hex(text, len, sha);
	path = gg_store_blob_path(root, sha);
	if (path == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if (lstat(path, &st) == 0)
		gg_store_touch(root, sha);
	else if (gg_write_file_shared(path, text, len, 0600, cause) != 0)
		goto out;
	out = json_object();
	missing = json_array();
	seen = json_object();
	if (out == NULL || missing == NULL || seen == NULL ||
	    json_object_set_new(out, "manifest", json_string(sha)) != 0 ||
	    json_object_set_new(out, "missing", missing) != 0) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	for (i = 0; i < m.count; i++) {
		const struct gg_manifest_entry *e = &m.files[i];
		int64_t offset;

		/* The same content under two paths is one blob. */
		if (json_object_get(seen, e->sha256) != NULL)
			continue;
		json_object_set_new(seen, e->sha256, json_true());
		offset = blob_offset(root, e->sha256, e->size);
		if (offset < 0)
			continue;
		if (json_array_append_new(missing, json_pack("{s:s, s:I, s:I}", "sha256", e->sha256,
							     "size", (json_int_t)e->size,
							     "offset", (json_int_t)offset)) != 0) {
			gg_fail(cause, r, "out of memory");
			goto out;
		}
	}
	*result = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	json_decref(seen);
	free(path);
	gg_buf_release(&canonical);
	gg_manifest_release(&m);
	return r;
}

/* "<sha256>" or "<sha256>.<offset>"; 0 or -1. */
static int parse_entry_name(const char *name, char sha[GG_SHA256_HEX_SIZE], uint64_t *offset,
			    int *resumed)
{
	char *end;

	if (strlen(name) < 64)
		return -1;
	memcpy(sha, name, 64);
	sha[64] = '\0';
	if (!gg_sha256_hex_valid(sha))
		return -1;
	*offset = 0;
	*resumed = 0;
	if (name[64] == '\0')
		return 0;
	if (name[64] != '.' || name[65] < '0' || name[65] > '9')
		return -1;
	errno = 0;
	*offset = strtoull(name + 65, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*resumed = 1;
	return 0;
}

struct recv_state {
	const char *root;
	struct archive *archive;
	struct gg_prefetch *prefetch;
	json_t *stored;
	uint64_t bytes;
};

/* flock(LOCK_EX), waiting up to RECV_LOCK_WAIT_MS; 0 or -1 (errno set). */
static int lock_partial(int fd)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int waited;

	for (waited = 0;; waited += 100) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || waited >= RECV_LOCK_WAIT_MS)
			return -1;
		nanosleep(&pause, NULL);
	}
}

/* Receive one entry's data into its partial file and, when it verifies, the store. */
static int recv_blob(struct recv_state *rs, struct archive_entry *entry, char **cause)
{
	const char *name = archive_entry_pathname(entry);
	char sha[GG_SHA256_HEX_SIZE], got[GG_SHA256_HEX_SIZE];
	char *blob = NULL, *partial = NULL;
	struct gg_sha256 h;
	struct stat st;
	uint64_t offset, size, written = 0;
	const void *data;
	size_t len;
	la_int64_t at;
	off_t flushed;
	int fd = -1, resumed, r = GG_HELPER_REFUSED, ar;

	if (name == NULL || parse_entry_name(name, sha, &offset, &resumed) != 0)
		return gg_fail(cause, r, "upload entry '%s' is not named <sha256> or <sha256>.<offset>",
			       name != NULL ? name : "");
	if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != NULL)
		return gg_fail(cause, r, "upload entry '%s' is not a regular file", name);
	if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0 ||
	    (uint64_t)archive_entry_size(entry) > GG_MANIFEST_MAX_SIZE)
		return gg_fail(cause, r, "upload entry '%s' has no valid size", name);
	size = (uint64_t)archive_entry_size(entry);
	r = GG_HELPER_SYSTEM;
	blob = gg_store_blob_path(rs->root, sha);
	partial = gg_store_partial_path(rs->root, sha);
	if (blob == NULL || partial == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if (lstat(blob, &st) == 0) {
		/* Already stored (another upload won): drain the entry, keep the blob. */
		archive_read_data_skip(rs->archive);
		r = 0;
		goto out;
	}
	fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		gg_fail_errno(cause, r, errno, "cannot create '%s'", partial);
		goto out;
	}
	if (lock_partial(fd) != 0) {
		r = gg_fail(cause, GG_HELPER_BUSY, "another upload of '%s' is in progress", sha);
		close(fd);
		fd = -1;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		gg_fail_errno(cause, r, errno, "cannot stat '%s'", partial);
		goto out;
	}
	gg_sha256_init(&h);
	/*
	 * The client continues from what `have` saw.  The partial may have grown since
	 * (the cut upload's recv was still writing): its bytes past offset are the same
	 * blob's and come again, so cut them off.  Less than offset cannot be continued.
	 */
	if (resumed && (uint64_t)st.st_size < offset) {
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "upload of '%s' continues at offset %" PRIu64 " but the VM holds %jd bytes (ask 'have' again)",
			    sha, offset, (intmax_t)st.st_size);
		goto out;
	}
	if (resumed && (uint64_t)st.st_size > offset && ftruncate(fd, (off_t)offset) != 0) {
		gg_fail_errno(cause, r, errno, "cannot truncate '%s'", partial);
		goto out;
	}
	if (resumed) {
		if ((r = hash_prefix(fd, offset, &h, partial, cause)) != 0)
			goto out;
		r = GG_HELPER_SYSTEM;
	} else if (ftruncate(fd, 0) != 0) {
		gg_fail_errno(cause, r, errno, "cannot truncate '%s'", partial);
		goto out;
	}
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		gg_fail_errno(cause, r, errno, "cannot seek '%s'", partial);
		goto out;
	}
	flushed = (off_t)offset;
	for (;;) {
		ar = archive_read_data_block(rs->archive, &data, &len, &at);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			/* Cut off or corrupt: keep what arrived, so the next upload continues. */
			fsync(fd);
			r = gg_fail(cause, GG_HELPER_REFUSED,
				    "upload of '%s' stopped after %" PRIu64 " of %" PRIu64 " bytes (kept for resume): %s",
				    sha, offset + written, offset + size,
				    archive_error_string(rs->archive));
			goto out;
		}
		if ((uint64_t)at != written) {
			r = gg_fail(cause, GG_HELPER_REFUSED, "upload entry '%s' is sparse", name);
			unlink(partial);
			goto out;
		}
		gg_sha256_update(&h, data, len);
		if (gg_write_all(fd, data, len) != 0) {
			int saved = errno;

			/* Disk full or I/O error: take the partial away, the store stays as it was. */
			unlink(partial);
			gg_fail_errno(cause, r, saved, "cannot write blob '%s'", sha);
			goto out;
		}
		written += len;
		rs->bytes += len;
		if ((off_t)(offset + written) - flushed >= WRITEBACK_STRIDE) {
			/* Only starts the write-out; an error here shows up at the fsync. */
			(void)sync_file_range(fd, flushed, (off_t)(offset + written) - flushed,
					      SYNC_FILE_RANGE_WRITE);
			flushed = (off_t)(offset + written);
		}
	}
	gg_sha256_final_hex(&h, got);
	if (written != size || strcmp(got, sha) != 0) {
		unlink(partial);
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "blob '%s' refused: its content has sha256 '%s' (%" PRIu64 " bytes)", sha,
			    got, offset + written);
		goto out;
	}
	if (fsync(fd) != 0) {
		int saved = errno;

		unlink(partial);
		gg_fail_errno(cause, r, saved, "cannot write blob '%s'", sha);
		goto out;
	}
	if (rename(partial, blob) != 0) {
		gg_fail_errno(cause, r, errno, "cannot store blob '%s'", sha);
		goto out;
	}
	gg_store_seal(rs->root, sha);
	if (json_array_append_new(rs->stored, json_string(sha)) != 0) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(blob);
	free(partial);
	return r;
}

/* libarchive's read callback: the next buffer the prefetch thread read from stdin. */
static la_ssize_t recv_read(struct archive *a, void *ctx, const void **data)
{
	struct recv_state *rs = ctx;
	ssize_t n = gg_prefetch_next(rs->prefetch, data);

	if (n < 0)
		archive_set_error(a, errno, "cannot read the upload: %s", strerror(errno));
	return n;
}

int gg_store_recv(const char *root, int fd, json_t **result, char **cause)
{
	struct recv_state rs = { root, NULL, NULL, NULL, 0 };
	struct archive_entry *entry;
	char *dir = NULL;
	int r, ar;

	*result = NULL;
	if ((r = gg_root_prepare(root, cause)) != 0)
		return r;
	r = GG_HELPER_SYSTEM;
	rs.archive = archive_read_new();
	rs.stored = json_array();
	dir = gg_path_join(root, GG_DIR_BLOBS);
	if (rs.archive == NULL || rs.stored == NULL || dir == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	/* Only tar and zstd: the rest of libarchive stays out of the static binary. */
	archive_read_support_format_tar(rs.archive);
	archive_read_support_filter_zstd(rs.archive);
	if ((r = gg_prefetch_start(fd, &rs.prefetch, cause)) != 0)
		goto out;
	r = GG_HELPER_SYSTEM;
	if (archive_read_open(rs.archive, &rs, NULL, recv_read, NULL) != ARCHIVE_OK) {
		r = gg_fail(cause, GG_HELPER_REFUSED, "cannot read the upload: %s",
			    archive_error_string(rs.archive));
		goto out;
	}
	for (;;) {
		ar = archive_read_next_header(rs.archive, &entry);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r = gg_fail(cause, GG_HELPER_REFUSED, "upload is not a valid tar+zstd stream: %s",
				    archive_error_string(rs.archive));
			goto out;
		}
		if ((r = recv_blob(&rs, entry, cause)) != 0)
			goto out;
	}
	if ((r = gg_fsync_dir(dir, cause)) != 0)
		goto out;
	*result = json_pack("{s:O, s:I}", "stored", rs.stored, "bytes", (json_int_t)rs.bytes);
	r = *result != NULL ? 0 : gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
out:
	if (rs.archive != NULL)
		archive_read_free(rs.archive);
	gg_prefetch_stop(rs.prefetch);
	json_decref(rs.stored);
	free(dir);
	return r;
}

int gg_store_load_manifest(const char *root, const char *sha256, struct gg_manifest *m,
			   char **cause)
{
	struct gg_buf text = GG_BUF_INIT;
	char got[GG_SHA256_HEX_SIZE], *path = NULL;
	int r;

	if (!gg_sha256_hex_valid(sha256))
		return gg_fail(cause, GG_HELPER_USAGE, "'%s' is not a sha256", sha256);
	path = gg_store_blob_path(root, sha256);
	if (path == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (access(path, F_OK) != 0) {
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "no manifest '%s' on this VM (send it with 'have' first)", sha256);
		goto out;
	}
	if ((r = gg_read_file(path, GG_STORE_MAX_MANIFEST, &text, cause)) != 0)
		goto out;
	gg_sha256_hex(text.data, text.len, got);
	if (strcmp(got, sha256) != 0) {
		unlink(path);
		r = gg_fail(cause, GG_HELPER_REFUSED,
			    "stored manifest '%s' is corrupt (removed; push again)", sha256);
		goto out;
	}
	if (gg_manifest_parse(text.data, text.len, m, cause) != 0)
		r = gg_fail_wrap(cause, GG_HELPER_REFUSED, "manifest '%s' refused", sha256);
out:
	free(path);
	gg_buf_release(&text);
	return r;
}
