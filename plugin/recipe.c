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

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "steps.h"
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

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The order the VM will run the steps in (proto/steps.h): each step's `# needs:` lines
 * name steps of the recipe, and go in no circle.  files[0..count) are the steps' file
 * names, sorted as the manifest sorts them.
 */
static int check_needs(const char *path, char **files, size_t count, char **cause)
{
	char (*names)[GG_MANIFEST_MAX_COMPONENT + 1] = xcalloc(count ? count : 1, sizeof *names);
	char *head = xmalloc(GG_STEPS_HEADER_MAX), *file;
	json_t *steps = json_array(), *needs;
	size_t i, len;
	FILE *f;
	int r = 0;

	for (i = 0; i < count; i++)
		snprintf(names[i], sizeof names[i], "%.*s", (int)(strlen(files[i]) - 3), files[i]);
	for (i = 0; r == 0 && i < count; i++) {
		xasprintf(&file, "%s/%s", path, files[i]);
		f = fopen(file, "rb");
		len = f != NULL ? fread(head, 1, GG_STEPS_HEADER_MAX, f) : 0;
		if (f == NULL || ferror(f))
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", file);
		else if (gg_steps_header(head, len, (int)i, names, count, &needs, cause) != 0)
			r = GG_EXIT_ERROR;
		else
			json_array_append_new(steps, json_pack("{s:s, s:o}", "name", names[i],
							       "needs", needs));
		if (f != NULL)
			fclose(f);
		free(file);
	}
	if (r == 0 && gg_steps_acyclic(steps, cause) != 0)
		r = GG_EXIT_ERROR;
	json_decref(steps);
	free(head);
	free(names);
	return r;
}

int recipe_check(const char *dir, size_t *steps, char **cause)
{
	char *path = NULL, *file = NULL, *shown = NULL, **files = NULL;
	struct dirent *de;
	size_t count = 0, i;
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
		if (r == 0 && count == GG_STEPS_MAX)
			r = gg_fail(cause, GG_EXIT_ERROR, "the recipe '%s' has more than %d steps: the "
				    "VM runs at most %d", dir, GG_STEPS_MAX, GG_STEPS_MAX);
		if (r == 0) {
			files = xrealloc(files, (count + 1) * sizeof *files);
			files[count++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (r == 0 && count == 0)
		r = gg_fail(cause, GG_EXIT_ERROR, "the recipe '%s' has no steps: put executable "
			    "scripts named NN-name.sh in '%s' (see docs/RECIPE.md)", dir, path);
	if (r == 0) {
		qsort(files, count, sizeof *files, compare_names);
		r = check_needs(path, files, count, cause);
	}
	if (r == 0 && steps != NULL)
		*steps = count;
out:
	for (i = 0; i < count; i++)
		free(files[i]);
	free(files);
	free(path);
	free(file);
	free(shown);
	return r;
}
