/*
 * test-pack.c: the CLI's payload packer (plugin/pack.h): a manifest from a directory,
 * the stat-keyed hash cache (a hit when size, mtime and inode are as cached, a miss
 * when any of them moved), and the upload stream's entry naming, `<sha256>` for a
 * whole blob and `<sha256>.<offset>` for the rest of one, read back with libarchive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "cli.h"
#include "hash.h"
#include "manifest.h"
#include "pack.h"
#include "xmalloc.h"

struct fixture {
	char dir[64];        /* scratch: payload/ and cache/ */
	char payload[96];
};

static char *path_in(const struct fixture *f, const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", f->payload, name);
	return p;
}

/* Write name under the payload with mode, and date it an hour back (not "racy"). */
static void put_file(const struct fixture *f, const char *name, const char *text, mode_t mode,
		     time_t age)
{
	char *p = path_in(f, name);
	struct timespec times[2];
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(p, mode), 0);
	times[0].tv_sec = times[1].tv_sec = time(NULL) - age;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
	free(p);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *cache;

	snprintf(f->dir, sizeof f->dir, "/tmp/gg-test-pack.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->payload, sizeof f->payload, "%s/payload", f->dir);
	assert_int_equal(mkdir(f->payload, 0700), 0);
	xasprintf(&cache, "%s/cache", f->dir);
	setenv("XDG_CACHE_HOME", cache, 1);
	free(cache);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd;

	xasprintf(&cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(cmd);
	free(f);
	return 0;
}

static void sha_of(const char *text, char hex[GG_SHA256_HEX_SIZE])
{
	gg_sha256_hex(text, strlen(text), hex);
}

static void test_manifest_from_directory(void **state)
{
	struct fixture *f = *state;
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct pack_stats stats;
	char *p, *cause = NULL, hex[GG_SHA256_HEX_SIZE];

	p = path_in(f, "steps");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = path_in(f, "data");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	put_file(f, "steps/10-a.sh", "#!/bin/sh\necho a\n", 0755, 3600);
	put_file(f, "data/notes.txt", "notes\n", 0644, 3600);
	put_file(f, "Dockerfile", "FROM scratch\n", 0600, 3600);

	assert_int_equal(pack_manifest(f->payload, &m, &stats, &cause), 0);
	assert_null(cause);
	assert_int_equal(stats.files, 3);
	assert_int_equal(stats.hashed, 3);
	assert_int_equal(stats.bytes, strlen("#!/bin/sh\necho a\n") + strlen("notes\n") +
			 strlen("FROM scratch\n"));
	/* Sorted by path; modes only 0644 or 0755 (an owner-only file is 0644). */
	assert_int_equal(m.count, 3);
	assert_string_equal(m.files[0].path, "Dockerfile");
	assert_int_equal(m.files[0].mode, 0644);
	assert_string_equal(m.files[1].path, "data/notes.txt");
	assert_string_equal(m.files[2].path, "steps/10-a.sh");
	assert_int_equal(m.files[2].mode, 0755);
	assert_int_equal(m.files[2].size, strlen("#!/bin/sh\necho a\n"));
	sha_of("notes\n", hex);
	assert_string_equal(m.files[1].sha256, hex);
	gg_manifest_release(&m);

	/* An empty or missing directory is refused with its name. */
	assert_int_equal(pack_manifest("/nonexistent/payload", &m, &stats, &cause), GG_EXIT_ERROR);
	assert_non_null(strstr(cause, "'/nonexistent/payload'"));
	free(cause);
	gg_manifest_release(&m);
}

/* Manifest the payload and say how many files were read and hashed. */
static size_t hashed(const struct fixture *f, struct gg_manifest *m)
{
	struct pack_stats stats;
	char *cause = NULL;

	gg_manifest_release(m);
	*m = (struct gg_manifest)GG_MANIFEST_INIT;
	assert_int_equal(pack_manifest(f->payload, m, &stats, &cause), 0);
	assert_null(cause);
	return stats.hashed;
}

static void test_hash_cache(void **state)
{
	struct fixture *f = *state;
	struct gg_manifest m = GG_MANIFEST_INIT;
	char hex[GG_SHA256_HEX_SIZE], *p, *q, *cache;
	struct timespec times[2];
	struct stat before, after;

	put_file(f, "a", "alpha\n", 0644, 3600);
	put_file(f, "b", "bravo\n", 0644, 3600);
	assert_int_equal(hashed(f, &m), 2);
	cache = pack_cache_path();
	assert_int_equal(access(cache, R_OK), 0);
	free(cache);
	/* Nothing moved: every sha256 comes from the cache. */
	assert_int_equal(hashed(f, &m), 0);

	/* Size: a changed file with a new size is read again, and its new sha256 shows. */
	put_file(f, "a", "alpha, longer\n", 0644, 3600);
	assert_int_equal(hashed(f, &m), 1);
	sha_of("alpha, longer\n", hex);
	assert_string_equal(m.files[0].sha256, hex);
	assert_int_equal(hashed(f, &m), 0);

	/* Mtime alone: same bytes, another time: read again. */
	p = path_in(f, "b");
	times[0].tv_sec = times[1].tv_sec = time(NULL) - 7200;
	times[0].tv_nsec = times[1].tv_nsec = 5;
	assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
	assert_int_equal(hashed(f, &m), 1);
	assert_int_equal(hashed(f, &m), 0);

	/* Inode alone: same bytes, size and mtime in a new file renamed over it. */
	assert_int_equal(stat(p, &before), 0);
	q = path_in(f, "b.new");
	{
		FILE *fp = fopen(q, "w");

		assert_non_null(fp);
		fputs("bravo\n", fp);
		fclose(fp);
	}
	assert_int_equal(utimensat(AT_FDCWD, q, times, 0), 0);
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(stat(p, &after), 0);
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(after.st_mtim.tv_nsec, 5);
	assert_int_equal(hashed(f, &m), 1);
	sha_of("bravo\n", hex);
	assert_string_equal(m.files[1].sha256, hex);

	/* A file changed within the last second is not cached (git's racy case). */
	put_file(f, "a", "alpha, just now\n", 0644, 0);
	assert_int_equal(hashed(f, &m), 1);
	assert_int_equal(hashed(f, &m), 1);

	/* A damaged cache only costs time. */
	cache = pack_cache_path();
	{
		FILE *fp = fopen(cache, "w");

		assert_non_null(fp);
		fputs("{not json", fp);
		fclose(fp);
	}
	assert_int_equal(hashed(f, &m), 2);
	free(cache);
	free(p);
	free(q);
	gg_manifest_release(&m);
}

static int to_buf(void *ctx, const void *data, size_t len, char **cause)
{
	(void)cause;
	return gg_buf_add(ctx, data, len) == 0 ? 0 : GG_EXIT_ERROR;
}

static void test_stream_entry_names(void **state)
{
	struct fixture *f = *state;
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct pack_stats stats;
	struct pack_blob blobs[2];
	struct gg_buf out = GG_BUF_INIT, name = GG_BUF_INIT;
	struct archive *a;
	struct archive_entry *e;
	char *cause = NULL, data[64];
	la_ssize_t n;

	put_file(f, "one", "0123456789", 0644, 3600);
	put_file(f, "two", "abcdefghijklmnopqrstuvwxyz", 0644, 3600);
	assert_int_equal(pack_manifest(f->payload, &m, &stats, &cause), 0);
	memset(blobs, 0, sizeof blobs);
	memcpy(blobs[0].sha256, m.files[0].sha256, GG_SHA256_HEX_SIZE);
	blobs[0].size = 10;
	memcpy(blobs[1].sha256, m.files[1].sha256, GG_SHA256_HEX_SIZE);
	blobs[1].size = 26;
	blobs[1].offset = 20;
	assert_int_equal(pack_stream(f->payload, &m, blobs, 2, to_buf, NULL, &out, &cause), 0);
	assert_null(cause);

	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_zstd(a);
	assert_int_equal(archive_read_open_memory(a, out.data, out.len), ARCHIVE_OK);
	/* Ten and six bytes: zstd would make them bigger, so the tar goes as it is. */
	assert_int_equal(archive_filter_code(a, 0), ARCHIVE_FILTER_NONE);

	/* A whole blob: named by its sha256, all of it. */
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(e), m.files[0].sha256);
	assert_int_equal(archive_entry_size(e), 10);
	n = archive_read_data(a, data, sizeof data);
	assert_int_equal(n, 10);
	assert_memory_equal(data, "0123456789", 10);

	/* The rest of a blob: "<sha256>.<offset>", the bytes from the offset on. */
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
	gg_buf_addf(&name, "%s.20", m.files[1].sha256);
	assert_string_equal(archive_entry_pathname(e), name.data);
	assert_int_equal(archive_entry_size(e), 6);
	n = archive_read_data(a, data, sizeof data);
	assert_int_equal(n, 6);
	assert_memory_equal(data, "uvwxyz", 6);
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_EOF);
	archive_read_free(a);

	/* A blob the payload does not hold, and a file that changed since the manifest. */
	gg_buf_reset(&out);
	memset(blobs[0].sha256, 'a', 64);
	assert_int_equal(pack_stream(f->payload, &m, blobs, 1, to_buf, NULL, &out, &cause),
			 GG_EXIT_REMOTE);
	assert_non_null(strstr(cause, "not in the payload"));
	free(cause);
	cause = NULL;
	put_file(f, "two", "changed", 0644, 3600);
	assert_int_equal(pack_stream(f->payload, &m, &blobs[1], 1, to_buf, NULL, &out, &cause),
			 GG_EXIT_ERROR);
	assert_non_null(strstr(cause, "changed while pushing"));
	free(cause);
	gg_buf_release(&out);
	gg_buf_release(&name);
	gg_manifest_release(&m);
}

