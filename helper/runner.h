/*
 * runner.h: the plan and its runner, the process that runs the steps.
 *
 * A plan is the ordered list of steps of one release: the manifest's files named
 * steps/NN-name.sh (two digits, a dash, .sh, directly under steps/), in path order.
 * Nothing else in a release is ever executed.
 *
 * The runner is `gcloud-gpu-helper run`, started detached by `apply`/`resume`
 * (gg_runner_spawn) or by the boot unit after a reboot.  It takes the lock, opens the
 * journal, and works through the steps that are not done:
 *
 *   step-start; `check` (exit 0: step-skipped) else `apply`:
 *     0    step-done, next step
 *     100  the boot unit installed; step-done; then ONE state.json replacement
 *          records both the step done and the reboot pending (state "rebooting",
 *          reboot_boot_id, reboot_step); `reboot` event; reboot_asked (seconds of
 *          CLOCK_BOOTTIME) saved; the reboot command.  Started again on a new boot id,
 *          it goes on with the next step.
 *     else step-failed (code, tail), failed; the plan ends.
 *   all done: done; the boot unit is removed.
 *
 * Killed at any point, the next runner starts again at the step that was running,
 * whose `check` decides whether `apply` runs again; seq numbers continue.  Killed
 * after the reboot was recorded, the next runner on the same boot id asks for it
 * (gg_plan_reboot says GG_REBOOT_TO_ASK) rather than go on.
 *
 * A reboot that fails (the command exits non-zero, or the boot id is still the same
 * GG_REBOOT_WAIT_S after it was asked for) fails the plan: a `log` event with the
 * command's exit status, `failed` saying to reboot by hand, state "failed" with
 * reboot_failed.  The boot unit stays: after a reboot by hand the plan goes on
 * (gg_plan_continue) from the boot unit or from `resume`.
 */
#ifndef GG_RUNNER_H
#define GG_RUNNER_H

#include <jansson.h>

#include "helper.h"
#include "journal.h"
#include "manifest.h"
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
/* Where the runner's own stdout/stderr go when it runs as a daemon. */
#define GG_FILE_RUNNER_LOG "runner.log"

/* How long a starting runner waits for the lock (apply holds it briefly). */
#define GG_RUNNER_LOCK_WAIT_MS 30000

/* Whether path (relative to the release) is a step: steps/[0-9][0-9]-*.sh. */
int gg_step_path_valid(const char *path);

/*
 * Parse a line a step wrote to fd 3: "progress PCT MSG" with PCT a number, clamped
 * to 0..100.  Returns 0 and sets *pct and *msg (pointing into line), or -1 for junk.
 */
int gg_parse_progress(const char *line, int *pct, const char **msg);

/*
 * Start a new run of plan sha256 (its manifest m): state.json with every step
 * pending, then the `plan` event.  The caller holds the lock and the journal is
 * open; *plan_seq is the seq of the plan event.
 */
int gg_plan_start(const char *root, struct gg_journal *j, const char *sha256,
		  const struct gg_manifest *m, long long *plan_seq, char **cause);

/* Whether a state object is of a plan still to be finished (running or rebooting). */
int gg_plan_unfinished(json_t *state);

/* Where a plan's reboot stands, seen from boot id boot_id. */
enum gg_reboot {
	GG_REBOOT_NONE,     /* none pending (or the plan failed for one on this boot) */
	GG_REBOOT_HAPPENED, /* asked on another boot id: go on with the next step */
	GG_REBOOT_TO_ASK,   /* recorded, not asked for yet (a runner died): ask now */
	GG_REBOOT_GOING,    /* asked under GG_REBOOT_WAIT_S ago: the VM is going down */
	GG_REBOOT_OVERDUE,  /* asked longer ago and still this boot: it did not happen */
};

enum gg_reboot gg_plan_reboot(json_t *state, const char *boot_id);

/*
 * A plan that failed because the VM did not reboot, now rebooted (by hand): a new
 * run of it that keeps the steps done, under the lock with the journal open.  state
 * becomes "running" with a new plan_seq (saved first), then the `plan` event;
 * *plan_seq is its seq.  state is changed in place.
 */
int gg_plan_continue(const char *root, struct gg_journal *j, json_t *state, long long *plan_seq,
		     char **cause);

/*
 * The `run` command's body: run the current plan to its end, a reboot or a failure.
 * lock_fd is a lock handed over by the spawner (-1: take it, waiting up to
 * GG_RUNNER_LOCK_WAIT_MS).
 */
int gg_runner_run(struct helper_context *ctx, int lock_fd, char **cause);

/*
 * Start `run` detached from this session: systemd-run where systemd runs, else a
 * double fork into its own session, stdio on /dev/null and runner.log.  The
 * caller holds the lock on lock_fd: the double-forked runner inherits it (as fd 3,
 * `run --lock-fd 3`), so no other apply can slip in between; a systemd-run runner
 * takes it anew once the caller lets it go.
 */
int gg_runner_spawn(struct helper_context *ctx, int lock_fd, char **cause);

#endif
