/*
 * fuzz_recv.c: gg_store_recv, the helper reading a client's upload (tar, or tar+zstd) as root.
 *
 * Each input is the upload stream, read from a memfd into a fresh state root in a
 * sandbox (fuzz_fs.h).  The store starts with one blob half uploaded (RESUME_TEXT's
 * first RESUME_AT bytes, as a cut-off upload leaves it), so that "<sha256>.<offset>"
 * entries meet a real partial file.  Asserted:
 *   - nothing lands outside the state root, and the cwd is untouched;
 *   - blobs/ holds only "<sha256>", "<sha256>.partial" and "<sha256>.seal" regular
 *     files, every complete blob's content has the sha256 of its name (the store
 *     never holds an unverified blob, whatever the stream said), and a seal is only
 *     beside its blob and matches it (store.h: a seal vouches for verified bytes);
 *   - accepted: the result is {"stored":[...],"bytes":N} and every stored sha256 is
 *     a blob; refused: a printable one-line cause.
 *
 * Gate: replay only: the store writes files, and two seed-1 runs differ (tools/fuzz).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_fs.h"
#include "hash.h"
#include "store.h"

#define RESUME_TEXT "#!/bin/sh\necho resumed upload\n"
#define RESUME_AT 10

static struct fuzz_sandbox box;

static void check_store(const char *root)
{
	char blobs[FUZZ_PATH_MAX], path[FUZZ_PATH_MAX], hex[GG_SHA256_HEX_SIZE];
	struct dirent *e;
	struct stat st;
	DIR *d;

	fuzz_path(blobs, "%s/%s", root, GG_DIR_BLOBS);
	d = opendir(blobs);
	FUZZ_ASSERT(d != NULL);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		fuzz_path(path, "%s/%s", blobs, e->d_name);
		FUZZ_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
		if (len == GG_SHA256_HEX_SIZE - 1 + strlen(".partial") &&
		    strcmp(e->d_name + GG_SHA256_HEX_SIZE - 1, ".partial") == 0)
			continue;
		if (len == GG_SHA256_HEX_SIZE - 1 + strlen(GG_STORE_SEAL_SUFFIX) &&
		    strcmp(e->d_name + GG_SHA256_HEX_SIZE - 1, GG_STORE_SEAL_SUFFIX) == 0) {
			char sha[GG_SHA256_HEX_SIZE];

			snprintf(sha, sizeof sha, "%.*s", GG_SHA256_HEX_SIZE - 1, e->d_name);
			FUZZ_ASSERT(gg_sha256_hex_valid(sha) && gg_store_sealed(root, sha));
			continue;
		}
		FUZZ_ASSERT(len == GG_SHA256_HEX_SIZE - 1 && gg_sha256_hex_valid(e->d_name));
		FUZZ_ASSERT(gg_sha256_file(path, hex, NULL, NULL) == 0);
		if (strcmp(hex, e->d_name) != 0) {
			fprintf(stderr, "blob '%s' holds content of sha256 '%s'\n", e->d_name, hex);
			FUZZ_ASSERT(!"every stored blob matches its name");
		}
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char root[FUZZ_PATH_MAX], partial[FUZZ_PATH_MAX], sha[GG_SHA256_HEX_SIZE];
	json_t *result = NULL, *stored, *v;
	char *cause = NULL;
	size_t i;
	int fd, r;

	fuzz_sandbox_reset(&box, "recv");
	fuzz_path(root, "%s/root", box.work);
	FUZZ_ASSERT(mkdir(root, 0700) == 0);
	fuzz_path(partial, "%s/%s", root, GG_DIR_BLOBS);
	FUZZ_ASSERT(mkdir(partial, 0700) == 0);
	gg_sha256_hex(RESUME_TEXT, strlen(RESUME_TEXT), sha);
	fuzz_path(partial, "%s/%s/%s.partial", root, GG_DIR_BLOBS, sha);
	fuzz_write_file(partial, RESUME_TEXT, RESUME_AT);

	fd = memfd_create("upload", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size);
	FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	r = gg_store_recv(root, fd, &result, &cause);
	close(fd);

	fuzz_sandbox_check_outside(&box);
	FUZZ_ASSERT(fuzz_count_entries(box.work) == 1); /* root */
	check_store(root);
	if (r != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		FUZZ_ASSERT(result == NULL);
		free(cause);
		return 0;
	}
	FUZZ_ASSERT(cause == NULL && json_is_object(result));
	stored = json_object_get(result, "stored");
	FUZZ_ASSERT(json_is_array(stored));
	FUZZ_ASSERT(json_is_integer(json_object_get(result, "bytes")) &&
		    json_integer_value(json_object_get(result, "bytes")) >= 0);
	json_array_foreach(stored, i, v) {
		char *blob;
		struct stat st;

		FUZZ_ASSERT(json_is_string(v) && gg_sha256_hex_valid(json_string_value(v)));
		blob = gg_store_blob_path(root, json_string_value(v));
		FUZZ_ASSERT(blob != NULL && lstat(blob, &st) == 0 && S_ISREG(st.st_mode));
		free(blob);
	}
	json_decref(result);
	return 0;
}
