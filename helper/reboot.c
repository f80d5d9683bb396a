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
#include "units.h"

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

int gg_boot_unit_install(const char *self, char **cause)
{
	static const char *const pass[] = { GG_ENV_ROOT, GG_ENV_BOOT_ID_FILE, GG_ENV_REBOOT_COMMAND,
					    GG_ENV_UNIT_DIR, GG_ENV_REBOOT_WAIT };
	struct gg_buf unit = GG_BUF_INIT;
	char *dir = gg_units_dir();
	int r = 0;

	if (dir == NULL)
		return 0;
	gg_buf_addstr(&unit, "# Written by gcloud-gpu-helper; removed when the plan ends.\n"
			     "[Unit]\nDescription=gcloud-gpu: continue the plan after a reboot\n"
			     "After=network-online.target\nWants=network-online.target\n\n"
			     "[Service]\nType=oneshot\n");
	if ((r = gg_unit_exec(&unit, self, "run", pass, sizeof pass / sizeof pass[0],
			      "the boot unit", cause)) != 0)
		goto out;
	gg_buf_addstr(&unit, "\n[Install]\nWantedBy=multi-user.target\n");
	r = gg_unit_install(dir, GG_UNIT_NAME, unit.data, "multi-user.target", 0, cause);
out:
	gg_buf_release(&unit);
	free(dir);
	return r;
}

void gg_boot_unit_remove(void)
{
	char *dir = gg_units_dir();

	if (dir != NULL)
		gg_unit_remove(dir, GG_UNIT_NAME, "multi-user.target");
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
