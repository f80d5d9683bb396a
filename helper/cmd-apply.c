/*
 * cmd-apply.c: the commands that start (or find) a runner and then follow it:
 *
 *   apply MANIFEST    verify and lay out the release, start a new run of its plan
 *   resume            start the runner again if the plan is unfinished and none runs
 *   ensure            start a new run of the last plan (every check again)
 *
 * The decision is taken under the lock, which runners hold for as long as they run:
 * when it is taken, a runner is running (or another apply is starting one), and this
 * call attaches to it instead of starting a second one, when it runs the same plan;
 * `apply` of another plan is refused (GG_HELPER_BUSY, naming the running one).  Otherwise the release is
 * laid out, state.json and the `plan` event are written, the runner is spawned, and
 * the lock is let go for the runner to take (a runner that finds nothing to do, as a
 * spare one started by a racing call would, just exits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "follow.h"
#include "fsutil.h"
#include "gc.h"
#include "hash.h"
#include "helper.h"
#include "journal.h"
#include "release.h"
#include "plan.h"
#include "reboot.h"
#include "runner.h"
#include "store.h"

/* How long apply waits for a racing apply's short hold of the lock. */
#define APPLY_LOCK_WAIT_MS 200
/*
 * How long apply waits for a holder of the lock to show which plan runs (a racing
 * apply laying out its release); then it follows whatever runs, as before.
 */
#define ATTACH_WAIT_MS 30000

enum start_mode {
	START_NEW,      /* a new run of the plan (apply, ensure) */
	START_RESUME,   /* only continue an unfinished plan */
};

/* Where a client attaching to the running plan starts: its plan event. */
static long long attach_from(struct helper_context *ctx)
{
	json_t *state = NULL;
	long long from;

	gg_state_load(ctx->root, &state, NULL);
	/* A finished plan in state.json: the racing call is about to start the next one. */
	if (state != NULL && gg_plan_unfinished(state))
		from = json_integer_value(json_object_get(state, "plan_seq"));
	else
		from = gg_journal_last_seq(ctx->root) + 1;
	json_decref(state);
	return from;
}

/*
 * Where the state's reboot stands on this boot.  GG_REBOOT_GOING: a runner asked for
 * a reboot that has not happened yet, and starting another would only ask again (the
 * boot unit continues the plan once the VM is back).  Recorded but never asked for
 * (a runner died in between), or overdue, a runner is started: it asks for the
 * reboot, or fails the plan saying to reboot by hand.
 */
static enum gg_reboot reboot_here(struct helper_context *ctx, json_t *state)
{
	char boot_id[64];

	gg_read_boot_id(ctx->boot_id_file, boot_id);
	return gg_plan_reboot(state, boot_id);
}

/*
 * Under the lock: start plan sha256 (NULL: the state's) as mode says and spawn the
 * runner; *from is where the caller's stream starts.
 */
static int start_locked(struct helper_context *ctx, int lock, const char *sha256,
			enum start_mode mode, long long *from, char **cause)
{
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct gg_journal j = GG_JOURNAL_INIT;
	json_t *state = NULL;
	const char *plan;
	enum gg_reboot reboot;
	int r;

