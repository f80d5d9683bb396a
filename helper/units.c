/*
 * units.c: writing, enabling and removing the helper's systemd units (units.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "protocol.h"
#include "units.h"

extern char **environ;

char *gg_units_dir(void)
{
	const char *env = getenv(GG_ENV_UNIT_DIR);

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	if (access("/run/systemd/system", F_OK) != 0)
		return NULL;
	return strdup("/etc/systemd/system");
}

int gg_units_live(void)
{
	const char *env = getenv(GG_ENV_UNIT_DIR);

	return (env == NULL || env[0] == '\0') && access("/run/systemd/system", F_OK) == 0;
}

int gg_unit_install(const char *dir, const char *name, const char *text, const char *wanted_by,
		    int shared, char **cause)
{
	char *path = NULL, *wants = NULL, *link = NULL;
	int r = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0 ||
	    (wanted_by != NULL && (asprintf(&wants, "%s/%s.wants", dir, wanted_by) < 0 ||
				   asprintf(&link, "%s/%s", wants, name) < 0))) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", dir);
		goto out;
	}
	r = shared ? gg_write_file_shared(path, text, strlen(text), 0644, cause)
		   : gg_write_file_atomic(path, text, strlen(text), 0644, cause);
	if (r != 0 ||
	    wanted_by == NULL)
		goto out;
	if (mkdir(wants, 0755) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", wants);
		goto out;
	}
	/* Two installs at once make the same link: the second one's EEXIST is no failure. */
	if (unlink(link) != 0 && errno != ENOENT) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot replace '%s'", link);
		goto out;
	}
	if (symlink(path, link) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot enable '%s'", path);
		goto out;
	}
	r = gg_fsync_dir(wants, cause);
out:
	free(path);
	free(wants);
	free(link);
	return r;
}

int gg_unit_value_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\' || *s == '%')
			return 0;
	return 1;
}

int gg_unit_exec(struct gg_buf *unit, const char *self, const char *args,
		 const char *const pass[], size_t n, const char *what, char **cause)
{
	size_t i;

	if (!gg_unit_value_safe(self))
		return gg_fail(cause, GG_HELPER_REFUSED, "cannot write %s: the helper's path has a "
			       "control character, quote, backslash or %%", what);
	for (i = 0; i < n; i++)
		if (getenv(pass[i]) != NULL && !gg_unit_value_safe(getenv(pass[i])))
			return gg_fail(cause, GG_HELPER_REFUSED, "cannot write %s: '%s' has a "
				       "control character, quote, backslash or %%", what, pass[i]);
	gg_buf_addf(unit, "ExecStart=%s %s\n", self, args);
	for (i = 0; i < n; i++)
		if (getenv(pass[i]) != NULL)
			gg_buf_addf(unit, "Environment=\"%s=%s\"\n", pass[i], getenv(pass[i]));
	return 0;
}

void gg_unit_remove(const char *dir, const char *name, const char *wanted_by)
{
	char *path = NULL, *wants = NULL;

	/* Durably: a power cut right after must not bring back a unit that acts again
	 * (a plan resumed, a timer that powers off); each directory is fsync'd after
	 * its unlink. */
	if (wanted_by != NULL && asprintf(&wants, "%s/%s.wants", dir, wanted_by) >= 0 &&
	    asprintf(&path, "%s/%s", wants, name) >= 0 && unlink(path) == 0)
		gg_fsync_dir(wants, NULL);
	free(path);
	free(wants);
	path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) >= 0 && unlink(path) == 0)
		gg_fsync_dir(dir, NULL);
	free(path);
}

int gg_systemctl(const char *const args[])
{
	const char *argv[8] = { "/bin/systemctl" };
	size_t i;
	int status;
	pid_t pid;

	if (!gg_units_live())
		return 0;
	for (i = 0; args[i] != NULL && i + 2 < sizeof argv / sizeof argv[0]; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], (char *const *)argv, environ);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) != pid)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
