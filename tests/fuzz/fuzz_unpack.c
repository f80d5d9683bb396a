/*
 * fuzz_unpack.c: gg_unpack, extracting an untrusted tar (or tar+zstd) as root.
 *
 * Each input is written as an archive and extracted over a previous release, in a
 * sandbox (fuzz_fs.h) whose surrounding directories are watched.  Asserted:
 *   - nothing lands outside the destination: no new entry in the directories above
 *     it (up to four levels), none in the current directory, which is restored;
 *   - refused: a printable one-line cause, and the previous release exactly as it
 *     was, with no staging directory left beside it;
 *   - accepted: only regular files, directories and symlinks, no set-uid or set-gid
 *     bit, and every name in the tree resolves beneath the destination as the kernel
 *     sees it (openat2 with RESOLVE_BENEATH, so that a symlink inside the tree that
 *     leads out through another symlink and ".." is caught, whatever the lexical
 *     check in unpack.c concluded).
 *
 * Gate: replay only: unpacking writes files, and two seed-1 runs differ (tools/fuzz).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_fs.h"
#include "unpack.h"

#define PREVIOUS_NAME "previous-release"
#define PREVIOUS_TEXT "the release before this one\n"

static struct fuzz_sandbox box;
static char dest[FUZZ_PATH_MAX];
static int dest_fd = -1;

/* Does name (relative to dest) resolve beneath dest, following every symlink? */
static int resolves_beneath(const char *name)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
	long fd = syscall(SYS_openat2, dest_fd, name, &how, sizeof how);

	if (fd >= 0) {
		close((int)fd);
		return 1;
	}
	/* ENOENT (a dangling link), ELOOP: harmless.  EXDEV: it left the tree. */
	return errno != EXDEV;
}

static int check_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *name = path + strlen(dest);

	if (*name == '\0')
		return 0;
	name++; /* past the '/' */
	FUZZ_ASSERT(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode));
	FUZZ_ASSERT((st->st_mode & (S_ISUID | S_ISGID)) == 0);
	if (!resolves_beneath(name)) {
		fprintf(stderr, "'%s' resolves outside the release\n", name);
		FUZZ_ASSERT(!"every name resolves beneath the release");
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char archive[FUZZ_PATH_MAX], previous[FUZZ_PATH_MAX], boxdir[FUZZ_PATH_MAX], text[64];
	char *cause = NULL;
	int r, fd;
	ssize_t n;

	fuzz_sandbox_reset(&box, "unpack");
	fuzz_path(archive, "%s/archive", box.work);
	fuzz_path(boxdir, "%s/releases", box.work);
	fuzz_path(dest, "%s/release", boxdir);
	fuzz_path(previous, "%s/" PREVIOUS_NAME, dest);
	fuzz_write_file(archive, data, size);
	FUZZ_ASSERT(mkdir(boxdir, 0700) == 0 && mkdir(dest, 0755) == 0);
	fuzz_write_file(previous, PREVIOUS_TEXT, strlen(PREVIOUS_TEXT));

	r = gg_unpack(archive, dest, &cause);

	fuzz_sandbox_check_outside(&box);
	FUZZ_ASSERT(fuzz_count_entries(box.work) == 2);  /* archive, releases */
	FUZZ_ASSERT(fuzz_count_entries(boxdir) == 1);    /* release: no staging left */
	if (r != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		free(cause);
		/* The previous release, untouched. */
		FUZZ_ASSERT(fuzz_count_entries(dest) == 1);
		fd = open(previous, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		FUZZ_ASSERT(fd >= 0);
		n = read(fd, text, sizeof text);
		close(fd);
		FUZZ_ASSERT(n == (ssize_t)strlen(PREVIOUS_TEXT) && memcmp(text, PREVIOUS_TEXT, n) == 0);
		return 0;
	}
	FUZZ_ASSERT(cause == NULL);
	dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(dest_fd >= 0);
	FUZZ_ASSERT(nftw(dest, check_entry, 16, FTW_PHYS) == 0);
	close(dest_fd);
	dest_fd = -1;
	return 0;
}
