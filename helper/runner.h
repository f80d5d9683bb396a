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
 *     100  step-done; state "rebooting" with the boot id; boot unit installed;
 *          `reboot` event; the reboot command.  Started again on a new boot id, it
 *          goes on with the next step (on the same boot id it reboots again).
 *     else step-failed (code, tail), failed; the plan ends.
 *   all done: done; the boot unit is removed.
 *
 * Killed at any point, the next runner starts again at the step that was running,
 * whose `check` decides whether `apply` runs again; seq numbers continue.
 */
#ifndef GG_RUNNER_H
#define GG_RUNNER_H

#include <jansson.h>

#include "helper.h"
#include "journal.h"
#include "manifest.h"

/* Tests only: write the boot unit here even without systemd (default /etc/systemd/system). */
#define GG_ENV_UNIT_DIR "GCLOUD_GPU_UNIT_DIR"
/* Tests only: a command run with /bin/sh -c instead of rebooting. */
#define GG_ENV_REBOOT_COMMAND "GCLOUD_GPU_REBOOT_COMMAND"
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
