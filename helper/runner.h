/*
 * runner.h: the runner, the process that runs a plan's steps (plan.h), each in a
 * process of its own (step.h), and comes through reboots (reboot.h).
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

#include "helper.h"

/* How many steps run at once, at most. */
#define GG_RUNNER_PARALLEL 3

/* Where the runner's own stdout/stderr go when it runs as a daemon. */
#define GG_FILE_RUNNER_LOG "runner.log"

/* How long a starting runner waits for the lock (apply holds it briefly). */
#define GG_RUNNER_LOCK_WAIT_MS 30000

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
