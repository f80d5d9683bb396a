/*
 * pack.c: manifests with a stat-keyed hash cache, and the tar+zstd upload stream
 * (see pack.h).
 */
#include "pack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <zstd.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "hash.h"
#include "xdg.h"
#include "xmalloc.h"

/* Read size while streaming; with libarchive's and zstd's own buffers, a few MiB. */
#define READ_SIZE (1024 * 1024)
/* libarchive hands the compressed stream to the SSH channel in blocks this large. */
#define BLOCK_SIZE (256 * 1024)
#define CACHE_FORMAT 1
/*
 * Whether the stream is worth compressing is judged on a sample this large from the
 * middle of each blob, compressed at zstd's level 1 (see stream_compresses).
 */
#define SAMPLE_SIZE (128 * 1024)
#define SAMPLE_LEVEL 1

char *pack_cache_path(void)
{
	return xdg_path(XDG_CACHE, "hashes.json", 0);
}

/*
 * The hash cache: {"format":1,"files":{"/abs/path":{"sha256":..,"size":..,
 * "mtime_ns":..,"ino":..,"dev":..}}}.  A damaged cache is ignored, not an error.
 */
static json_t *cache_load(void)
{
	char *path = pack_cache_path();
	json_t *root = json_load_file(path, 0, NULL), *files;

	free(path);
	if (root == NULL || !json_is_object(root) ||
	    json_integer_value(json_object_get(root, "format")) != CACHE_FORMAT ||
	    !json_is_object(json_object_get(root, "files"))) {
		json_decref(root);
		root = json_pack("{s:i, s:{}}", "format", CACHE_FORMAT, "files");
	}
	files = json_object_get(root, "files");
	json_incref(files);
	json_decref(root);
	return files;
}

