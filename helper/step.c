/*
 * step.c: a step's process, its output as events, its end (see step.h).
 */
#include "step.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "event.h"
#include "manifest.h"
#include "protocol.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define STEP_SUFFIX ".sh"
/*
 * The step-failed event's tail is bounded by bytes, not only lines: 20 lines of 8 KiB
 * (a progress bar drawn with \r makes such lines) would not fit in an event, and a
 * runner that cannot write its event stops without failing the plan.  Each line is
 * cut to its last TAIL_LINE_MAX bytes (at most six times that escaped), and older
 * lines are dropped while the encoded tail would pass TAIL_MAX_BYTES.
 */
#define TAIL_LINE_MAX 1024
#define TAIL_MAX_BYTES (16 * 1024)

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

void gg_step_init(struct gg_step *s)
{
	memset(s, 0, sizeof *s);
	s->pid = -1;
	s->pidfd = s->out = s->progress = -1;
	gg_buf_init(&s->out_buf);
	gg_buf_init(&s->progress_buf);
}

static void tail_reset(struct gg_step *s)
{
	size_t i;

	for (i = 0; i < GG_STEP_TAIL_LINES; i++) {
		free(s->tail[i]);
		s->tail[i] = NULL;
	}
	s->tail_next = s->tail_count = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * A JSON string of bytes a step wrote: NUL and invalid UTF-8 become '?' first
 * (gg_text_repair), so that it can travel and every reader takes it back.
 */
static json_t *output_string(const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	json_t *s;

	if (copy == NULL)
		return NULL;
	memcpy(copy, text, len);
	copy[len] = '\0';
	gg_text_repair(copy, len);
	s = json_stringn(copy, len);
	free(copy);
	return s;
}

static int emit(struct gg_step *s, struct gg_journal *j, enum gg_event_type type, json_t *fields,
		char **cause)
{
	if (fields == NULL || json_object_set_new(fields, "step", json_string(s->name)) != 0) {
		json_decref(fields);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	return gg_journal_emit(j, type, fields, NULL, cause);
}

/* One output line: a log event, and into the tail. */
static int output_line(struct gg_step *s, struct gg_journal *j, const char *line, size_t len,
		       char **cause)
{
	json_t *msg = output_string(line, len);

	free(s->tail[s->tail_next]);
	s->tail[s->tail_next] = json_is_string(msg) ? strdup(json_string_value(msg)) : NULL;
	s->tail_next = (s->tail_next + 1) % GG_STEP_TAIL_LINES;
	if (s->tail_count < GG_STEP_TAIL_LINES)
		s->tail_count++;
	if (msg == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	return emit(s, j, GG_EVENT_LOG, json_pack("{s:o}", "msg", msg), cause);
}

/* One fd-3 line: a progress event when it parses, nothing when it does not. */
static int progress_line(struct gg_step *s, struct gg_journal *j, const char *text, size_t len,
			 char **cause)
{
	char *line = strndup(text, len);
	const char *msg;
	json_t *m = NULL;
	int pct, r = 0;

	if (line == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (gg_parse_progress(line, &pct, &msg) == 0 && (m = output_string(msg, strlen(msg))) != NULL)
		r = emit(s, j, GG_EVENT_PROGRESS, json_pack("{s:i, s:o}", "pct", pct, "msg", m), cause);
	free(line);
	return r;
}

/*
 * Emit the whole lines in b, and when flush (the step ended) the rest too; lines
 * longer than GG_STEP_MAX_LINE are cut into pieces.  What is kept is an unended line.
 */
static int drain_lines(struct gg_step *s, struct gg_journal *j, struct gg_buf *b,
		       int is_progress, int flush, char **cause)
{
	char *nl;
	size_t len, take;
	int r;

	while (b->len > 0) {
		nl = memchr(b->data, '\n', b->len);
		if (nl != NULL && (size_t)(nl - b->data) <= GG_STEP_MAX_LINE) {
			len = (size_t)(nl - b->data);
			take = len + 1;
		} else if (b->len >= GG_STEP_MAX_LINE) {
			len = take = GG_STEP_MAX_LINE;
		} else if (flush) {
			len = take = b->len;
		} else {
			return 0;
		}
		if (len > 0 && b->data[len - 1] == '\r')
			len--;
		r = is_progress ? progress_line(s, j, b->data, len, cause) :
				  output_line(s, j, b->data, len, cause);
		if (r != 0)
			return r;
		gg_buf_consume(b, take);
	}
	return 0;
}

/*
 * Run path's `#!` interpreter (one optional argument, as the kernel reads the line)
 * on it; returns only when that fails.
 */
static void exec_interpreter(const char *path, const char *action)
{
	char line[256], *interp, *arg, *end, *argv[5];
	size_t n = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	got = read(fd, line, sizeof line - 1);
	close(fd);
	if (got < 3 || line[0] != '#' || line[1] != '!')
		return;
	line[got] = '\0';
	end = strchr(line, '\n');
	if (end != NULL)
		*end = '\0';
	interp = line + 2;
	while (*interp == ' ' || *interp == '\t')
		interp++;
	arg = interp + strcspn(interp, " \t");
	if (*arg != '\0') {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
		arg[strcspn(arg, "\r")] = '\0';
	}
	interp[strcspn(interp, "\r")] = '\0';
	argv[n++] = interp;
	if (*arg != '\0')
		argv[n++] = arg;
	argv[n++] = (char *)path;
	argv[n++] = (char *)action;
	argv[n] = NULL;
	execve(interp, argv, environ);
}

/* The child side of a step: its environment and descriptors, then exec. */
static void exec_step(const char *root, const char *release, const char *name, const char *path,
		      const char *action, int out, int prog)
{
	char *argv[3];
	/* Close-on-exec: dup2 makes fd 0 of it, and the original must not reach the step. */
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* Die with the runner: a step must not live on behind a killed runner. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	umask(022);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    dup2(prog, 3) < 0 || fcntl(3, F_SETFD, 0) < 0 || chdir(release) != 0)
		_exit(127);
	setenv("GCLOUD_GPU_ROOT", root, 1);
	setenv("GCLOUD_GPU_RELEASE", release, 1);
	setenv("GCLOUD_GPU_STEP", name, 1);
	if (getenv("PATH") == NULL)
		setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	argv[0] = (char *)path;
	argv[1] = (char *)action;
	argv[2] = NULL;
	/*
	 * Through its own `#!` line (gg_plan_start refused a step without one).  A mode
	 * without x in the manifest cannot stop it: the kernel reads the line itself
	 * only for an executable file, so otherwise the interpreter is started by hand.
	 */
	execve(path, argv, environ);
	if (errno == EACCES)
		exec_interpreter(path, action);
	fprintf(stderr, "cannot run step '%s': %s\n", name, strerror(errno));
	_exit(127);
}

int gg_step_start(struct gg_step *s, const char *root, const char *release, const char *name,
		  const char *action, char **cause)
{
	char path[GG_MANIFEST_MAX_PATH + 16];
	int out[2] = { -1, -1 }, prog[2] = { -1, -1 };
	struct stat st;
	int r = GG_HELPER_SYSTEM;

	snprintf(s->name, sizeof s->name, "%s", name);
	s->action = action;
	s->exited = 0;
	s->code = -1;
	if (strcmp(action, "apply") == 0)
		tail_reset(s);
	snprintf(path, sizeof path, "steps/%s%s", name, STEP_SUFFIX);
	if (!gg_step_path_valid(path))
		return gg_fail(cause, GG_HELPER_REFUSED, "'%s' is not a step", path);
	snprintf(path, sizeof path, "%s/steps/%s%s", release, name, STEP_SUFFIX);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return gg_fail(cause, GG_HELPER_REFUSED, "step '%s' is not a regular file in the release",
			       name);
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(prog, O_CLOEXEC) != 0) {
		gg_fail_errno(cause, r, errno, "cannot create a pipe");
		goto out;
	}
	s->pid = fork();
	if (s->pid < 0) {
		gg_fail_errno(cause, r, errno, "cannot start step '%s'", name);
		goto out;
	}
	if (s->pid == 0)
		exec_step(root, release, name, path, action, out[1], prog[1]);
	s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd >= 0)
		fcntl(s->pidfd, F_SETFD, FD_CLOEXEC);
	s->out = out[0];
	s->progress = prog[0];
	out[0] = prog[0] = -1;
	fcntl(s->out, F_SETFL, O_NONBLOCK);
	fcntl(s->progress, F_SETFL, O_NONBLOCK);
	r = 0;
out:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&prog[0]);
	close_fd(&prog[1]);
	return r;
}

