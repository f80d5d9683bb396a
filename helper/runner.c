/*
 * runner.c: the runner's loop: which step runs next, what each end means for the plan,
 * the reboot and the plan's end (see runner.h); and spawning the runner detached.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "event.h"
#include "fsutil.h"
#include "hash.h"
#include "plan.h"
#include "reboot.h"
#include "release.h"
#include "step.h"

extern char **environ;

/* A step the runner runs: its record in state.json and its process. */
struct slot {
	json_t *step;              /* NULL: the slot is free */
	struct gg_step proc;
};

/* One runner at work: where it writes, and the steps it runs. */
struct runner {
	struct helper_context *ctx;
	struct gg_journal journal;
	json_t *state;
	char *release;
	char boot_id[64];
	struct slot slots[GG_RUNNER_PARALLEL];
	const char *failed_step;   /* the first step that failed: nothing new starts */
};

static int set_state(struct runner *rn, const char *state, char **cause)
{
	return gg_plan_save(rn->ctx->root, rn->state, state, rn->boot_id, cause);
}

static int set_step_state(struct runner *rn, json_t *step, const char *state, char **cause)
{
	json_object_set_new(step, "state", json_string(state));
	return set_state(rn, json_string_value(json_object_get(rn->state, "state")), cause);
}

static int emit_step(struct runner *rn, const char *name, enum gg_event_type type, json_t *fields,
		     char **cause)
{
	if (fields == NULL)
		fields = json_object();
	if (fields == NULL || json_object_set_new(fields, "step", json_string(name)) != 0) {
		json_decref(fields);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	return gg_journal_emit(&rn->journal, type, fields, NULL, cause);
}

static const char *step_name(json_t *step)
{
	return json_string_value(json_object_get(step, "name"));
}

static int step_is(json_t *step, const char *state)
{
	const char *s = json_string_value(json_object_get(step, "state"));

	return s != NULL && strcmp(s, state) == 0;
}

static json_t *find_step(struct runner *rn, const char *name)
{
	json_t *step;
	size_t i;

	json_array_foreach(json_object_get(rn->state, "steps"), i, step)
		if (name != NULL && step_name(step) != NULL && strcmp(step_name(step), name) == 0)
			return step;
	return NULL;
}

static int slots_busy(const struct runner *rn)
{
	int i, n = 0;

	for (i = 0; i < GG_RUNNER_PARALLEL; i++)
		n += rn->slots[i].step != NULL;
	return n;
}

static int in_slot(const struct runner *rn, json_t *step)
{
	int i;

	for (i = 0; i < GG_RUNNER_PARALLEL; i++)
		if (rn->slots[i].step == step)
			return 1;
	return 0;
}

/*
 * Whether step may start: every step it needs is done or skipped.  A state.json of
 * a runner before `# needs:` has none: such a step needs the one before it.
 */
static int step_ready(struct runner *rn, json_t *step, size_t index)
{
	json_t *needs = json_object_get(step, "needs"), *need, *other;
	size_t i;

	if (!json_is_array(needs)) {
		other = index > 0 ? json_array_get(json_object_get(rn->state, "steps"), index - 1) : NULL;
		return other == NULL || step_is(other, "done") || step_is(other, "skipped");
	}
	json_array_foreach(needs, i, need) {
		other = find_step(rn, json_string_value(need));
		if (other == NULL || !(step_is(other, "done") || step_is(other, "skipped")))
			return 0;
	}
	return 1;
}

/* Whether a reboot is recorded as pending (a step exited 100 on this boot). */
static int reboot_pending(const struct runner *rn)
{
	return json_string_value(json_object_get(rn->state, "reboot_step")) != NULL;
}

/*
 * Start step in a free slot: it runs, step-start, then its check.  Its "running" is
 * saved only when its apply starts (step_ended): a check changes nothing (steps
 * contract), so a runner killed during one loses nothing by finding the step pending
 * and running the check again.  A plan whose checks all pass (a no-op push) then
 * writes two events a step and one state.json at its end, not four durable writes.
 */
static int start_step(struct runner *rn, json_t *step, char **cause)
{
	struct slot *slot = NULL;
	int i, r;

	for (i = 0; i < GG_RUNNER_PARALLEL && slot == NULL; i++)
		if (rn->slots[i].step == NULL)
			slot = &rn->slots[i];
	if (step_name(step) == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "state.json has a step without a name");
	json_object_set_new(step, "state", json_string("running"));
	if ((r = emit_step(rn, step_name(step), GG_EVENT_STEP_START, NULL, cause)) != 0)
		return r;
	slot->step = step;
	return gg_step_start(&slot->proc, rn->ctx->root, rn->release, step_name(step), "check",
			     cause);
}

/*
 * Fill the free slots, in path order.  A step that was running when a runner died
 * starts again (its check decides) whatever happened since; a pending one only while
 * the plan neither failed nor waits for a reboot: those let the steps beside them
 * end, and start nothing new.
 */
static int start_ready(struct runner *rn, char **cause)
{
	json_t *steps = json_object_get(rn->state, "steps"), *step;
	size_t i;
	int r;

	json_array_foreach(steps, i, step) {
		if (slots_busy(rn) == GG_RUNNER_PARALLEL)
			break;
		if (in_slot(rn, step))
			continue;
		if (step_is(step, "running") ||
		    (step_is(step, "pending") && rn->failed_step == NULL && !reboot_pending(rn) &&
		     step_ready(rn, step, i)))
			if ((r = start_step(rn, step, cause)) != 0)
				return r;
	}
	return 0;
}

/* A step's apply exited 100: it is done, and the plan reboots once the others end. */
static int step_wants_reboot(struct runner *rn, json_t *step, char **cause)
{
	int r;

	/*
	 * The unit first: a plan marked "rebooting" must be able to come back by itself.
	 * Then the step's done and the reboot it needs in one state.json replacement:
	 * killed (or a full disk) before it, the step is not done and runs again (steps
	 * are idempotent); after it, the reboot is pending and the next runner on this
	 * boot lets the steps that ran beside it end and then asks for it, rather than go
	 * on.  The plan is "rebooting" only once nothing runs any more.
	 */
	if ((r = gg_boot_unit_install(rn->ctx->self, cause)) != 0 ||
	    (r = emit_step(rn, step_name(step), GG_EVENT_STEP_DONE, NULL, cause)) != 0)
		return r;
	json_object_set_new(step, "state", json_string("done"));
	if (!reboot_pending(rn)) {
		json_object_set_new(rn->state, "reboot_boot_id", json_string(rn->boot_id));
		json_object_set_new(rn->state, "reboot_step", json_string(step_name(step)));
		json_object_del(rn->state, "reboot_asked");
	}
	return set_state(rn, slots_busy(rn) > 1 ? "running" : "rebooting", cause);
}

/* The step in slot ended its check or apply: what that means for it and the plan. */
static int step_ended(struct runner *rn, struct slot *slot, char **cause)
{
	json_t *step = slot->step;
	const char *name = step_name(step);
	int code = slot->proc.code, r;

	if (strcmp(slot->proc.action, "check") == 0) {
		/* The apply changes the machine: it runs only once "running" is saved. */
		if (code != 0)
			return (r = set_step_state(rn, step, "running", cause)) != 0 ? r :
			       gg_step_start(&slot->proc, rn->ctx->root, rn->release, name, "apply",
					     cause);
		if ((r = emit_step(rn, name, GG_EVENT_STEP_SKIPPED, NULL, cause)) != 0)
			return r;
		/* Saved with the next change (at the latest the plan's end): see start_step. */
		json_object_set_new(step, "state", json_string("skipped"));
		r = 0;
	} else if (code == GG_STEP_EXIT_REBOOT) {
		r = step_wants_reboot(rn, step, cause);
	} else if (code == 0) {
		if ((r = emit_step(rn, name, GG_EVENT_STEP_DONE, NULL, cause)) != 0)
			return r;
		r = set_step_state(rn, step, "done", cause);
	} else {
		if ((r = emit_step(rn, name, GG_EVENT_STEP_FAILED,
				   json_pack("{s:i, s:o*, s:s}", "code", code, "tail",
					     gg_step_tail(&slot->proc), "msg", "the step's apply failed"),
				   cause)) != 0)
			return r;
		if (rn->failed_step == NULL)
			rn->failed_step = name;
		r = set_step_state(rn, step, "failed", cause);
	}
	slot->step = NULL;
	return r;
}

/* Wait for any running step to have something, then pump each one. */
static int pump_steps(struct runner *rn, char **cause)
{
	struct pollfd fds[GG_RUNNER_PARALLEL * GG_STEP_FDS];
	int i, n = 0, timeout = -1, ended, r;

	for (i = 0; i < GG_RUNNER_PARALLEL; i++) {
		if (rn->slots[i].step == NULL)
			continue;
		n += gg_step_fds(&rn->slots[i].proc, fds + n);
		if (gg_step_needs_timeout(&rn->slots[i].proc))
			timeout = GG_STEP_POLL_MS;
	}
	if (n > 0 && poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot wait for the steps");
	for (i = 0; i < GG_RUNNER_PARALLEL; i++) {
		if (rn->slots[i].step == NULL)
			continue;
		if ((r = gg_step_pump(&rn->slots[i].proc, &rn->journal, &ended, cause)) != 0 ||
		    (ended && (r = step_ended(rn, &rn->slots[i], cause)) != 0))
			return r;
	}
	return 0;
}

/*
 * The plan ends: done, or failed (failed_step names the first step that failed, msg
 * may say why).  state.json says so first, with the end event it is about to log
 * (its seq, type and fields under "end"), and then the event is logged: a reader
 * never finds a finished log beside a running state, and a runner killed between
 * the two logs the event when it next starts (gg_plan_log_end).
 */
static int end_plan(struct runner *rn, const char *failed_step, const char *msg, char **cause)
{
	int failed = failed_step != NULL || msg != NULL, r;
	json_t *end;

	end = json_pack("{s:I, s:s}", "seq", (json_int_t)(rn->journal.last_seq + 1), "type",
			failed ? "failed" : "done");
	if (end != NULL && failed_step != NULL)
		json_object_set_new(end, "step", json_string(failed_step));
	if (end != NULL && msg != NULL)
		json_object_set_new(end, "msg", json_string(msg));
	if (end == NULL || json_object_set_new(rn->state, "end", end) != 0)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if ((r = set_state(rn, failed ? "failed" : "done", cause)) != 0)
		return r;
	return gg_plan_log_end(&rn->journal, rn->state, cause);
}

/* The plan ran to its end: the boot unit goes, then end_plan. */
static int finish(struct runner *rn, const char *failed_step, char **cause)
{
	int r;

	gg_boot_unit_remove();
	if ((r = end_plan(rn, failed_step, NULL, cause)) != 0)
		return r;
	return failed_step != NULL ? GG_HELPER_FAILED : GG_HELPER_OK;
}

/*
 * The VM did not reboot: the command failed (code, its exit status) or, code -1,
 * the boot id is still the one it was asked on GG_REBOOT_WAIT_S later.  The plan
 * fails and the user is told to reboot by hand; the boot unit stays, so that the
 * plan goes on after that boot (gg_plan_continue), as `resume` also does then.
 */
static int reboot_failed(struct runner *rn, int code, char **cause)
{
	const char *step = json_string_value(json_object_get(rn->state, "reboot_step"));
	char what[160];
	json_t *fields;
	int r;

	if (code >= 0)
		snprintf(what, sizeof what, "the reboot command failed (exit %d)", code);
	else
		snprintf(what, sizeof what, "the VM did not go down within %lld s of the reboot command",
			 gg_reboot_wait_s());
	fields = json_pack("{s:s, s:i}", "msg", what, "code", code);
	if (step != NULL && fields != NULL)
		json_object_set_new(fields, "step", json_string(step));
	if ((r = gg_journal_emit(&rn->journal, GG_EVENT_LOG, fields, NULL, cause)) != 0)
		return r;
	gg_fail(cause, GG_HELPER_FAILED,
		"the VM did not reboot: %s; reboot it yourself, then run 'gcloud-gpu reattach': "
		"the plan goes on after the boot", what);
	json_object_set_new(rn->state, "reboot_failed", json_true());
	if ((r = end_plan(rn, step, *cause, NULL)) != 0)
		return r;
	return GG_HELPER_FAILED;
}

/*
 * Ask for the reboot that state.json records as pending (state "rebooting"): the
 * `reboot` event, reboot_asked saved, the command.  Failing to log either does not
 * hold the reboot back (a full disk is no reason to stay unrebooted): without
 * reboot_asked, a runner started again on this boot asks once more.
 */
static int ask_reboot(struct runner *rn, char **cause)
{
	const char *step = json_string_value(json_object_get(rn->state, "reboot_step"));
	json_t *fields = json_pack("{s:s}", "boot_id", rn->boot_id);
	int r;

	if (step != NULL && fields != NULL)
		json_object_set_new(fields, "step", json_string(step));
	gg_journal_emit(&rn->journal, GG_EVENT_REBOOT, fields, NULL, NULL);
	json_object_set_new(rn->state, "reboot_asked", json_integer(gg_boot_seconds()));
	set_state(rn, "rebooting", NULL);
	r = gg_reboot_command();
	if (r == 0)
		return 0;
	return reboot_failed(rn, r < 0 ? 127 : r, cause);
}

static int run_plan(struct runner *rn, char **cause)
{
	const char *state = json_string_value(json_object_get(rn->state, "state"));
	const char *plan = json_string_value(json_object_get(rn->state, "plan"));
	const char *reboot_boot = json_string_value(json_object_get(rn->state, "reboot_boot_id"));
	json_t *steps = json_object_get(rn->state, "steps"), *step;
	int r;
	size_t i;

	if (plan == NULL || !gg_sha256_hex_valid(plan) || !json_is_array(steps))
		return gg_fail(cause, GG_HELPER_SYSTEM, "state.json names no valid plan");
	rn->release = gg_release_path(rn->ctx->root, plan);
	if (rn->release == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (strcmp(state, "rebooting") == 0) {
		switch (gg_plan_reboot(rn->state, rn->boot_id)) {
		case GG_REBOOT_TO_ASK:
			return ask_reboot(rn, cause); /* a runner died before asking */
		case GG_REBOOT_GOING:
			return 0; /* asked for, and the VM is going down: nothing to do */
		case GG_REBOOT_OVERDUE:
			return reboot_failed(rn, -1, cause);
		default:
			break;
		}
	}
	/*
	 * Rebooted since the reboot was recorded (asked for, or still waiting for the
	 * steps beside it when the VM went down): the plan goes on.
	 */
	if (reboot_boot != NULL && strcmp(reboot_boot, rn->boot_id) != 0) {
		json_object_del(rn->state, "reboot_boot_id");
		json_object_del(rn->state, "reboot_step");
		json_object_del(rn->state, "reboot_asked");
		if ((r = set_state(rn, "running", cause)) != 0)
			return r;
	}
	json_array_foreach(steps, i, step)
		if (step_is(step, "failed") && rn->failed_step == NULL)
			rn->failed_step = step_name(step);
	for (;;) {
		if ((r = start_ready(rn, cause)) != 0)
			return r;
		if (slots_busy(rn) == 0)
			break;
		if ((r = pump_steps(rn, cause)) != 0)
			return r;
	}
	if (rn->failed_step != NULL)
		return finish(rn, rn->failed_step, cause);
	if (reboot_pending(rn)) {
		if ((r = set_state(rn, "rebooting", cause)) != 0)
			return r;
		return ask_reboot(rn, cause);
	}
	json_array_foreach(steps, i, step)
		if (!step_is(step, "done") && !step_is(step, "skipped"))
			return gg_fail(cause, GG_HELPER_SYSTEM, "step '%s' can never start: what it "
				       "needs did not end", step_name(step));
	return finish(rn, NULL, cause);
}

/*
 * The plan cannot go on for a reason no retry removes (an event that cannot be
 * written, a step that is not a file): fail it in state.json, with a `failed` event
 * saying why when one can be written.  Left `running`, every `resume` would start the
 * runner again and run the step's apply again, for ever.
 */
static void fail_plan(struct runner *rn, const char *why)
{
	char *ignored = NULL;

	gg_boot_unit_remove();
	end_plan(rn, NULL, why != NULL ? why : "the plan cannot go on", &ignored);
	free(ignored);
}

int gg_runner_run(struct helper_context *ctx, int lock_fd, char **cause)
{
	struct runner rn;
	int lock = lock_fd, r = 0, i;

	memset(&rn, 0, sizeof rn);
	rn.ctx = ctx;
	rn.journal = (struct gg_journal)GG_JOURNAL_INIT;
	for (i = 0; i < GG_RUNNER_PARALLEL; i++)
		gg_step_init(&rn.slots[i].proc);
	gg_read_boot_id(ctx->boot_id_file, rn.boot_id);
	gg_journal_kill_points();
	umask(077);
	/* A lock handed over by apply is ours already (flock belongs to the open file). */
	if (lock >= 0 && (flock(lock, LOCK_EX | LOCK_NB) != 0 || fcntl(lock, F_SETFD, FD_CLOEXEC) != 0)) {
		close(lock);
		lock = -1;
	}
	if ((r = gg_root_prepare(ctx->root, cause)) != 0 ||
	    (lock < 0 && (r = gg_lock_take(ctx->root, GG_RUNNER_LOCK_WAIT_MS, &lock, cause)) != 0) ||
	    (r = gg_journal_open(&rn.journal, ctx->root, cause)) != 0 ||
	    (r = gg_state_load(ctx->root, &rn.state, cause)) != 0)
		goto out;
	/* A runner killed between saving the plan's end and logging it: log it now. */
	if (rn.state != NULL && (r = gg_plan_log_end(&rn.journal, rn.state, cause)) != 0)
		goto out;
	/* Failed for want of a reboot, and rebooted since (by hand): go on. */
	if (rn.state != NULL && !gg_plan_unfinished(rn.state) &&
	    gg_plan_reboot(rn.state, rn.boot_id) == GG_REBOOT_HAPPENED &&
	    (r = gg_plan_continue(ctx->root, &rn.journal, rn.state, NULL, cause)) != 0)
		goto out;
	if (rn.state == NULL || !gg_plan_unfinished(rn.state))
		goto out; /* nothing to do: another runner finished it */
	r = run_plan(&rn, cause);
	if (r == GG_HELPER_REFUSED)
		fail_plan(&rn, *cause);
out:
	for (i = 0; i < GG_RUNNER_PARALLEL; i++)
		gg_step_release(&rn.slots[i].proc);
	gg_journal_close(&rn.journal);
	json_decref(rn.state);
	free(rn.release);
	if (lock >= 0)
		close(lock);
	return r;
}

/* systemd-run's path, when systemd runs here; NULL otherwise. */
static const char *systemd_run_path(void)
{
	static const char *const candidates[] = { "/usr/bin/systemd-run", "/bin/systemd-run" };
	size_t i;

	if (access("/run/systemd/system", F_OK) != 0)
		return NULL;
	for (i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

static int spawn_systemd(struct helper_context *ctx, const char *systemd_run)
{
	static const char *const pass[] = { GG_ENV_ROOT, GG_ENV_BOOT_ID_FILE, GG_ENV_REBOOT_COMMAND,
					    GG_ENV_UNIT_DIR, GG_ENV_REBOOT_WAIT, "PATH" };
	char *argv[16], *setenv_args[6] = { NULL };
	size_t i, n = 0;
	int r;

	argv[n++] = (char *)systemd_run;
	argv[n++] = "--quiet";
	argv[n++] = "--collect";
	argv[n++] = "--description=gcloud-gpu step runner";
	for (i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (getenv(pass[i]) != NULL &&
		    asprintf(&setenv_args[i], "--setenv=%s=%s", pass[i], getenv(pass[i])) >= 0)
			argv[n++] = setenv_args[i];
	argv[n++] = (char *)ctx->self;
	argv[n++] = "run";
	argv[n] = NULL;
	r = gg_command_run(argv);
	for (i = 0; i < sizeof pass / sizeof pass[0]; i++)
		free(setenv_args[i]);
	return r;
}

int gg_runner_spawn(struct helper_context *ctx, int lock_fd, char **cause)
{
	const char *systemd_run = systemd_run_path();
	char *log = NULL;
	int status, fd;
	pid_t pid;

	if (systemd_run != NULL && spawn_systemd(ctx, systemd_run) == 0)
		return 0;
	log = gg_path_join(ctx->root, GG_FILE_RUNNER_LOG);
	if (log == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	pid = fork();
	if (pid < 0) {
		free(log);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot start the runner");
	}
	if (pid == 0) {
		/* First child: a new session, then a grandchild that no terminal can reach. */
		char *argv[] = { (char *)ctx->self, "run", "--lock-fd", "3", NULL };

		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		fd = open("/dev/null", O_RDWR);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(1);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		/* dup2 onto itself keeps close-on-exec: clear it, the runner needs fd 3. */
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || dup2(lock_fd, 3) < 0 ||
		    fcntl(3, F_SETFD, 0) < 0)
			_exit(1);
		closefrom(4);
		if (chdir("/") != 0)
			_exit(1);
		signal(SIGPIPE, SIG_DFL);
		execve(ctx->self, argv, environ);
		_exit(127);
	}
	free(log);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return gg_fail(cause, GG_HELPER_SYSTEM, "cannot start the runner");
	return 0;
}