/* The filter the stream of the given files' blobs went out with. */
static int stream_filter(struct fixture *f, size_t count)
{
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct pack_stats stats;
	struct pack_blob blobs[4];
	struct gg_buf out = GG_BUF_INIT;
	struct archive *a;
	struct archive_entry *e;
	char *cause = NULL;
	size_t i;
	int code;

	assert_int_equal(pack_manifest(f->payload, &m, &stats, &cause), 0);
	assert_true(m.count == count && count <= 4);
	memset(blobs, 0, sizeof blobs);
	for (i = 0; i < count; i++) {
		memcpy(blobs[i].sha256, m.files[i].sha256, GG_SHA256_HEX_SIZE);
		blobs[i].size = m.files[i].size;
	}
	assert_int_equal(pack_stream(f->payload, &m, blobs, count, to_buf, NULL, &out, &cause), 0);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_zstd(a);
	assert_int_equal(archive_read_open_memory(a, out.data, out.len), ARCHIVE_OK);
	for (i = 0; i < count; i++) {
		assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
		assert_int_equal(archive_read_data_skip(a), ARCHIVE_OK);
	}
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_EOF);
	code = archive_filter_code(a, 0);
	archive_read_free(a);
	gg_buf_release(&out);
	gg_manifest_release(&m);
	return code;
}

