/*
 * reboot.h: what a plan needs to come through a reboot: the boot unit that starts the
 * runner again after it, the reboot command, and where a plan's reboot stands.
 *
 * A step that exits 100 (GG_STEP_EXIT_REBOOT) asks for a reboot.  The runner installs
 * the boot unit first (gg_boot_unit_install), so that a plan marked "rebooting" can
 * always come back by itself, records the reboot pending in state.json (reboot_boot_id,
 * reboot_step), and then asks for it (gg_reboot_command), saving reboot_asked in
 * seconds of CLOCK_BOOTTIME (gg_boot_seconds).  A runner that starts later reads where
 * the reboot stands with gg_plan_reboot: on a new boot id it happened and the plan goes
 * on; on the same boot id it is still to be asked, going, or overdue (it did not
 * happen: the plan fails, saying to reboot by hand).  The unit is removed when the plan
 * ends (gg_boot_unit_remove).
 */
#ifndef GG_REBOOT_H
#define GG_REBOOT_H

#include <jansson.h>

#include "helper.h"
#include "units.h"

/* Tests only: a command run with /bin/sh -c instead of rebooting. */
#define GG_ENV_REBOOT_COMMAND "GCLOUD_GPU_REBOOT_COMMAND"
/*
 * Tests only: seconds a VM may take to go down after the reboot command returned
 * (default GG_REBOOT_WAIT_S); past it, the reboot did not happen.
 */
#define GG_ENV_REBOOT_WAIT "GCLOUD_GPU_REBOOT_WAIT"
#define GG_REBOOT_WAIT_S 300
#define GG_UNIT_NAME "gcloud-gpu-resume.service"

/* Where a plan's reboot stands, seen from boot id boot_id. */
enum gg_reboot {
	GG_REBOOT_NONE,     /* none pending (or the plan failed for one on this boot) */
	GG_REBOOT_HAPPENED, /* asked on another boot id: go on with the next step */
	GG_REBOOT_TO_ASK,   /* recorded, not asked for yet (a runner died): ask now */
	GG_REBOOT_GOING,    /* asked under GG_REBOOT_WAIT_S ago: the VM is going down */
	GG_REBOOT_OVERDUE,  /* asked longer ago and still this boot: it did not happen */
};

/*
 * From state.json's fields: state "rebooting" (or "failed" with reboot_failed),
 * reboot_boot_id, reboot_asked.
 */
enum gg_reboot gg_plan_reboot(json_t *state, const char *boot_id);

/* Seconds since this boot (CLOCK_BOOTTIME), what reboot_asked is measured in; -1 on error. */
long long gg_boot_seconds(void);

/* GG_REBOOT_WAIT_S, or what GG_ENV_REBOOT_WAIT says. */
long long gg_reboot_wait_s(void);

/*
 * Write and enable the boot unit: a oneshot service that runs `<self> run` once after
 * the boot, enabled as `systemctl enable` does it (a link in multi-user.target.wants),
 * with the test variables passed on.  Without systemd (and no GG_ENV_UNIT_DIR) there is
 * nothing to write: 0.
 */
int gg_boot_unit_install(const char *self, char **cause);

/* Remove the boot unit and its link, if there are any. */
void gg_boot_unit_remove(void);

/*
 * Ask the machine to reboot: GG_ENV_REBOOT_COMMAND with /bin/sh -c, else
 * `systemctl reboot` where systemd runs, else /sbin/reboot.  The command's exit status,
 * or -1 when it could not be run.
 */
int gg_reboot_command(void);

#endif
