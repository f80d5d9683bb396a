/*
 * runner.c: running a plan's steps, turning their output into events, and
 * surviving kills and reboots (see runner.h).
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "event.h"
#include "fsutil.h"
#include "hash.h"
#include "release.h"

#define TAIL_LINES 20
/* Longer output lines are cut into pieces of this size, each its own event. */
#define MAX_OUTPUT_LINE 8192
#define STEP_SUFFIX ".sh"

extern char **environ;

int gg_step_path_valid(const char *path)
{
	return fnmatch("steps/[0-9][0-9]-*.sh", path, FNM_PATHNAME | FNM_PERIOD) == 0;
}

int gg_parse_progress(const char *line, int *pct, const char **msg)
{
	char *end;
	double value;

	if (strncmp(line, "progress ", 9) != 0)
		return -1;
	line += 9;
	while (*line == ' ')
		line++;
	errno = 0;
	value = strtod(line, &end);
	if (end == line || errno != 0 || isnan(value) || (*end != '\0' && *end != ' ' && *end != '%'))
		return -1;
	if (*end == '%')
		end++;
	while (*end == ' ')
		end++;
	*pct = value < 0 ? 0 : value > 100 ? 100 : (int)value;
	*msg = end;
	return 0;
}

int gg_plan_unfinished(json_t *state)
{
	const char *s = json_string_value(json_object_get(state, "state"));

	return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "rebooting") == 0);
}

/* Seconds since this boot (CLOCK_BOOTTIME): what reboot_asked is measured in. */
static long long boot_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return -1;
	return (long long)ts.tv_sec;
}

static long long reboot_wait_s(void)
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
	now = boot_seconds();
	ago = now - json_integer_value(asked);
	return now >= 0 && ago >= 0 && ago < reboot_wait_s() ? GG_REBOOT_GOING : GG_REBOOT_OVERDUE;
}