/* A text of n bytes: compressible (lines of a script) or not (random bytes). */
static char *make_text(size_t n, int compressible)
{
	char *t = malloc(n + 1);
	size_t i;

	assert_non_null(t);
	srand(7);
	for (i = 0; i < n; i++)
		t[i] = compressible ? "apt-get install -y cuda\n"[i % 24] : (char)(1 + rand() % 255);
	t[n] = '\0';
	return t;
}

/* zstd only when it pays: judged by the bytes to send, not by how many files. */
static void test_stream_compression(void **state)
{
	struct fixture *f = *state;
	char *text = make_text(512 * 1024, 1), *noise = make_text(512 * 1024, 0);

	put_file(f, "10-a.sh", text, 0755, 3600);
	assert_int_equal(stream_filter(f, 1), ARCHIVE_FILTER_ZSTD);

	/* Mostly incompressible bytes (.deb files beside a 4 KiB script): a plain tar. */
	text[4096] = '\0';
	put_file(f, "10-a.sh", text, 0755, 3600);
	put_file(f, "a.deb", noise, 0644, 3600);
	put_file(f, "b.deb", noise + 1, 0644, 3600);
	put_file(f, "c.deb", noise + 2, 0644, 3600);
	assert_int_equal(stream_filter(f, 4), ARCHIVE_FILTER_NONE);
	free(text);
	free(noise);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_manifest_from_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_entry_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_compression, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
