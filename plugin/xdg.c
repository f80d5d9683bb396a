/*
 * xdg.c: the per-user directories of xdg.h.
 */
#include "xdg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xmalloc.h"

/* mkdir -p, mode 0700 for what it makes; errors are left to the caller's open. */
static void make_dirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	mkdir(path, 0700);
}

char *xdg_path(enum xdg_kind kind, const char *name, int create)
{
	const char *env = getenv(kind == XDG_CACHE ? "XDG_CACHE_HOME" : "XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir, *path;

	/* The spec says a relative value is invalid and must be ignored. */
	if (env != NULL && env[0] == '/')
		xasprintf(&dir, "%s/gcloud-gpu", env);
	else
		xasprintf(&dir, "%s/%s/gcloud-gpu", home != NULL && home[0] != '\0' ? home : "/tmp",
			  kind == XDG_CACHE ? ".cache" : ".local/state");
	xasprintf(&path, "%s/%s", dir, name);
	if (create) {
		char *slash = strrchr(path, '/');

		*slash = '\0';
		make_dirs(path);
		*slash = '/';
	}
	free(dir);
	return path;
}