/* Replace the cache file atomically; failing to save it only costs time later. */
static void cache_save(json_t *files)
{
	char *path = xdg_path(XDG_CACHE, "hashes.json", 1), *tmp;
	json_t *root = json_pack("{s:i, s:O}", "format", CACHE_FORMAT, "files", files);

	xasprintf(&tmp, "%s.%ld.tmp", path, (long)getpid());
	if (root != NULL && json_dump_file(root, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
	unlink(tmp);
	json_decref(root);
	free(tmp);
	free(path);
}

static long long mtime_ns(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* The cached sha256 of abs when its stat still matches, else NULL. */
static const char *cache_lookup(json_t *files, const char *abs, const struct stat *st)
{
	json_t *e = json_object_get(files, abs);
	const char *sha;

	if (!json_is_object(e))
		return NULL;
	sha = json_string_value(json_object_get(e, "sha256"));
	if (sha == NULL || !gg_sha256_hex_valid(sha) ||
	    json_integer_value(json_object_get(e, "size")) != (json_int_t)st->st_size ||
	    json_integer_value(json_object_get(e, "mtime_ns")) != mtime_ns(st) ||
	    json_integer_value(json_object_get(e, "ino")) != (json_int_t)st->st_ino ||
	    json_integer_value(json_object_get(e, "dev")) != (json_int_t)st->st_dev)
		return NULL;
	return sha;
}

static void cache_store(json_t *files, const char *abs, const struct stat *st, const char *sha)
{
	/*
	 * A file changed within the same clock tick as its hash could change again
	 * without its mtime moving (git's "racy" case): an entry changed less than a
	 * second before now (far coarser than any file system's mtime tick) is not kept.
	 */
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (mtime_ns(st) >= (long long)now.tv_sec * 1000000000LL + now.tv_nsec - 1000000000LL) {
		json_object_del(files, abs);
		return;
	}
	json_object_set_new(files, abs,
			    json_pack("{s:s, s:I, s:I, s:I, s:I}", "sha256", sha,
				      "size", (json_int_t)st->st_size,
				      "mtime_ns", (json_int_t)mtime_ns(st),
				      "ino", (json_int_t)st->st_ino, "dev", (json_int_t)st->st_dev));
}

struct walk {
	struct gg_manifest *m;
	struct pack_stats *stats;
	json_t *cache;
	struct gg_buf abs;  /* absolute path of the current entry */
	size_t root_len;    /* where the relative part of abs starts */
};

static int walk_dir(struct walk *w, char **cause)
{
	DIR *d = opendir(w->abs.data);
	struct dirent *de;
	size_t len = w->abs.len;
	int r = 0;

	if (d == NULL)
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read the payload directory '%s'",
				     w->abs.data);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char sha[GG_SHA256_HEX_SIZE];
		const char *cached;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		w->abs.len = len;
		w->abs.data[len] = '\0';
		if (gg_buf_addch(&w->abs, '/') != 0 || gg_buf_addstr(&w->abs, de->d_name) != 0) {
			r = gg_fail(cause, GG_EXIT_ERROR, "out of memory");
			break;
		}
		if (stat(w->abs.data, &st) != 0) {
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", w->abs.data);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if ((r = walk_dir(w, cause)) != 0)
				break;
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			r = gg_fail(cause, GG_EXIT_ERROR, "'%s' is not a regular file or directory",
				    w->abs.data);
			break;
		}
		cached = cache_lookup(w->cache, w->abs.data, &st);
		if (cached != NULL) {
			memcpy(sha, cached, GG_SHA256_HEX_SIZE);
		} else {
			uint64_t size;

			if (gg_sha256_file(w->abs.data, sha, &size, cause) != 0) {
				r = GG_EXIT_ERROR;
				break;
			}
			w->stats->hashed++;
			if (size == (uint64_t)st.st_size)
				cache_store(w->cache, w->abs.data, &st, sha);
			st.st_size = (off_t)size;
		}
		if (gg_manifest_add(w->m, w->abs.data + w->root_len, st.st_mode, (uint64_t)st.st_size,
				    sha, cause) != 0) {
			r = gg_fail_wrap(cause, GG_EXIT_ERROR, "payload");
			break;
		}
		w->stats->files++;
		w->stats->bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	w->abs.len = len;
	w->abs.data[len] = '\0';
	return r;
}

int pack_manifest(const char *dir, struct gg_manifest *m, struct pack_stats *stats,
		  char **cause)
{
	struct walk w = { m, stats, NULL, GG_BUF_INIT, 0 };
	char *real = realpath(dir, NULL);
	struct stat st;
	int r;

	memset(stats, 0, sizeof *stats);
	if (real == NULL || stat(real, &st) != 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot open the payload directory '%s'", dir);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = gg_fail(cause, GG_EXIT_ERROR, "the payload '%s' is not a directory", dir);
		goto out;
	}
	w.cache = cache_load();
	gg_buf_addstr(&w.abs, real);
	w.root_len = w.abs.len + 1;
	if ((r = walk_dir(&w, cause)) != 0)
		goto out;
	if (m->count == 0) {
		r = gg_fail(cause, GG_EXIT_ERROR, "the payload directory '%s' holds no files", dir);
		goto out;
	}
	if (gg_manifest_sort(m, cause) != 0) {
		r = GG_EXIT_ERROR;
		goto out;
	}
	if (stats->hashed > 0)
		cache_save(w.cache);
	r = 0;
out:
	json_decref(w.cache);
	gg_buf_release(&w.abs);
	free(real);
	return r;
}

/* What libarchive's write callback needs to reach the caller's sink. */
struct sink {
	pack_write_fn write;
	void *ctx;
	char *cause;
	int code;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct sink *s = data;

	(void)a;
	if (s->code != 0)
		return -1;
	s->code = s->write(s->ctx, buf, len, &s->cause);
	return s->code == 0 ? (la_ssize_t)len : -1;
}

static const struct gg_manifest_entry *find_blob(const struct gg_manifest *m, const char *sha)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (strcmp(m->files[i].sha256, sha) == 0)
			return &m->files[i];
	return NULL;
}

/*
 * Would zstd make the stream at least a tenth smaller?  Most of a GPU payload is .deb
 * files and wheels, compressed already: zstd then costs about 0.6 s of CPU a GiB on
 * this side and 0.2 s on the VM's to save nothing, and on a fast link that CPU is the
 * limit.  So a sample from the middle of each blob to send is compressed at zstd's
 * fastest level and the blob's share estimated from it, weighted by the bytes still to
 * send.  A file that cannot be read counts as compressible; sending it reports why.
 */
static int stream_compresses(const char *dir, const struct gg_manifest_entry **entries,
			     const struct pack_blob *blobs, size_t count, char *buf)
{
	size_t cap = ZSTD_compressBound(SAMPLE_SIZE), i, z;
	char *out = xmalloc(cap), *path;
	double raw = 0, packed = 0;
	ssize_t n;
	int fd;

	for (i = 0; i < count; i++) {
		uint64_t left = blobs[i].size - blobs[i].offset;
		uint64_t at = blobs[i].offset + (left > SAMPLE_SIZE ? (left - SAMPLE_SIZE) / 2 : 0);

		if (left == 0)
			continue;
		xasprintf(&path, "%s/%s", dir, entries[i]->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		n = fd >= 0 ? pread(fd, buf, left < SAMPLE_SIZE ? (size_t)left : SAMPLE_SIZE, (off_t)at) : -1;
		if (fd >= 0)
			close(fd);
		z = n > 0 ? ZSTD_compress(out, cap, buf, (size_t)n, SAMPLE_LEVEL) : 0;
		raw += (double)left;
		/* No sample (unreadable) counts as packing to nothing: it votes for zstd. */
		if (n > 0 && !ZSTD_isError(z))
			packed += (double)left * (double)z / (double)n;
	}
	free(out);
	return packed < 0.9 * raw;
}

/* Append one blob (from its offset) as an archive entry. */
static int add_blob(struct archive *a, const char *dir, const struct gg_manifest_entry *e,
		    const struct pack_blob *b, char *buf, uint64_t *done, uint64_t total,
		    pack_progress_fn progress, void *ctx, char **cause)
{
	struct archive_entry *entry = NULL;
	char *path = NULL, name[GG_SHA256_HEX_SIZE + 24];
	uint64_t left = b->size - b->offset;
	struct stat st;
	int fd, r;

	xasprintf(&path, "%s/%s", dir, e->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot open '%s'", path);
		goto out;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != b->size || b->offset > b->size ||
	    lseek(fd, (off_t)b->offset, SEEK_SET) < 0) {
		r = gg_fail(cause, GG_EXIT_ERROR, "'%s' changed while pushing: run push again", path);
		goto out;
	}
	if (b->offset > 0)
		snprintf(name, sizeof name, "%s.%llu", b->sha256, (unsigned long long)b->offset);
	else
		snprintf(name, sizeof name, "%s", b->sha256);
	entry = archive_entry_new();
	archive_entry_set_pathname(entry, name);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0600);
	archive_entry_set_size(entry, (la_int64_t)left);
	if (archive_write_header(a, entry) != ARCHIVE_OK) {
		r = GG_EXIT_ERROR;
		goto out;
	}
	while (left > 0) {
		ssize_t n = read(fd, buf, left < READ_SIZE ? (size_t)left : READ_SIZE);

		if (n <= 0) {
			r = n < 0 ? gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", path)
				  : gg_fail(cause, GG_EXIT_ERROR, "'%s' shrank while pushing: run push again",
					    path);
			goto out;
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			r = GG_EXIT_ERROR;
			goto out;
		}
		left -= (uint64_t)n;
		*done += (uint64_t)n;
		if (progress != NULL)
			progress(ctx, *done, total);
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	archive_entry_free(entry);
	free(path);
	return r;
}

int pack_stream(const char *dir, const struct gg_manifest *m, const struct pack_blob *blobs,
		size_t count, pack_write_fn write, pack_progress_fn progress, void *ctx,
		char **cause)
{
	struct sink sink = { write, ctx, NULL, 0 };
	const struct gg_manifest_entry **entries = xcalloc(count + 1, sizeof *entries);
	struct archive *a = archive_write_new();
	char *buf = xmalloc(READ_SIZE);
	uint64_t total = 0, done = 0;
	size_t i;
	int r = GG_EXIT_ERROR;

	for (i = 0; i < count; i++) {
		entries[i] = find_blob(m, blobs[i].sha256);
		if (entries[i] == NULL) {
			r = gg_fail(cause, GG_EXIT_REMOTE, "the VM asked for blob '%s', which is not in "
				    "the payload", blobs[i].sha256);
			goto out;
		}
		total += blobs[i].size - blobs[i].offset;
	}
	if (a == NULL ||
	    (stream_compresses(dir, entries, blobs, count, buf) &&
	     archive_write_add_filter_zstd(a) != ARCHIVE_OK) ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, BLOCK_SIZE) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
		goto fail;
	for (i = 0; i < count; i++)
		if ((r = add_blob(a, dir, entries[i], &blobs[i], buf, &done, total, progress, ctx,
				  cause)) != 0)
			goto fail;
	if (archive_write_close(a) != ARCHIVE_OK) {
		r = GG_EXIT_ERROR;
		goto fail;
	}
	r = 0;
	goto out;
fail:
	/* The sink's error (the link broke) says more than libarchive's echo of it. */
	if (sink.code != 0)
		r = gg_fail(cause, sink.code, "%s", sink.cause != NULL ? sink.cause : "upload failed");
	else if (cause != NULL && *cause == NULL)
		r = gg_fail(cause, GG_EXIT_ERROR, "cannot write the upload stream: %s",
			    a != NULL ? archive_error_string(a) : "out of memory");
out:
	if (a != NULL)
		archive_write_free(a);
	free(sink.cause);
	free(entries);
	free(buf);
	return r;
}

/* The recipe shipped with gcloud-gpu: the source tree's, or the installed one. */
char *pack_default_dir(void)
{
	static const char *const candidates[] = {
		"../../payloads",                  /* build/plugin/gcloud-gpu */
		"../share/gcloud-gpu/payloads",    /* bin/gcloud-gpu */
	};
	char self[PATH_MAX], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	size_t i;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		*slash = '\0';
		for (i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
			xasprintf(&path, "%s/%s/steps", self, candidates[i]);
			if (access(path, R_OK) == 0) {
				path[strlen(path) - strlen("/steps")] = '\0';
				return path;
			}
			free(path);
		}
	}
	return xstrdup("payloads");
}
