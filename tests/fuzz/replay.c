/*
 * replay.c: run a harness over saved inputs, without libFuzzer.
 *
 *     fuzz_NAME-replay DIR_OR_FILE...
 *
 * Calls LLVMFuzzerTestOneInput() once for every regular file named, and for every
 * regular file directly inside every directory named, in name order so that a run
 * is repeatable.  A harness that finds a broken promise aborts, so the exit status
 * (and the sanitizers' report) is the test's verdict; the last line printed before
 * an abort names the input.  ctest uses it to replay tests/fuzz/corpus/NAME/.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f;
	struct stat st;
	uint8_t *data = NULL;
	size_t len;
	int r = -1;

	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		goto out;
	}
	/* Exactly the input's size, so that ASan flags a read one past its end. */
	len = (size_t)st.st_size;
	data = malloc(len > 0 ? len : 1);
	if (data == NULL || fread(data, 1, len, f) != len) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		goto out;
	}
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(data, len);
	r = 0;
out:
	free(data);
	if (f != NULL)
		fclose(f);
	return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_dir(const char *dir, int *count)
{
	struct dirent **names;
	char path[4096];
	struct stat st;
	int i, n, r = 0;

	n = scandir(dir, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				r = -1;
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, count = 0, r = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: cannot stat '%s': %s\n", argv[i], strerror(errno));
			r = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				r = 1;
		} else if (replay_file(argv[i]) != 0) {
			r = 1;
		} else {
			count++;
		}
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		r = 1;
	}
	printf("replayed %d inputs\n", count);
	return r;
}
