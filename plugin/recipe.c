/*
 * recipe.c: the local check of a recipe before upload (recipe.h).
 */
#include "recipe.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "error.h"
#include "xmalloc.h"

/* NN-name.sh: two digits, '-', at least one of [A-Za-z0-9._-], ".sh". */
static int step_name_valid(const char *name)
{
	size_t len = strlen(name), i;

	if (len < 7 || !isdigit((unsigned char)name[0]) || !isdigit((unsigned char)name[1]) ||
	    name[2] != '-' || strcmp(name + len - 3, ".sh") != 0)
		return 0;
	for (i = 3; i < len - 3; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("._-", name[i]) == NULL)
			return 0;
	return 1;
}

/* One step file: executable, and its first bytes "#!". */
static int check_step(const char *path, const char *shown, char **cause)
{
	char head[2] = "";
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0)
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", path);
	if (!S_ISREG(st.st_mode))
		return gg_fail(cause, GG_EXIT_ERROR, "the step '%s' is not a regular file", shown);
	f = fopen(path, "rb");
	if (f == NULL)
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", path);
	if (fread(head, 1, 2, f) != 2)
		head[0] = '\0';
	fclose(f);
	if (head[0] != '#' || head[1] != '!')
		return gg_fail(cause, GG_EXIT_ERROR, "the step '%s' has no '#!' line: make its first "
			       "line '#!/bin/sh' (or '#!/bin/bash' for bash)", shown);
	if ((st.st_mode & 0111) == 0)
		return gg_fail(cause, GG_EXIT_ERROR, "the step '%s' is not executable: run 'chmod +x "
			       "%s'", shown, path);
	return 0;
}

int recipe_check(const char *dir, size_t *steps, char **cause)
{
	char *path = NULL, *file = NULL, *shown = NULL;
	struct dirent *de;
	size_t count = 0;
	DIR *d;
	int r = 0;

	xasprintf(&path, "%s/steps", dir);
	d = opendir(path);
	if (d == NULL) {
		r = gg_fail(cause, GG_EXIT_ERROR, "the recipe '%s' has no steps/ directory: put its "
			    "steps there as executable scripts named NN-name.sh (see docs/RECIPE.md)",
			    dir);
		goto out;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		free(shown);
		xasprintf(&shown, "steps/%s", de->d_name);
		if (!step_name_valid(de->d_name)) {
			r = gg_fail(cause, GG_EXIT_ERROR, "the step '%s' is not named NN-name.sh (two "
				    "digits, a dash, a name, .sh): rename it, for example to "
				    "'steps/%02d-step.sh'", shown, atoi(de->d_name) % 100);
			break;
		}
		free(file);
		xasprintf(&file, "%s/%s", path, de->d_name);
		r = check_step(file, shown, cause);
		count++;
	}
	closedir(d);
	if (r == 0 && count == 0)
		r = gg_fail(cause, GG_EXIT_ERROR, "the recipe '%s' has no steps: put executable "
			    "scripts named NN-name.sh in '%s' (see docs/RECIPE.md)", dir, path);
	if (r == 0 && steps != NULL)
		*steps = count;
out:
	free(path);
	free(file);
	free(shown);
	return r;
}