	/*
	 * A runner killed between saving its plan's end and logging it left the event to
	 * whoever holds the lock next: log it before anything else, so that the log is
	 * whole for the follower that comes next.
	 */
	if ((r = gg_state_load(ctx->root, &state, cause)) != 0 ||
	    (r = gg_journal_open(&j, ctx->root, cause)) != 0 ||
	    (state != NULL && (r = gg_plan_log_end(&j, state, cause)) != 0))
		goto out;
	plan = json_string_value(json_object_get(state, "plan"));
	if (sha256 == NULL && plan == NULL) {
		r = gg_fail(cause, GG_HELPER_REFUSED, "no plan has been applied on this VM yet");
		goto out;
	}
	if (sha256 == NULL)
		sha256 = plan;
	reboot = reboot_here(ctx, state);
	if (!gg_plan_unfinished(state) && reboot == GG_REBOOT_HAPPENED && plan != NULL &&
	    strcmp(plan, sha256) == 0) {
		/* It failed for want of a reboot, rebooted by hand since: go on with it. */
		if ((r = gg_plan_continue(ctx->root, &j, state, from, cause)) != 0)
			goto out;
		r = gg_runner_spawn(ctx, lock, cause);
		goto out;
	}
	if (gg_plan_unfinished(state) && plan != NULL && strcmp(plan, sha256) == 0) {
		/* The same plan is unfinished: continue it, whatever the mode. */
		*from = json_integer_value(json_object_get(state, "plan_seq"));
		r = reboot == GG_REBOOT_GOING ? 0 : gg_runner_spawn(ctx, lock, cause);
		goto out;
	}
	if (mode == START_RESUME) {
		*from = json_integer_value(json_object_get(state, "plan_seq"));
		r = 0;
		goto out;
	}
	if ((r = gg_store_load_manifest(ctx->root, sha256, &m, cause)) != 0 ||
	    (r = gg_release_layout(ctx->root, sha256, plan, &m, cause)) != 0 ||
	    (r = gg_plan_start(ctx->root, &j, sha256, &m, from, cause)) != 0)
		goto out;
	if (plan != NULL && strcmp(plan, sha256) != 0) {
		/* A new payload: what neither it nor the one before needs can go (gc.h). */
		const char *keep[] = { sha256, plan };
		char *why = NULL;

		if (gg_gc(ctx->root, keep, 2, NULL, &why) != 0)
			fprintf(stderr, "gcloud-gpu-helper: nothing collected: %s\n", why);
		free(why);
	}
	r = gg_runner_spawn(ctx, lock, cause);
out:
	gg_journal_close(&j);
	gg_manifest_release(&m);
	json_decref(state);
	return r;
}

/*
 * The lock is held: what runs?  1 when a plan is unfinished and it is sha256's (or
 * sha256 is NULL: any plan will do): follow it.  GG_HELPER_BUSY naming the other
 * plan when it is another's: applying this one would only follow that one to its end
 * and report its success.  0 when state.json shows no unfinished plan: a racing apply
 * is starting one, or a runner is finishing; take the lock again.
 */
static int running_plan(struct helper_context *ctx, const char *sha256, char **cause)
{
	json_t *state = NULL;
	const char *plan;
	int r = 0;

	gg_state_load(ctx->root, &state, NULL);
	plan = json_string_value(json_object_get(state, "plan"));
	if (state != NULL && gg_plan_unfinished(state)) {
		if (sha256 != NULL && plan != NULL && strcmp(plan, sha256) != 0)
			r = gg_fail(cause, GG_HELPER_BUSY, "another plan (%.12s) is running here",
				    plan);
		else
			r = 1;
	}
	json_decref(state);
	return r;
}

static int start_and_follow(struct helper_context *ctx, const char *sha256, enum start_mode mode,
			    long long from, char **cause)
{
	long long plan_from = 1;
	int lock = -1, waited, r;

	umask(077);
	if ((r = gg_root_prepare(ctx->root, cause)) != 0)
		return r;
	for (waited = 0;; waited += APPLY_LOCK_WAIT_MS) {
		r = gg_lock_take(ctx->root, APPLY_LOCK_WAIT_MS, &lock, cause);
		if (r != GG_HELPER_BUSY)
			break;
		free(*cause);
		*cause = NULL;
		if ((r = running_plan(ctx, sha256, cause)) != 0 || waited >= ATTACH_WAIT_MS)
			break;
	}
	if (r == 1 || (r == 0 && lock < 0)) {
		fprintf(stderr, "gcloud-gpu-helper: a plan is already running; following it\n");
		plan_from = attach_from(ctx);
	} else if (r != 0) {
		return r;
	} else {
		r = start_locked(ctx, lock, sha256, mode, &plan_from, cause);
		close(lock);
		if (r != 0)
			return r;
	}
	return gg_follow(ctx, from > 0 ? from : plan_from, 0, stdout, cause);
}

int cmd_apply(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	if (argc != 2 || !gg_sha256_hex_valid(argv[1]))
		return gg_fail(cause, GG_HELPER_USAGE, "usage: apply MANIFEST-SHA256");
	return start_and_follow(ctx, argv[1], START_NEW, 0, cause);
}

int cmd_resume(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	long long from = 0;
	int no_wait, r;

	if ((r = gg_follow_options(argc, argv, 0, &from, &no_wait, cause)) != 0)
		return r;
	return start_and_follow(ctx, NULL, START_RESUME, from, cause);
}

int cmd_ensure(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	long long from = 0;
	int no_wait, r;

	if ((r = gg_follow_options(argc, argv, 0, &from, &no_wait, cause)) != 0)
		return r;
	return start_and_follow(ctx, NULL, START_NEW, from, cause);
}
