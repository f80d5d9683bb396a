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

/* The most steps a plan has (NN: two digits). */
#define GG_PLAN_MAX_STEPS 100

/*
 * Read one step's header, text (len bytes: its head): the first line must be `#!`
 * (steps run through their own interpreter); then, among the comment and blank lines
 * that follow, each `# needs: NAME...` line (names of other steps, spaces or commas
 * between them, several lines adding up) says which steps must be done or skipped
 * before it starts.  A step with no such line needs the step before it (index - 1)
 * in path order, so a recipe without them keeps its order; `# needs:` with no name
 * lets it start at once.  names[0..count) are the plan's steps.  *needs is a new
 * array of names; GG_HELPER_REFUSED (one line naming the step) for a missing `#!`,
 * an unknown name or a step that needs itself.
 */
int gg_plan_step_header(const char *step, const char *text, size_t len, int index,
			char names[][GG_MANIFEST_MAX_COMPONENT + 1], size_t count, json_t **needs,
			char **cause);

/*
 * Start a new run of plan sha256 (its manifest m, laid out under releases/):
 * every step's header read (gg_plan_step_header) and the needs checked for circles,
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