int gg_step_fds(const struct gg_step *s, struct pollfd *fds)
{
	int n = 0;

	if (s->pidfd >= 0 && !s->exited)
		fds[n++] = (struct pollfd){ .fd = s->pidfd, .events = POLLIN };
	if (s->out >= 0)
		fds[n++] = (struct pollfd){ .fd = s->out, .events = POLLIN };
	if (s->progress >= 0)
		fds[n++] = (struct pollfd){ .fd = s->progress, .events = POLLIN };
	return n;
}

int gg_step_needs_timeout(const struct gg_step *s)
{
	return s->pid >= 0 && !s->exited && s->pidfd < 0;
}

/*
 * Read from *fd into b: once while the step runs (so that one chatty step cannot
 * hold the others back), until the pipe is empty once it exited.  The pipe is closed
 * at its end, and after the exit once empty: a daemon the step left behind may keep
 * it open.
 */
static void read_pipe(struct gg_step *s, int *fd, struct gg_buf *b)
{
	char chunk[16384];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (s->exited)
				close_fd(fd);
			return;
		}
		if (n <= 0 || gg_buf_add(b, chunk, (size_t)n) != 0) {
			close_fd(fd);
			return;
		}
		if (!s->exited)
			return;
	}
}

int gg_step_pump(struct gg_step *s, struct gg_journal *j, int *ended, char **cause)
{
	int status, r;

	*ended = 0;
	if (s->pid < 0)
		return gg_fail(cause, GG_HELPER_SYSTEM, "step '%s' is not running", s->name);
	/* Pipes at their end and no pidfd: only the exit is left to wait for. */
	if (!s->exited && waitpid(s->pid, &status, s->out < 0 && s->progress < 0 && s->pidfd < 0 ?
							   0 : WNOHANG) == s->pid) {
		s->exited = 1;
		s->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		close_fd(&s->pidfd);
	}
	read_pipe(s, &s->progress, &s->progress_buf);
	read_pipe(s, &s->out, &s->out_buf);
	if ((r = drain_lines(s, j, &s->progress_buf, 1, s->exited, cause)) != 0 ||
	    (r = drain_lines(s, j, &s->out_buf, 0, s->exited, cause)) != 0)
		return r;
	if (!s->exited || s->out >= 0 || s->progress >= 0)
		return 0;
	s->pid = -1;
	*ended = 1;
	return 0;
}

