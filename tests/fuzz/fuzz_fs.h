/*
 * fuzz_fs.h: a scratch file system for the harnesses whose parser writes files
 * (the archive unpacker, the blob store).
 *
 * A sandbox is a fresh directory tree, made once per process under $TMPDIR (or
 * /dev/shm, which keeps a fuzzer's many small writes and fsyncs in memory):
 *
 *     BASE/n1/n2/n3/   nesting: an escape by up to four ".." lands in a level we watch
 *         work/        the directory the parser is given (its children are its own)
 *         cwd/         the current directory during the call; must stay empty
 *
 * fuzz_sandbox_reset() empties it between inputs; fuzz_sandbox_check_outside()
 * asserts that nothing appeared anywhere but under work/.  The process's cwd is
 * moved into cwd/ by reset and must still be there after the call; check_outside
 * then moves it back to where it was (libFuzzer reads its corpus by relative names).
 */
#ifndef GG_FUZZ_FS_H
#define GG_FUZZ_FS_H

#include <stddef.h>

#define FUZZ_PATH_MAX 4096

struct fuzz_sandbox {
	char base[FUZZ_PATH_MAX];
	char levels[3][FUZZ_PATH_MAX]; /* n1, n1/n2, n1/n2/n3 */
	char work[FUZZ_PATH_MAX];
	char cwd[FUZZ_PATH_MAX];
	int home_fd; /* the cwd before reset, restored by check_outside */
};

/* Format a path into out (FUZZ_PATH_MAX bytes); aborts when it does not fit. */
void fuzz_path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Make the sandbox (once; aborts on failure) and enter cwd/ with work/ empty. */
void fuzz_sandbox_reset(struct fuzz_sandbox *s, const char *name);

/* Assert each watched level holds only what the sandbox put there, cwd/ is empty
 * and is still the current directory; then go back to the cwd from before reset. */
void fuzz_sandbox_check_outside(const struct fuzz_sandbox *s);

/* rm -rf without following symlinks (directories made writable first); 0 or -1. */
int fuzz_remove_tree(const char *path);

/* Write a whole file (mode 0600); aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* The number of entries in a directory other than "." and ".."; -1 if unreadable. */
int fuzz_count_entries(const char *dir);

#endif
