/*
 * reboot.c: the boot unit, the reboot command, and reading where a plan's reboot
 * stands (see reboot.h).
 */
#include "reboot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "protocol.h"
#include "step.h"

long long gg_boot_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return -1;
	return (long long)ts.tv_sec;
}

long long gg_reboot_wait_s(void)
{
	const char *env = getenv(GG_ENV_REBOOT_WAIT);
	char *end;
	long long v;

	if (env == NULL || env[0] == '\0')
		return GG_REBOOT_WAIT_S;
	errno = 0;
	v = strtoll(env, &end, 10);
	return errno != 0 || *end != '\0' || v < 0 ? GG_REBOOT_WAIT_S : v;
}

enum gg_reboot gg_plan_reboot(json_t *state, const char *boot_id)
{
	const char *s = json_string_value(json_object_get(state, "state"));
	const char *before = json_string_value(json_object_get(state, "reboot_boot_id"));
	json_t *asked = json_object_get(state, "reboot_asked");
	long long now, ago;

	if (s == NULL || before == NULL)
		return GG_REBOOT_NONE;
	if (strcmp(s, "rebooting") != 0 &&
	    !(strcmp(s, "failed") == 0 && json_is_true(json_object_get(state, "reboot_failed"))))
		return GG_REBOOT_NONE;
	if (strcmp(before, boot_id) != 0)
		return GG_REBOOT_HAPPENED;
	if (strcmp(s, "failed") == 0)
		return GG_REBOOT_NONE;
	if (!json_is_integer(asked))
		return GG_REBOOT_TO_ASK;
	/*
	 * Same boot, so the boot-time clock of the asking runner is ours.  A clock that
	 * went back (another time namespace) cannot tell: it counts as overdue, which
	 * tells the user, rather than as going, which would wait forever.
	 */
	now = gg_boot_seconds();
	ago = now - json_integer_value(asked);
	return now >= 0 && ago >= 0 && ago < gg_reboot_wait_s() ? GG_REBOOT_GOING : GG_REBOOT_OVERDUE;
}

static char *unit_dir(void)
{
	const char *env = getenv(GG_ENV_UNIT_DIR);

	if (env != NULL && env[0] != '\0')
		return strdup(env);
	if (access("/run/systemd/system", F_OK) != 0)
		return NULL;
	return strdup("/etc/systemd/system");
}

/*
 * Whether s can stand in a unit file line as it is: a newline would start a line of
 * its own choosing (an ExecStartPre=), a quote or backslash end or bend the quoting,
 * and systemd expands % specifiers.
 */
static int unit_value_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\' || *s == '%')
			return 0;
	return 1;
}

int gg_boot_unit_install(const char *self, char **cause)
{
	static const char *const pass[] = { GG_ENV_ROOT, GG_ENV_BOOT_ID_FILE, GG_ENV_REBOOT_COMMAND,
					    GG_ENV_UNIT_DIR, GG_ENV_REBOOT_WAIT };
	struct gg_buf unit = GG_BUF_INIT;
	char *dir = unit_dir(), *path = NULL, *wants = NULL, *link = NULL;
	size_t i;
	int r = 0;

	if (dir == NULL)
		return 0;
	if (!unit_value_safe(self)) {
		r = gg_fail(cause, GG_HELPER_REFUSED, "cannot write the boot unit: the helper's "
			    "path has a control character, quote, backslash or %%");
		goto out;
	}
	for (i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (getenv(pass[i]) != NULL && !unit_value_safe(getenv(pass[i]))) {
			r = gg_fail(cause, GG_HELPER_REFUSED, "cannot write the boot unit: '%s' has a "
				    "control character, quote, backslash or %%", pass[i]);
			goto out;
		}
	gg_buf_addf(&unit, "# Written by gcloud-gpu-helper; removed when the plan ends.\n"
			   "[Unit]\nDescription=gcloud-gpu: continue the plan after a reboot\n"
			   "After=network-online.target\nWants=network-online.target\n\n"
			   "[Service]\nType=oneshot\nExecStart=%s run\n", self);
	for (i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (getenv(pass[i]) != NULL)
			gg_buf_addf(&unit, "Environment=\"%s=%s\"\n", pass[i], getenv(pass[i]));
	gg_buf_addstr(&unit, "\n[Install]\nWantedBy=multi-user.target\n");
	if (asprintf(&path, "%s/%s", dir, GG_UNIT_NAME) < 0 ||
	    asprintf(&wants, "%s/multi-user.target.wants", dir) < 0 ||
	    asprintf(&link, "%s/%s", wants, GG_UNIT_NAME) < 0) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", dir);
		goto out;
	}
	if ((r = gg_write_file_atomic(path, unit.data, unit.len, 0644, cause)) != 0)
		goto out;
	if (mkdir(wants, 0755) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot create '%s'", wants);
		goto out;
	}
	unlink(link);
	if (symlink(path, link) != 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot enable '%s'", path);
		goto out;
	}
	r = gg_fsync_dir(wants, cause);
out:
	gg_buf_release(&unit);
	free(dir);
	free(path);
	free(wants);
	free(link);
	return r;
}

void gg_boot_unit_remove(void)
{
	char *dir = unit_dir(), *path = NULL;

	if (dir == NULL)
		return;
	/* Durably: a power cut right after the plan ended must not bring back a unit that
	 * resumes it (each directory is fsync'd after its unlink). */
	if (asprintf(&path, "%s/multi-user.target.wants", dir) >= 0) {
		char *link = NULL;

		if (asprintf(&link, "%s/%s", path, GG_UNIT_NAME) >= 0 && unlink(link) == 0)
			gg_fsync_dir(path, NULL);
		free(link);
		free(path);
	}
	if (asprintf(&path, "%s/%s", dir, GG_UNIT_NAME) >= 0) {
		if (unlink(path) == 0)
			gg_fsync_dir(dir, NULL);
		free(path);
	}
	free(dir);
}

int gg_reboot_command(void)
{
	const char *command = getenv(GG_ENV_REBOOT_COMMAND);
	char *sh[] = { "/bin/sh", "-c", (char *)command, NULL };
	char *systemctl[] = { "/bin/systemctl", "reboot", NULL };
	char *reboot[] = { "/sbin/reboot", NULL };

	if (command != NULL && command[0] != '\0')
		return gg_command_run(sh);
	if (access("/run/systemd/system", F_OK) == 0)
		return gg_command_run(systemctl);
	return gg_command_run(reboot);
}
