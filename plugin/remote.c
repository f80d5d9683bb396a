/*
 * remote.c: bootstrapping and driving the helper on a target (see remote.h).
 */
#include "remote.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "error.h"
#include "event.h"
#include "hash.h"
#include "protocol.h"
#include "xmalloc.h"

extern char **environ;

/* The wrapper's own exit codes, outside the helper's range (protocol.h). */
#define WRAPPER_NO_HELPER 97
#define WRAPPER_BAD_UPLOAD 98
/*
 * What the wrapper prints on stdout once the helper checked out, right before it
 * execs it: the remote shell (which may source a slow ~/.bashrc) is done, and stdin
 * now reaches the helper.
 */
#define WRAPPER_READY "gcloud-gpu-helper: ready"
/* How often the helper upload is tried again when the link drops during it. */
#define UPLOAD_TRIES 5
/* How often a waiting follow wakes up for ^C, keepalives and the deadline. */
#define POLL_MS 300

volatile sig_atomic_t remote_interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	remote_interrupted = 1;
}

void remote_catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The helper binary this CLI was built with: $GCLOUD_GPU_HELPER, or next to the CLI. */
static char *find_local_helper(char **cause)
{
	static const char *const candidates[] = {
		"../helper/gcloud-gpu-helper",               /* build tree: build/plugin/.. */
		"../libexec/gcloud-gpu/gcloud-gpu-helper",   /* installed: bin/.. */
		"gcloud-gpu-helper",
	};
	const char *env = getenv("GCLOUD_GPU_HELPER");
	char self[PATH_MAX], *slash, *path;
	ssize_t n;
	size_t i;

	if (env != NULL && env[0] != '\0') {
		if (access(env, R_OK) == 0)
			return xstrdup(env);
		gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read the helper '%s' (GCLOUD_GPU_HELPER)", env);
		return NULL;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot find where gcloud-gpu runs from");
		return NULL;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	for (i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		xasprintf(&path, "%s/%s", self, candidates[i]);
		if (access(path, R_OK) == 0)
			return path;
		free(path);
	}
	gg_fail(cause, GG_EXIT_ERROR, "cannot find gcloud-gpu-helper next to '%s' (build it, or set "
		"GCLOUD_GPU_HELPER)", self);
	return NULL;
}

/*
 * Whether the tests' hooks are on (GCLOUD_GPU_TEST_HOOKS=1): only then do the
 * GCLOUD_GPU_REMOTE_* variables reach the VM, so that a variable a user left set by
 * accident cannot relocate the helper or change how root runs it there.
 */
static int test_hooks(void)
{
	const char *v = getenv("GCLOUD_GPU_TEST_HOOKS");

	return v != NULL && strcmp(v, "1") == 0;
}

/* env VAR=VALUE ... for every GCLOUD_GPU_REMOTE_X in our environment (test hooks). */
static void add_remote_env(struct gg_buf *b)
{
	static const char prefix[] = "GCLOUD_GPU_REMOTE_";
	char **e;

	for (e = environ; test_hooks() && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		char *assign;

		if (strncmp(*e, prefix, sizeof prefix - 1) != 0 || eq == NULL)
			continue;
		xasprintf(&assign, "GCLOUD_GPU_%.*s=%s", (int)(eq - *e - (int)(sizeof prefix - 1)),
			  *e + sizeof prefix - 1, eq + 1);
		gg_buf_addch(b, ' ');
		ssh_shell_quote(b, assign);
		free(assign);
	}
}

/* PREFIX sh -c 'SCRIPT' gcloud-gpu ARGS, with h= and sum= set at the script's top. */
static char *wrap_script(struct remote *r, const char *script, const char *args)
{
	struct gg_buf inner = GG_BUF_INIT, outer = GG_BUF_INIT;
	char *helper;

	xasprintf(&helper, "%s/bin/gcloud-gpu-helper-%s", r->root, r->helper_sha);
	gg_buf_addstr(&inner, "h=");
	ssh_shell_quote(&inner, helper);
	gg_buf_addf(&inner, "; sum=%s; ", r->helper_sha);
	gg_buf_addstr(&inner, script);
	gg_buf_addf(&outer, "%ssh -c ", r->prefix);
	ssh_shell_quote(&outer, inner.data);
	gg_buf_addstr(&outer, " gcloud-gpu");
	if (args != NULL && args[0] != '\0')
		gg_buf_addf(&outer, " %s", args);
	if (inner.alloc == 0 || outer.alloc == 0)
		abort();
	gg_buf_release(&inner);
	free(helper);
	return gg_buf_detach(&outer, NULL);
}

/* sha256sum -c reads "SUM  FILE" lines; a mismatch or a missing file fails. */
#define CHECK_HELPER "[ -x \"$h\" ] && echo \"$sum  $h\" | sha256sum -c --status"

/* The shell command line that runs `helper ARGS` (sudo, env, sha256 check). malloc'd. */
static char *remote_command(struct remote *r, const char *args)
{
	struct gg_buf script = GG_BUF_INIT;
	char *cmd;

	gg_buf_addf(&script, CHECK_HELPER " || exit %d; echo '" WRAPPER_READY "'; exec env",
		    WRAPPER_NO_HELPER);
	add_remote_env(&script);
	gg_buf_addstr(&script, " \"$h\" \"$@\"");
	cmd = wrap_script(r, script.data, args);
	gg_buf_release(&script);
	return cmd;
}

/* The last non-empty line of text, for messages. */
static char *last_line(const char *text)
{
	const char *end = text + strlen(text), *start;

	while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (start = end; start > text && start[-1] != '\n'; start--)
		;
	if (start == end)
		return xstrdup("no error message");
	return xstrndup(start, (size_t)(end - start));
}

int remote_helper_failed(struct remote *r, const char *what, int status, const char *err,
			 char **cause)
{
	char *line = last_line(err);
	int code;

	if (status == WRAPPER_NO_HELPER)
		code = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' is missing or does not "
			       "match its sha256: run 'gcloud-gpu push' again", r->target->name);
	else
		code = gg_fail(cause, GG_EXIT_REMOTE, "%s on '%s' failed (exit %d): %s", what,
			       r->target->name, status, line);
	free(line);
	return code;
}