/* The plan's steps saved, then its `plan` event (see gg_plan_start). */
static int plan_announce(const char *root, struct gg_journal *j, json_t *state,
			 long long *plan_seq, char **cause)
{
	json_t *names = json_array(), *step;
	size_t i;
	int r;

	if (names == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	json_array_foreach(json_object_get(state, "steps"), i, step)
		json_array_append(names, json_object_get(step, "name"));
	if (json_object_set_new(state, "plan_seq", json_integer(j->last_seq + 1)) != 0) {
		json_decref(names);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	/* State first: a follower that reads it finds the plan_seq of the coming event. */
	if ((r = gg_state_save(root, state, cause)) != 0) {
		json_decref(names);
		return r;
	}
	return gg_journal_emit(j, GG_EVENT_PLAN,
			       json_pack("{s:o, s:O}", "steps", names, "plan",
					 json_object_get(state, "plan")),
			       plan_seq, cause);
}

int gg_plan_continue(const char *root, struct gg_journal *j, json_t *state, long long *plan_seq,
		     char **cause)
{
	json_object_del(state, "reboot_boot_id");
	json_object_del(state, "reboot_step");
	json_object_del(state, "reboot_asked");
	json_object_del(state, "reboot_failed");
	json_object_set_new(state, "state", json_string("running"));
	return plan_announce(root, j, state, plan_seq, cause);
}

int gg_plan_start(const char *root, struct gg_journal *j, const char *sha256,
		  const struct gg_manifest *m, long long *plan_seq, char **cause)
{
	json_t *state = NULL, *steps;
	char name[GG_MANIFEST_MAX_COMPONENT + 1];
	size_t i, len;
	int r = GG_HELPER_SYSTEM;

	steps = json_array();
	state = json_pack("{s:s, s:s, s:I, s:o}", "plan", sha256, "state", "running", "plan_seq",
			  (json_int_t)(j->last_seq + 1), "steps", steps);
	if (state == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	for (i = 0; i < m->count; i++) {
		if (!gg_step_path_valid(m->files[i].path))
			continue;
		len = strlen(m->files[i].path) - strlen("steps/") - strlen(STEP_SUFFIX);
		snprintf(name, sizeof name, "%.*s", (int)len, m->files[i].path + strlen("steps/"));
		if (json_array_append_new(steps, json_pack("{s:s, s:s}", "name", name, "state",
							   "pending")) != 0) {
			gg_fail(cause, r, "out of memory");
			goto out;
		}
	}
	r = plan_announce(root, j, state, plan_seq, cause);
out:
	json_decref(state);
	return r;
}

/* One runner at work: where it writes, and the output of the step now running. */
struct runner {
	struct helper_context *ctx;
	struct gg_journal journal;
	json_t *state;
	char *release;
	char boot_id[64];
	const char *step;          /* name of the step running */
	struct gg_buf out;         /* stdout+stderr not yet ended by a newline */
	struct gg_buf progress;    /* fd 3, likewise */
	char *tail[TAIL_LINES];    /* ring of the last output lines */
	size_t tail_next, tail_count;
};

static void tail_reset(struct runner *rn)
{
	size_t i;

	for (i = 0; i < TAIL_LINES; i++) {
		free(rn->tail[i]);
		rn->tail[i] = NULL;
	}
	rn->tail_next = rn->tail_count = 0;
}

/* A JSON string of bytes a step wrote: invalid UTF-8 becomes '?' so it can travel. */
static json_t *output_string(const char *text, size_t len)
{
	json_t *s = json_stringn(text, len);
	char *copy;
	size_t i;

	if (s != NULL)
		return s;
	copy = malloc(len + 1);
	if (copy == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	s = json_stringn(copy, len);
	free(copy);
	return s;
}

static int emit_step(struct runner *rn, enum gg_event_type type, json_t *fields, char **cause)
{
	if (fields == NULL)
		fields = json_object();
	if (fields == NULL || json_object_set_new(fields, "step", json_string(rn->step)) != 0) {
		json_decref(fields);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	return gg_journal_emit(&rn->journal, type, fields, NULL, cause);
}

/* One output line: a log event, and into the tail. */
static int output_line(struct runner *rn, const char *line, size_t len, char **cause)
{
	json_t *msg = output_string(line, len);

	free(rn->tail[rn->tail_next]);
	rn->tail[rn->tail_next] = json_is_string(msg) ? strdup(json_string_value(msg)) : NULL;
	rn->tail_next = (rn->tail_next + 1) % TAIL_LINES;
	if (rn->tail_count < TAIL_LINES)
		rn->tail_count++;
	if (msg == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	return emit_step(rn, GG_EVENT_LOG, json_pack("{s:o}", "msg", msg), cause);
}

/* One fd-3 line: a progress event when it parses, nothing when it does not. */
static int progress_line(struct runner *rn, const char *text, size_t len, char **cause)
{
	char *line = strndup(text, len);
	const char *msg;
	json_t *m = NULL;
	int pct, r = 0;

	if (line == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (gg_parse_progress(line, &pct, &msg) == 0 && (m = output_string(msg, strlen(msg))) != NULL)
		r = emit_step(rn, GG_EVENT_PROGRESS, json_pack("{s:i, s:o}", "pct", pct, "msg", m),
			      cause);
	free(line);
	return r;
}

/*
 * Emit the whole lines in b, and when flush (the step ended) the rest too; lines
 * longer than MAX_OUTPUT_LINE are cut into pieces.  What is kept is an unended line.
 */
static int drain_lines(struct runner *rn, struct gg_buf *b, int is_progress, int flush,
		       char **cause)
{
	char *nl;
	size_t len, take;
	int r;

	while (b->len > 0) {
		nl = memchr(b->data, '\n', b->len);
		if (nl != NULL && (size_t)(nl - b->data) <= MAX_OUTPUT_LINE) {
			len = (size_t)(nl - b->data);
			take = len + 1;
		} else if (b->len >= MAX_OUTPUT_LINE) {
			len = take = MAX_OUTPUT_LINE;
		} else if (flush) {
			len = take = b->len;
		} else {
			return 0;
		}
		if (len > 0 && b->data[len - 1] == '\r')
			len--;
		r = is_progress ? progress_line(rn, b->data, len, cause) :
				  output_line(rn, b->data, len, cause);
		if (r != 0)
			return r;
		gg_buf_consume(b, take);
	}
	return 0;
}

/* The child side of a step: its environment and descriptors, then exec. */
static void exec_step(struct runner *rn, const char *path, const char *action, int out, int prog)
{
	char *argv[4];
	int null = open("/dev/null", O_RDONLY);

	/* Die with the runner: a step must not live on behind a killed runner. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	umask(022);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    dup2(prog, 3) < 0 || fcntl(3, F_SETFD, 0) < 0 || chdir(rn->release) != 0)
		_exit(127);
	setenv("GCLOUD_GPU_ROOT", rn->ctx->root, 1);
	setenv("GCLOUD_GPU_RELEASE", rn->release, 1);
	setenv("GCLOUD_GPU_STEP", rn->step, 1);
	if (getenv("PATH") == NULL)
		setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	argv[0] = (char *)path;
	argv[1] = (char *)action;
	argv[2] = NULL;
	execve(path, argv, environ);
	/* Not executable (mode 0644 in the manifest): run it with the shell. */
	argv[0] = "sh";
	argv[1] = (char *)path;
	argv[2] = (char *)action;
	argv[3] = NULL;
	execve("/bin/sh", argv, environ);
	_exit(127);
}

/* Read what is there on fd into b; returns 0 at EOF, 1 when more may come. */
static int read_some(int fd, struct gg_buf *b)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof chunk);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	if (gg_buf_add(b, chunk, (size_t)n) != 0)
		return 0;
	return 1;
}

/*
 * Run steps/<step>.sh ACTION, turning its output into events; *code is its exit
 * status (128+N for a signal).
 */
static int run_script(struct runner *rn, const char *action, int *code, char **cause)
{
	char path[GG_MANIFEST_MAX_PATH + 16];
	int out[2] = { -1, -1 }, prog[2] = { -1, -1 };
	struct pollfd fds[2];
	struct stat st;
	int status, r = GG_HELPER_SYSTEM, exited = 0, open_count;
	pid_t pid;

	snprintf(path, sizeof path, "steps/%s%s", rn->step, STEP_SUFFIX);
	if (!gg_step_path_valid(path))
		return gg_fail(cause, GG_HELPER_REFUSED, "'%s' is not a step", path);
	snprintf(path, sizeof path, "%s/steps/%s%s", rn->release, rn->step, STEP_SUFFIX);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return gg_fail(cause, GG_HELPER_REFUSED, "step '%s' is not a regular file in the release",
			       rn->step);
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(prog, O_CLOEXEC) != 0) {
		gg_fail_errno(cause, r, errno, "cannot create a pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		gg_fail_errno(cause, r, errno, "cannot start step '%s'", rn->step);
		goto out;
	}
	if (pid == 0)
		exec_step(rn, path, action, out[1], prog[1]);
	close(out[1]);
	close(prog[1]);
	out[1] = prog[1] = -1;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(prog[0], F_SETFL, O_NONBLOCK);
	fds[0].fd = out[0];
	fds[1].fd = prog[0];
	for (;;) {
		fds[0].events = fds[1].events = POLLIN;
		open_count = (fds[0].fd >= 0) + (fds[1].fd >= 0);
		if (open_count == 0)
			break;
		/* A daemon the step left behind may keep the pipes open: stop at its exit. */
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
		if (poll(fds, 2, exited ? 0 : 200) <= 0 && exited)
			break;
		if (fds[0].fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !read_some(fds[0].fd, &rn->out))
			fds[0].fd = -1;
		if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !read_some(fds[1].fd, &rn->progress))
			fds[1].fd = -1;
		if ((r = drain_lines(rn, &rn->progress, 1, 0, cause)) != 0 ||
		    (r = drain_lines(rn, &rn->out, 0, 0, cause)) != 0)
			goto out;
		r = GG_HELPER_SYSTEM;
	}
	if (!exited && waitpid(pid, &status, 0) != pid) {
		gg_fail_errno(cause, r, errno, "cannot wait for step '%s'", rn->step);
		goto out;
	}
	if ((r = drain_lines(rn, &rn->progress, 1, 1, cause)) != 0 ||
	    (r = drain_lines(rn, &rn->out, 0, 1, cause)) != 0)
		goto out;
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r = 0;
out:
	gg_buf_reset(&rn->out);
	gg_buf_reset(&rn->progress);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (prog[0] >= 0)
		close(prog[0]);
	if (prog[1] >= 0)
		close(prog[1]);
	return r;
}

static int set_state(struct runner *rn, const char *state, char **cause)
{
	json_object_set_new(rn->state, "state", json_string(state));
	json_object_set_new(rn->state, "boot_id", json_string(rn->boot_id));
	return gg_state_save(rn->ctx->root, rn->state, cause);
}

static int set_step_state(struct runner *rn, json_t *step, const char *state, char **cause)
{
	json_object_set_new(step, "state", json_string(state));
	return set_state(rn, json_string_value(json_object_get(rn->state, "state")), cause);
}

/*
 * The boot unit: a oneshot service, enabled the way `systemctl enable` does it (a
 * link in multi-user.target.wants), that starts `run` once after the reboot.
 */
static int install_boot_unit(struct runner *rn, char **cause)
{
	static const char *const pass[] = { GG_ENV_ROOT, GG_ENV_BOOT_ID_FILE, GG_ENV_REBOOT_COMMAND,
					    GG_ENV_UNIT_DIR, GG_ENV_REBOOT_WAIT };
	struct gg_buf unit = GG_BUF_INIT;
	char *dir = gg_units_dir();
	size_t i;
	int r = 0;

	if (dir == NULL)
		return 0;
	gg_buf_addf(&unit, "# Written by gcloud-gpu-helper; removed when the plan ends.\n"
			   "[Unit]\nDescription=gcloud-gpu: continue the plan after a reboot\n"
			   "After=network-online.target\nWants=network-online.target\n\n"
			   "[Service]\nType=oneshot\nExecStart=%s run\n", rn->ctx->self);
	for (i = 0; i < sizeof pass / sizeof pass[0]; i++)
		if (getenv(pass[i]) != NULL)
			gg_buf_addf(&unit, "Environment=\"%s=%s\"\n", pass[i], getenv(pass[i]));
	gg_buf_addstr(&unit, "\n[Install]\nWantedBy=multi-user.target\n");
	r = gg_unit_install(dir, GG_UNIT_NAME, unit.data, "multi-user.target", 0, cause);
	gg_buf_release(&unit);
	free(dir);
	return r;
}

static void remove_boot_unit(void)
{
	char *dir = gg_units_dir();

	if (dir != NULL)
		gg_unit_remove(dir, GG_UNIT_NAME, "multi-user.target");
	free(dir);
}

/* Run a command and wait for it; returns its exit status or -1. */
static int run_command(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
			 reboot_wait_s());
	fields = json_pack("{s:s, s:i}", "msg", what, "code", code);
	if (step != NULL && fields != NULL)
		json_object_set_new(fields, "step", json_string(step));
	if ((r = gg_journal_emit(&rn->journal, GG_EVENT_LOG, fields, NULL, cause)) != 0)
		return r;
	gg_fail(cause, GG_HELPER_FAILED,
		"the VM did not reboot: %s; reboot it yourself, then run 'gcloud-gpu reattach': "
		"the plan goes on after the boot", what);
	fields = json_pack("{s:s}", "msg", *cause);
	if (step != NULL && fields != NULL)
		json_object_set_new(fields, "step", json_string(step));
	/* Events first, then the state that follows from them (as finish does). */
	if ((r = gg_journal_emit(&rn->journal, GG_EVENT_FAILED, fields, NULL, NULL)) != 0)
		return r;
	json_object_set_new(rn->state, "reboot_failed", json_true());
	if ((r = set_state(rn, "failed", NULL)) != 0)
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
	const char *command = getenv(GG_ENV_REBOOT_COMMAND);
	const char *step = json_string_value(json_object_get(rn->state, "reboot_step"));
	char *sh[] = { "/bin/sh", "-c", (char *)command, NULL };
	char *systemctl[] = { "/bin/systemctl", "reboot", NULL };
	char *reboot[] = { "/sbin/reboot", NULL };
	json_t *fields = json_pack("{s:s}", "boot_id", rn->boot_id);
	int r;

	if (step != NULL && fields != NULL)
		json_object_set_new(fields, "step", json_string(step));
	gg_journal_emit(&rn->journal, GG_EVENT_REBOOT, fields, NULL, NULL);
	json_object_set_new(rn->state, "reboot_asked", json_integer(boot_seconds()));
	set_state(rn, "rebooting", NULL);
	if (command != NULL && command[0] != '\0')
		r = run_command(sh);
	else if (access("/run/systemd/system", F_OK) == 0)
		r = run_command(systemctl);
	else
		r = run_command(reboot);
	if (r == 0)
		return 0;
	return reboot_failed(rn, r < 0 ? 127 : r, cause);
}

/* The plan ended: done or failed. */
static int finish(struct runner *rn, int failed, char **cause)
{
	int r;

	remove_boot_unit();
	if ((r = gg_journal_emit(&rn->journal, failed ? GG_EVENT_FAILED : GG_EVENT_DONE,
				 failed ? json_pack("{s:s}", "step", rn->step) : NULL, NULL,
				 cause)) != 0)
		return r;
	if ((r = set_state(rn, failed ? "failed" : "done", cause)) != 0)
		return r;
	return failed ? GG_HELPER_FAILED : GG_HELPER_OK;
}

/* One step: check, then apply when the check fails.  *reboot when apply said 100. */
static int run_step(struct runner *rn, json_t *step, int *reboot, int *failed, char **cause)
{
	json_t *tail;
	size_t i;
	int code, r;

	rn->step = json_string_value(json_object_get(step, "name"));
	if (rn->step == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "state.json has a step without a name");
	if ((r = set_step_state(rn, step, "running", cause)) != 0 ||
	    (r = emit_step(rn, GG_EVENT_STEP_START, NULL, cause)) != 0 ||
	    (r = run_script(rn, "check", &code, cause)) != 0)
		return r;
	if (code == 0) {
		if ((r = emit_step(rn, GG_EVENT_STEP_SKIPPED, NULL, cause)) != 0)
			return r;
		return set_step_state(rn, step, "skipped", cause);
	}
	tail_reset(rn);
	if ((r = run_script(rn, "apply", &code, cause)) != 0)
		return r;
	if (code == GG_STEP_EXIT_REBOOT) {
		/*
		 * The unit first: a plan marked "rebooting" must be able to come back by
		 * itself.  Then the step's done and the reboot it needs in one state.json
		 * replacement: killed (or a full disk) before it, the step is not done and
		 * runs again (steps are idempotent); after it, the reboot is pending and the
		 * next runner on this boot asks for it rather than go on.
		 */
		if ((r = install_boot_unit(rn, cause)) != 0 ||
		    (r = emit_step(rn, GG_EVENT_STEP_DONE, NULL, cause)) != 0)
			return r;
		*reboot = 1;
		json_object_set_new(step, "state", json_string("done"));
		json_object_set_new(rn->state, "reboot_boot_id", json_string(rn->boot_id));
		json_object_set_new(rn->state, "reboot_step", json_string(rn->step));
		json_object_del(rn->state, "reboot_asked");
		return set_state(rn, "rebooting", cause);
	}
	if (code == 0) {
		if ((r = emit_step(rn, GG_EVENT_STEP_DONE, NULL, cause)) != 0)
			return r;
		return set_step_state(rn, step, "done", cause);
	}
	*failed = 1;
	tail = json_array();
	for (i = 0; tail != NULL && i < rn->tail_count; i++) {
		const char *line = rn->tail[(rn->tail_next + TAIL_LINES - rn->tail_count + i) % TAIL_LINES];

		json_array_append_new(tail, json_string(line != NULL ? line : ""));
	}
	if ((r = emit_step(rn, GG_EVENT_STEP_FAILED,
			   json_pack("{s:i, s:o*, s:s}", "code", code, "tail", tail, "msg",
				     "the step's apply failed"), cause)) != 0)
		return r;
	return set_step_state(rn, step, "failed", cause);
}

static int run_plan(struct runner *rn, char **cause)
{
	const char *state = json_string_value(json_object_get(rn->state, "state"));
	const char *plan = json_string_value(json_object_get(rn->state, "plan"));
	json_t *steps = json_object_get(rn->state, "steps"), *step;
	int reboot = 0, failed = 0, r;
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
		json_object_del(rn->state, "reboot_asked");
		if ((r = set_state(rn, "running", cause)) != 0)
			return r;
	}
	json_array_foreach(steps, i, step) {
		const char *s = json_string_value(json_object_get(step, "state"));

		if (s != NULL && (strcmp(s, "done") == 0 || strcmp(s, "skipped") == 0))
			continue;
		if ((r = run_step(rn, step, &reboot, &failed, cause)) != 0)
			return r;
		if (failed)
			return finish(rn, 1, cause);
		if (reboot)
			return ask_reboot(rn, cause);
	}
	rn->step = NULL;
	return finish(rn, 0, cause);
}

int gg_runner_run(struct helper_context *ctx, int lock_fd, char **cause)
{
	struct runner rn;
	int lock = lock_fd, r = 0;

	memset(&rn, 0, sizeof rn);
	rn.ctx = ctx;
	rn.journal = (struct gg_journal)GG_JOURNAL_INIT;
	gg_buf_init(&rn.out);
	gg_buf_init(&rn.progress);
	gg_read_boot_id(ctx->boot_id_file, rn.boot_id);
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
	/* Failed for want of a reboot, and rebooted since (by hand): go on. */
	if (rn.state != NULL && !gg_plan_unfinished(rn.state) &&
	    gg_plan_reboot(rn.state, rn.boot_id) == GG_REBOOT_HAPPENED &&
	    (r = gg_plan_continue(ctx->root, &rn.journal, rn.state, NULL, cause)) != 0)
		goto out;
	if (rn.state == NULL || !gg_plan_unfinished(rn.state))
		goto out; /* nothing to do: another runner finished it */
	r = run_plan(&rn, cause);
out:
	tail_reset(&rn);
	gg_buf_release(&rn.out);
	gg_buf_release(&rn.progress);
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
	r = run_command(argv);
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
