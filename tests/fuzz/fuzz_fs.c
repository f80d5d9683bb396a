/*
 * fuzz_fs.c: the harnesses' scratch sandbox (see fuzz_fs.h).
 */
#include "fuzz_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static char removal_base[FUZZ_PATH_MAX];

void fuzz_path(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, FUZZ_PATH_MAX, fmt, ap);
	va_end(ap);
	FUZZ_ASSERT(n >= 0 && n < FUZZ_PATH_MAX);
}

static void remove_base_at_exit(void)
{
	if (removal_base[0] != '\0')
		fuzz_remove_tree(removal_base);
}

/* Directories first get u+rwx, so that a tree the input made read-only can go. */
static int make_writable(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int fuzz_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	nftw(path, make_writable, 16, FTW_PHYS);
	return nftw(path, remove_one, 16, FTW_PHYS | FTW_DEPTH);
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(len == 0 || write(fd, data, len) == (ssize_t)len);
	close(fd);
}

int fuzz_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void make_dir(const char *path)
{
	FUZZ_ASSERT(mkdir(path, 0700) == 0 || errno == EEXIST);
}

void fuzz_sandbox_reset(struct fuzz_sandbox *s, const char *name)
{
	if (s->base[0] == '\0') {
		const char *tmp = getenv("TMPDIR");
		struct stat st;

		if (tmp == NULL || tmp[0] == '\0')
			tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
			      access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		fuzz_path(s->base, "%s/gg-fuzz-%s.XXXXXX", tmp, name);
		FUZZ_ASSERT(mkdtemp(s->base) != NULL);
		{
			/* getcwd() gives the resolved name: compare with that. */
			char real[PATH_MAX];

			FUZZ_ASSERT(realpath(s->base, real) != NULL && strlen(real) < sizeof s->base);
			strcpy(s->base, real);
		}
		fuzz_path(s->levels[0], "%s/n1", s->base);
		fuzz_path(s->levels[1], "%s/n2", s->levels[0]);
		fuzz_path(s->levels[2], "%s/n3", s->levels[1]);
		fuzz_path(s->work, "%s/work", s->levels[2]);
		fuzz_path(s->cwd, "%s/cwd", s->levels[2]);
		fuzz_path(removal_base, "%s", s->base);
		atexit(remove_base_at_exit);
		s->home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		FUZZ_ASSERT(s->home_fd >= 0);
	}
	/* Leave cwd/ before emptying the tree, then rebuild it whole. */
	FUZZ_ASSERT(chdir(s->base) == 0);
	FUZZ_ASSERT(fuzz_remove_tree(s->levels[0]) == 0);
	make_dir(s->levels[0]);
	make_dir(s->levels[1]);
	make_dir(s->levels[2]);
	make_dir(s->work);
	make_dir(s->cwd);
	FUZZ_ASSERT(chdir(s->cwd) == 0);
}

void fuzz_sandbox_check_outside(const struct fuzz_sandbox *s)
{
	char here[PATH_MAX];

	FUZZ_ASSERT(fuzz_count_entries(s->base) == 1);      /* n1 */
	FUZZ_ASSERT(fuzz_count_entries(s->levels[0]) == 1); /* n2 */
	FUZZ_ASSERT(fuzz_count_entries(s->levels[1]) == 1); /* n3 */
	FUZZ_ASSERT(fuzz_count_entries(s->levels[2]) == 2); /* work, cwd */
	FUZZ_ASSERT(fuzz_count_entries(s->cwd) == 0);
	FUZZ_ASSERT(getcwd(here, sizeof here) != NULL && strcmp(here, s->cwd) == 0);
	FUZZ_ASSERT(fchdir(s->home_fd) == 0);
}