/* Another plan runs on the VM; err is the helper's stderr, naming it. */
static int remote_busy(struct remote *r, const char *err, char **cause)
{
	char *line = last_line(err);
	int code;

	code = gg_fail(cause, GG_EXIT_BUSY, "%s on '%s'; nothing of this push was applied: wait "
		       "for it with 'gcloud-gpu reattach %s', then push again", line,
		       r->target->name, r->target->cli_arg);
	free(line);
	return code;
}

/* The wrapper ended without its ready line: sudo refused, or the shell failed. */
static int wrapper_failed(struct remote *r, int status, const char *err, char **cause)
{
	char *line = last_line(err);
	int code;

	if (r->prefix[0] != '\0')
		code = gg_fail(cause, GG_EXIT_REMOTE, "cannot run the helper as root on '%s' with "
			       "'sudo -n' (passwordless sudo is needed for a user other than root): %s",
			       r->target->name, line);
	else
		code = gg_fail(cause, GG_EXIT_REMOTE, "cannot run the helper on '%s' (exit %d): %s",
			       r->target->name, status, line);
	free(line);
	return code;
}

/*
 * Put <root>/bin/gcloud-gpu-helper-<sha> on the VM: to a temporary name, checked with
 * sha256sum, then renamed, so a cut upload never leaves a helper that runs.  A link
 * that drops on the way is waited for and the upload starts again.
 */