json_t *gg_step_tail(const struct gg_step *s)
{
	json_t *tail = json_array(), *str;
	size_t i, total = 0, len, size;
	const char *line;
	char *text;

	/* Newest first, each inserted at the front, until the bytes run out. */
	for (i = 0; tail != NULL && i < s->tail_count; i++) {
		line = s->tail[(s->tail_next + GG_STEP_TAIL_LINES - 1 - i) % GG_STEP_TAIL_LINES];
		if (line == NULL)
			line = "";
		len = strlen(line);
		/* The end of a long line is what it last said (a progress bar's last state). */
		str = output_string(len > TAIL_LINE_MAX ? line + len - TAIL_LINE_MAX : line,
				    len > TAIL_LINE_MAX ? TAIL_LINE_MAX : len);
		text = str != NULL ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
		size = text != NULL ? strlen(text) + 1 : 0;
		free(text);
		if (size == 0 || total + size > TAIL_MAX_BYTES ||
		    json_array_insert_new(tail, 0, str) != 0) {
			json_decref(str);
			break;
		}
		total += size;
	}
	return tail;
}

void gg_step_release(struct gg_step *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
	close_fd(&s->pidfd);
	close_fd(&s->out);
	close_fd(&s->progress);
	tail_reset(s);
	gg_buf_release(&s->out_buf);
	gg_buf_release(&s->progress_buf);
}

int gg_command_run(char *const argv[])
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
