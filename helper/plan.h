/*
 * plan.h: a plan and its record, state.json.
 *
 * A plan is the list of steps of one release: the manifest's files named
 * steps/NN-name.sh (two digits, a dash, .sh, directly under steps/; gg_step_path_valid),
 * in path order.  Nothing else in a release is ever executed.  state.json holds it:
 *
 *   {"plan": <manifest sha256>, "state": "running"|"rebooting"|"done"|"failed",
 *    "plan_seq": <seq of its `plan` event>, "boot_id": <boot of the last save>,
 *    "steps": [{"name": "20-nvidia-driver", "state": "pending"|"running"|"done"|
 *               "skipped"|"failed", "needs": ["10-preflight"]}, ...],
 *    while a reboot is pending: "reboot_boot_id", "reboot_step", "reboot_asked",
 *    once it ended: "end" (gg_plan_log_end)}
 *
 * It is replaced atomically (journal.h) on every change, so a runner killed at any
 * point finds it whole and goes on from it.  The caller holds the lock throughout.
 */
#ifndef GG_PLAN_H
#define GG_PLAN_H

#include <stddef.h>

#include <jansson.h>

#include "journal.h"
#include "manifest.h"

/*
 * Start a new run of plan sha256 (its manifest m, laid out under releases/):
 * every step's header read and the needs checked for circles (proto/steps.h),
 * all before anything is written: a recipe refused here leaves the state as it was.
 * Then state.json with every step pending and its "needs", then the `plan` event.  The journal is open; *plan_seq (may be NULL) is
 * the seq of the plan event.
 */
int gg_plan_start(const char *root, struct gg_journal *j, const char *sha256,
		  const struct gg_manifest *m, long long *plan_seq, char **cause);

/* Whether a state object is of a plan still to be finished (running or rebooting). */
int gg_plan_unfinished(json_t *state);

/*
 * A plan that failed because the VM did not reboot, now rebooted (by hand): a new
 * run of it that keeps the steps done.  state becomes "running" with a new plan_seq
 * (saved first), then the `plan` event; *plan_seq is its seq.  state is changed in
 * place.
 */
int gg_plan_continue(const char *root, struct gg_journal *j, json_t *state, long long *plan_seq,
		     char **cause);

/*
 * Log the plan's end event that state.json records under "end" ({"seq", "type":
 * "done"|"failed", and the event's fields}) when the log does not hold it yet: the
 * runner saves the end first and logs it second, and one killed in between leaves
 * it to the next writer under the lock.  0 when there is nothing to log.
 */
int gg_plan_log_end(struct gg_journal *j, json_t *state, char **cause);

/* Set the plan's state (and boot_id, the boot of this save) and save state.json. */
int gg_plan_save(const char *root, json_t *state, const char *plan_state, const char *boot_id,
		 char **cause);

#endif