static int upload_helper(struct remote *r, char **cause)
{
	struct gg_buf err = GG_BUF_INIT, binary = GG_BUF_INIT, q = GG_BUF_INIT;
	char *cmd = NULL, *script = NULL;
	FILE *f = NULL;
	char chunk[65536];
	size_t n;
	int status, rc, tries;

	f = fopen(r->helper_path, "rb");
	if (f == NULL) {
		rc = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot open '%s'", r->helper_path);
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		gg_buf_add(&binary, chunk, n);
	ssh_shell_quote(&q, r->root);
	xasprintf(&script, "umask 077 && mkdir -p %s/bin && t=%s/bin/.upload.$$ && cat >\"$t\" && "
		  "if echo \"$sum  $t\" | sha256sum -c --status; then "
		  "chmod 700 \"$t\" && mv -f \"$t\" \"$h\"; else rm -f \"$t\"; "
		  "echo 'the uploaded helper does not match its sha256' >&2; exit %d; fi",
		  q.data, q.data, WRAPPER_BAD_UPLOAD);
	cmd = wrap_script(r, script, NULL);
	ui_note(r->ui, "uploading the helper (%zu bytes) to %s", binary.len, r->target->name);
	for (tries = 1;; tries++) {
		gg_buf_reset(&err);
		rc = remote_run(r, cmd, binary.data, binary.len, 4096, NULL, &err, &status, cause);
		if (rc != GG_EXIT_SSH || tries == UPLOAD_TRIES)
			break;
		/* The temporary file of the cut upload fails its check and is removed. */
		if ((rc = remote_reconnect(r, r->deadline, cause)) != 0)
			goto out;
	}
	if (rc != 0)
		goto out;
	if (status != 0) {
		rc = remote_helper_failed(r, "uploading the helper", status, err.data, cause);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	gg_buf_release(&err);
	gg_buf_release(&binary);
	gg_buf_release(&q);
	free(script);
	free(cmd);
	return rc;
}

/*
 * Whether a push reached this target before (its state file is there): then a
 * missing helper is only another build's, and a read goes on with this one.
 */
static int pushed_before(struct remote *r)
{
	struct gg_buf cmd = GG_BUF_INIT;
	char *path;
	int status = -1;

	xasprintf(&path, "%s/%s", r->root, GG_FILE_STATE);
	gg_buf_addf(&cmd, "%stest -e ", r->prefix);
	ssh_shell_quote(&cmd, path);
	if (ssh_conn_run(r->conn, cmd.data, NULL, 0, NULL, NULL, &status, NULL) != 0)
		status = -1;
	gg_buf_release(&cmd);
	free(path);
	return status == 0;
}

int remote_start(struct remote *r, const char *args, struct ssh_exec **x, struct gg_buf *early,
		 char **cause)
{
	static const char ready[] = WRAPPER_READY "\n";
	struct gg_buf head = GG_BUF_INIT, err = GG_BUF_INIT;
	char *cmd = remote_command(r, args), *buf = xmalloc(4096);
	int uploaded = 0, status, rc;
	long n;

	*x = NULL;
	cli_debug(1, "running 'helper %s' on %s", args != NULL ? args : "", r->target->name);
	cli_debug(2, "remote command: %s", cmd);
	for (;;) {
		gg_buf_reset(&head);
		if ((rc = ssh_exec_start(r->conn, cmd, x, cause)) != 0)
			goto out;
		/* Up to the first line of stdout, or its end. */
		while (head.len == 0 || memchr(head.data, '\n', head.len) == NULL) {
			n = ssh_exec_read(*x, buf, 4096, POLL_MS, cause);
			if (n == -2) {
				rc = GG_EXIT_SSH;
				goto out;
			}
			if (n == -1 || head.len > sizeof ready)
				break;
			if (remote_interrupted) {
				rc = gg_fail(cause, GG_EXIT_INTERRUPTED, "interrupted");
				goto out;
			}
			if (n == 0)
				ssh_conn_keepalive(r->conn);
			else
				gg_buf_add(&head, buf, (size_t)n);
		}
		if (head.len >= sizeof ready - 1 && memcmp(head.data, ready, sizeof ready - 1) == 0) {
			gg_buf_add(early, head.data + sizeof ready - 1, head.len - (sizeof ready - 1));
			rc = 0;
			goto out;
		}
		/* No ready line: the helper is missing (upload it, once), or sudo refused. */
		gg_buf_reset(&err);
		rc = ssh_exec_finish(*x, &status, &err, cause);
		*x = NULL;
		if (rc != 0)
			goto out;
		if (status == WRAPPER_NO_HELPER && !uploaded && r->no_upload && !pushed_before(r)) {
			r->never_pushed = 1;
			rc = gg_fail(cause, GG_EXIT_REMOTE, "nothing was pushed to %s yet: run "
				     "'gcloud-gpu push %s'", r->target->name, r->target->cli_arg);
			goto out;
		}
		if (status == WRAPPER_NO_HELPER && !uploaded) {
			if ((rc = upload_helper(r, cause)) != 0)
				goto out;
			uploaded = 1;
			continue;
		}
		rc = status == WRAPPER_NO_HELPER ? remote_helper_failed(r, "", status, err.data, cause)
						 : wrapper_failed(r, status, err.data, cause);
		goto out;
	}
out:
	if (rc != 0) {
		ssh_exec_abort(*x);
		*x = NULL;
	}
	gg_buf_release(&head);
	gg_buf_release(&err);
	free(buf);
	free(cmd);
	return rc;
}

static int connect_wait(struct remote *r, double deadline, int lost, char **cause);

int remote_open(struct remote *r, struct target *t, struct ui *ui, double deadline,
		char **cause)
{
	const char *root = test_hooks() ? getenv("GCLOUD_GPU_REMOTE_ROOT") : NULL;
	uint64_t size;
	int rc;

	memset(r, 0, sizeof *r);
	r->target = t;
	r->ui = ui;
	r->deadline = deadline;
	r->root = xstrdup(root != NULL && root[0] != '\0' ? root : GG_DEFAULT_ROOT);
	target_seen_load(t, &r->seen);
	r->helper_path = find_local_helper(cause);
	if (r->helper_path == NULL)
		return GG_EXIT_ERROR;
	if (gg_sha256_file(r->helper_path, r->helper_sha, &size, cause) != 0)
		return GG_EXIT_ERROR;
	if (t->settle_seconds > 0)
		r->settle_until = gg_clock_monotonic() + (double)t->settle_seconds;
	if (deadline == 0 && t->settle_seconds > 0)
		deadline = r->settle_until;
	if ((rc = deadline > 0 ? connect_wait(r, deadline, 0, cause)
			       : ssh_conn_open(&t->ssh, &r->conn, cause)) != 0)
		return rc;
	r->prefix = xstrdup(strcmp(ssh_conn_user(r->conn), "root") == 0 ? "" : "sudo -n ");
	/* The helper goes up when the first command finds it missing (remote_start). */
	return 0;
}

void remote_close(struct remote *r)
{
	if (r->target != NULL && r->seen.last_seq > 0)
		target_seen_save(r->target, &r->seen);
	ssh_conn_close(r->conn);
	free(r->root);
	free(r->helper_path);
	free(r->prefix);
	memset(r, 0, sizeof *r);
}

/* Sleep up to ms, waking early on ^C. */
static void nap(long ms)
{
	struct timespec ts;

	while (ms > 0 && !remote_interrupted) {
		long step = ms > 100 ? 100 : ms;

		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int remote_reconnect(struct remote *r, double deadline, char **cause)
{
	return connect_wait(r, deadline, 1, cause);
}

static int connect_wait(struct remote *r, double deadline, int lost, char **cause)
{
	long delay = 500;
	int rc, noted = 0, explained = 0;

	ssh_conn_close(r->conn);
	r->conn = NULL;
	if (lost) {
		ui_note(r->ui, "lost the connection to %s; reconnecting...", r->target->name);
		noted = 1;
	}
	for (;;) {
		char *why = NULL;
		int refused = 0;

		if (remote_interrupted)
			return GG_EXIT_INTERRUPTED;
		rc = ssh_conn_open_ex(&r->target->ssh, &r->conn, &refused, &why);
		if (rc == 0) {
			free(why);
			if (noted)
				ui_note(r->ui, "reconnected to %s", r->target->name);
			return 0;
		}
		/*
		 * A changed host key is never waited out, nor a key the server refused: that
		 * is final, unless the VM was just started or given the key (its guest agent
		 * may still be installing it: r->settle_until).
		 */
		if (rc != GG_EXIT_SSH || (refused && gg_clock_monotonic() >= r->settle_until) ||
		    (deadline > 0 && gg_clock_monotonic() + delay / 1000.0 >= deadline)) {
			gg_fail(cause, rc, "%s", why);
			free(why);
			return rc;
		}
		/* Say once why it does not connect: a wait with no reason looks like a hang. */
		if (!explained)
			ui_note(r->ui, "waiting for %s to come back (%s)...", r->target->name, why);
		noted = explained = 1;
		free(why);
		nap(delay);
		delay = delay * 2 > 15000 ? 15000 : delay * 2;
	}
}

int remote_read(struct remote *r, struct ssh_exec *x, struct gg_buf *out, size_t max,
		int until_line, const char *what, char **cause)
{
	char *buf = xmalloc(65536);
	size_t room;
	long n;
	int rc;

	for (;;) {
		if (until_line && out->len > 0 && memchr(out->data, '\n', out->len) != NULL) {
			rc = 0;
			break;
		}
		if (remote_interrupted || (r->deadline > 0 && gg_clock_monotonic() >= r->deadline)) {
			rc = gg_fail(cause, GG_EXIT_INTERRUPTED, "interrupted while reading %s", what);
			break;
		}
		/* One byte more than the room: more than max is refused, not cut. */
		room = out->len < max ? max - out->len + 1 : 1;
		n = ssh_exec_read(x, buf, room < 65536 ? room : 65536, POLL_MS, cause);
		if (n == -2) {
			rc = GG_EXIT_SSH;
			break;
		}
		if (n == -1) {
			rc = 0;
			break;
		}
		if (n == 0) {
			ssh_conn_keepalive(r->conn);
			continue;
		}
		if (out->len + (size_t)n > max) {
			rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' sent more than %zu "
				     "bytes for %s: refused", r->target->name, max, what);
			break;
		}
		gg_buf_add(out, buf, (size_t)n);
	}
	free(buf);
	return rc;
}

int remote_run(struct remote *r, const char *command, const void *in, size_t in_len,
	       size_t max, struct gg_buf *out, struct gg_buf *err, int *status, char **cause)
{
	struct gg_buf sink = GG_BUF_INIT;
	struct ssh_exec *x = NULL;
	int rc;

	*status = -1;
	if (out == NULL)
		out = &sink;
	if ((rc = ssh_exec_start(r->conn, command, &x, cause)) != 0 ||
	    (in_len > 0 && (rc = ssh_exec_write(x, in, in_len, cause)) != 0) ||
	    (rc = ssh_exec_close_stdin(x, cause)) != 0 ||
	    (rc = remote_read(r, x, out, max, 0, "a command's output", cause)) != 0)
		goto out;
	rc = ssh_exec_finish(x, status, err, cause);
	x = NULL;
out:
	ssh_exec_abort(x);
	gg_buf_release(&sink);
	return rc;
}

int remote_helper(struct remote *r, const char *args, const void *in, size_t in_len,
		  size_t max, struct gg_buf *out, char **cause)
{
	struct ssh_exec *x = NULL;
	struct gg_buf err = GG_BUF_INIT, sink = GG_BUF_INIT;
	char *what;
	int status, rc;

	if (out == NULL)
		out = &sink;
	xasprintf(&what, "'helper %s'", args);
	if ((rc = remote_start(r, args, &x, out, cause)) != 0)
		goto out;
	if ((in_len > 0 && (rc = ssh_exec_write(x, in, in_len, cause)) != 0) ||
	    (rc = ssh_exec_close_stdin(x, cause)) != 0 ||
	    (rc = remote_read(r, x, out, max, 0, what, cause)) != 0)
		goto out;
	rc = ssh_exec_finish(x, &status, &err, cause);
	x = NULL;
	if (rc == 0 && status != 0)
		rc = remote_helper_failed(r, what, status, err.data, cause);
out:
	ssh_exec_abort(x);
	gg_buf_release(&err);
	gg_buf_release(&sink);
	free(what);
	return rc;
}

/* What one stream told us. */
struct stream {
	enum follow_end end;
	int ended;
	char *failed_step;
	char *failed_tail;
	char *failed_msg;       /* the "failed" event's own message, when no step failed */
	int failed_code;
};

static void stream_release(struct stream *s)
{
	free(s->failed_step);
	free(s->failed_tail);
	free(s->failed_msg);
	memset(s, 0, sizeof *s);
}

/* Handle one event line: decode, drop what was seen, render, remember. */
static int take_line(struct remote *r, struct stream *s, const char *line, size_t len,
		     char **cause)
{
	struct gg_event ev;
	char *why = NULL;
	json_t *tail, *last;

	if (gg_event_parse(line, len, &ev, &why) != 0) {
		gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' sent a bad event: %s",
			r->target->name, why);
		free(why);
		return GG_EXIT_REMOTE;
	}
	if (ev.type == GG_EVENT_HELLO) {
		if (ev.boot_id != NULL) {
			if (r->seen.boot_id[0] != '\0' && strcmp(r->seen.boot_id, ev.boot_id) != 0) {
				r->reboots++;
				ui_note(r->ui, "%s restarted since the last event seen here (new boot id)",
					r->target->name);
			}
			snprintf(r->seen.boot_id, sizeof r->seen.boot_id, "%s", ev.boot_id);
		}
		/* A log that restarted (a new state root) has nothing we saw. */
		last = json_object_get(ev.obj, "last_seq");
		if (json_is_integer(last) && json_integer_value(last) < r->floor)
			r->floor = 0;
		ui_event(r->ui, &ev);
		gg_event_release(&ev);
		return 0;
	}
	/* A stream picked up again may repeat what was shown: nothing is shown twice. */
	if (ev.seq <= r->floor) {
		gg_event_release(&ev);
		return 0;
	}
	ui_event(r->ui, &ev);
	r->floor = ev.seq;
	r->seen.last_seq = ev.seq;
	switch (ev.type) {
	case GG_EVENT_PLAN:
		s->ended = 0;
		break;
	case GG_EVENT_STEP_FAILED:
		free(s->failed_step);
		free(s->failed_tail);
		s->failed_step = xstrdup(ev.step);
		s->failed_code = (int)json_integer_value(json_object_get(ev.obj, "code"));
		tail = json_object_get(ev.obj, "tail");
		if (json_is_array(tail))
			tail = json_array_get(tail, json_array_size(tail) - 1);
		s->failed_tail = json_is_string(tail) ? last_line(json_string_value(tail)) : NULL;
		break;
	case GG_EVENT_DONE:
		s->ended = 1;
		s->end = FOLLOW_DONE;
		break;
	case GG_EVENT_FAILED:
		s->ended = 1;
		s->end = FOLLOW_FAILED;
		free(s->failed_msg);
		s->failed_msg = ev.msg != NULL ? last_line(ev.msg) : NULL;
		break;
	default:
		break;
	}
	gg_event_release(&ev);
	return 0;
}

/* Take every whole line in buf as an event. */
static int take_lines(struct remote *r, struct stream *s, struct gg_buf *buf, char **cause)
{
	char *nl;
	int rc;

	while (buf->len > 0 && (nl = memchr(buf->data, '\n', buf->len)) != NULL) {
		size_t len = (size_t)(nl - buf->data) + 1;

		if ((rc = take_line(r, s, buf->data, len, cause)) != 0)
			return rc;
		gg_buf_consume(buf, len);
	}
	if (buf->len > GG_EVENT_MAX_LINE)
		return gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' sent a line over %d bytes",
			       r->target->name, GG_EVENT_MAX_LINE);
	return 0;
}

/*
 * Run one streaming command to its end.  0 with s filled when the command ended by
 * itself (*status set), GG_EXIT_SSH when the link broke, GG_EXIT_INTERRUPTED on ^C or
 * at the deadline.
 */
static int stream_once(struct remote *r, const char *args, double deadline,
		       struct stream *s, int *status, struct gg_buf *err, char **cause)
{
	struct ssh_exec *x = NULL;
	struct gg_buf line = GG_BUF_INIT;
	char *buf = xmalloc(65536);
	long n;
	int rc;

	*status = -1;
	/* Events that came right behind the ready line are in line already. */
	if ((rc = remote_start(r, args, &x, &line, cause)) != 0 ||
	    (rc = ssh_exec_close_stdin(x, cause)) != 0 ||
	    (rc = take_lines(r, s, &line, cause)) != 0)
		goto out;
	for (;;) {
		n = ssh_exec_read(x, buf, 65536, POLL_MS, cause);
		if (n == -2) {
			rc = GG_EXIT_SSH;
			goto out;
		}
		if (n == -1)
			break;
		if (remote_interrupted || (deadline > 0 && gg_clock_monotonic() >= deadline)) {
			rc = GG_EXIT_INTERRUPTED;
			goto out;
		}
		if (n == 0) {
			ssh_conn_keepalive(r->conn);
			ui_tick(r->ui);
			continue;
		}
		gg_buf_add(&line, buf, (size_t)n);
		if ((rc = take_lines(r, s, &line, cause)) != 0)
			goto out;
	}
	rc = ssh_exec_finish(x, status, err, cause);
	x = NULL;
out:
	ssh_exec_abort(x);
	gg_buf_release(&line);
	free(buf);
	return rc;
}

int remote_follow(struct remote *r, const char *first_args, const char *again,
		  double deadline, char **cause)
{
	int no_wait = strstr(again, "--no-wait") != NULL;
	struct stream s;
	struct gg_buf err = GG_BUF_INIT;
	char *args = xstrdup(first_args);
	long long before;
	long idle_ms = 0;
	int status, rc;

	memset(&s, 0, sizeof s);
	for (;;) {
		gg_buf_reset(&err);
		before = r->floor;
		rc = stream_once(r, args, deadline, &s, &status, &err, cause);
		target_seen_save(r->target, &r->seen);
		if (rc == GG_EXIT_SSH) {
			if ((rc = remote_reconnect(r, deadline, cause)) != 0)
				break;
		} else if (rc != 0) {
			break;
		} else if (s.ended || (status == 0 && no_wait)) {
			break;
		} else if (status == GG_HELPER_OK || status == GG_HELPER_FAILED) {
			/*
			 * The helper says the plan had ended, before --from: an earlier stream
			 * saw its end event.  Asking again would get the same answer forever.
			 */
			s.ended = 1;
			s.end = status == GG_HELPER_OK ? FOLLOW_DONE : FOLLOW_FAILED;
			break;
		} else if (status == GG_HELPER_BUSY) {
			/* apply of another plan than the one running: nothing was applied. */
			rc = remote_busy(r, err.data, cause);
			break;
		} else if (status != GG_HELPER_DETACHED) {
			rc = remote_helper_failed(r, "the helper", status, err.data, cause);
			break;
		}
		/*
		 * The stream stopped before the plan ended: pick it up after what we saw.  A
		 * VM that said it reboots keeps answering "rebooting" until it goes down:
		 * ask again with a growing pause while nothing new comes.
		 */
		if (rc == 0 && r->floor == before) {
			idle_ms = idle_ms == 0 ? 500 : (idle_ms * 2 > 5000 ? 5000 : idle_ms * 2);
			nap(idle_ms);
		} else {
			idle_ms = 0;
		}
		free(args);
		xasprintf(&args, "%s --from %lld", again, r->floor + 1);
	}
	if (rc == GG_EXIT_INTERRUPTED) {
		ui_clear(r->ui);
		gg_fail(cause, GG_EXIT_INTERRUPTED, "stopped following %s; the work goes on there: run "
			"'gcloud-gpu reattach %s' to pick it up", r->target->name, r->target->cli_arg);
	} else if (rc == 0 && s.ended && s.end == FOLLOW_FAILED) {
		/* What to do next: read the whole output, fix the recipe, push again. */
		if (s.failed_step != NULL)
			rc = gg_fail(cause, GG_EXIT_STEP, "step '%s' failed on %s (exit %d): %s; "
				     "its whole output: 'gcloud-gpu logs %s', then fix it and push "
				     "again", s.failed_step, r->target->name, s.failed_code,
				     s.failed_tail != NULL ? s.failed_tail : "no output",
				     r->target->cli_arg);
		else if (s.failed_msg != NULL)
			rc = gg_fail(cause, GG_EXIT_STEP, "the plan failed on %s: %s", r->target->name,
				     s.failed_msg);
		else
			rc = gg_fail(cause, GG_EXIT_STEP, "the plan failed on %s", r->target->name);
	}
	stream_release(&s);
	gg_buf_release(&err);
	free(args);
	return rc;
}

/* A Jupyter token as the recipe writes it: 64 lower-case hex digits, nothing else. */
static int token_valid(const char *s, size_t len)
{
	size_t i;

	if (len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

char *remote_read_token(struct remote *r, const char **why)
{
	struct gg_buf cmd = GG_BUF_INIT, out = GG_BUF_INIT, err = GG_BUF_INIT;
	char *path, *token = NULL;
	int status = -1;

	*why = "no token on the VM yet: has push finished?";
	xasprintf(&path, "%s/%s", r->root, GG_FILE_TOKEN);
	/* A token file of any size is read no further than a token and its line end. */
	gg_buf_addf(&cmd, "%shead -c %d ", r->prefix, REMOTE_TOKEN_MAX);
	ssh_shell_quote(&cmd, path);
	if (remote_run(r, cmd.data, NULL, 0, REMOTE_TOKEN_MAX, &out, &err, &status, NULL) == 0 &&
	    status == 0) {
		while (out.len > 0 && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r'))
			out.data[--out.len] = '\0';
		if (token_valid(out.data, out.len))
			token = gg_buf_detach(&out, NULL);
		else
			*why = "the token file on the VM does not hold a token (64 hex digits)";
	} else if (r->prefix[0] != '\0' && strstr(err.data, "sudo:") != NULL) {
		/* The token is root's (0600): a user whom sudo asks for a password cannot read it. */
		*why = "cannot read the token as root: 'sudo -n' refused (passwordless sudo is "
		       "needed for a user other than root); read it on the VM with sudo";
	}
	gg_buf_release(&cmd);
	gg_buf_release(&out);
	gg_buf_release(&err);
	free(path);
	return token;
}
