/*
 * nvsmi.c: running nvidia-smi and reading what it prints (nvsmi.h).
 *
 * nvidia-smi is the only view of the driver a static program has (NVML needs dlopen).
 * It is run directly with fork/execvp, never through a shell, under a timeout: a
 * wedged GPU can make it hang for minutes, and the probe must still answer.  Its
 * output is checked field by field, because what a broken driver prints in place of
 * the CSV ("No devices were found", "NVIDIA-SMI has failed because ...") must end up
 * as a clear error, never as a GPU named after the error message.
 */
#include "nvsmi.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"
#include "protocol.h"

/* More than any nvidia-smi prints for a full machine; beyond it something is wrong. */
#define CAPTURE_LIMIT (4 * 1024 * 1024)
/* How much of an offending line an error message quotes. */
#define QUOTE_MAX 120

void gg_nvsmi_release(struct gg_nvsmi *smi)
{
	size_t i;

	for (i = 0; i < smi->count; i++) {
		free(smi->gpus[i].name);
		free(smi->gpus[i].driver_version);
	}
	free(smi->gpus);
	free(smi->cuda_version);
	smi->gpus = NULL;
	smi->count = 0;
	smi->cuda_version = NULL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* nvidia-smi prints "[N/A]", "[Not Supported]", "[Unknown Error]" for what it lacks. */
static int is_unknown(const char *field)
{
	return field[0] == '[' && field[strlen(field) - 1] == ']';
}

static int all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* "0x233510DE" -> device 0x2335, vendor 0x10de. */
static int parse_pci_id(const char *field, struct gg_nvsmi_gpu *gpu)
{
	unsigned long v;
	char *end;
	size_t n;

	if (field[0] != '0' || (field[1] != 'x' && field[1] != 'X'))
		return -1;
	n = strlen(field + 2);
	if (n == 0 || n > 8 || strspn(field + 2, "0123456789abcdefABCDEF") != n)
		return -1;
	v = strtoul(field + 2, &end, 16);
	gpu->pci_device_id = (unsigned)(v >> 16) & 0xffff;
	gpu->pci_vendor_id = (unsigned)v & 0xffff;
	return 0;
}

/* "9.0" -> 9, 0; "[N/A]" -> -1, -1. */
static int parse_compute_cap(const char *field, struct gg_nvsmi_gpu *gpu)
{
	const char *dot = strchr(field, '.');
	char major[8];

	gpu->cc_major = gpu->cc_minor = -1;
	if (is_unknown(field))
		return 0;
	if (dot == NULL || dot == field || (size_t)(dot - field) >= sizeof major ||
	    strlen(dot + 1) > 3 || !all_digits(dot + 1))
		return -1;
	memcpy(major, field, (size_t)(dot - field));
	major[dot - field] = '\0';
	if (!all_digits(major))
		return -1;
	gpu->cc_major = atoi(major);
	gpu->cc_minor = atoi(dot + 1);
	return 0;
}

static int parse_memory(const char *field, struct gg_nvsmi_gpu *gpu)
{
	gpu->memory_mib = -1;
	if (is_unknown(field))
		return 0;
	if (!all_digits(field) || strlen(field) > 12)
		return -1;
	gpu->memory_mib = strtoll(field, NULL, 10);
	return 0;
}

static int valid_driver_version(const char *field)
{
	return isdigit((unsigned char)field[0]) &&
	       strspn(field, "0123456789.") == strlen(field);
}

/*
 * One CSV line into *gpu; on failure *why says which field was wrong.  The line is
 * modified in place (split at the commas).
 */
static int parse_line(char *line, struct gg_nvsmi_gpu *gpu, const char **why)
{
	char *fields[5], *p = line, *comma;
	size_t n = 0;

	for (;;) {
		comma = strchr(p, ',');
		if (n == 5) {
			*why = "more than 5 fields";
			return -1;
		}
		if (comma != NULL)
			*comma = '\0';
		fields[n++] = trim(p);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (n != 5) {
		*why = "expected 5 comma-separated fields";
		return -1;
	}
	if (fields[0][0] == '\0' || is_unknown(fields[0])) {
		*why = "no GPU name";
		return -1;
	}
	if (parse_pci_id(fields[1], gpu) != 0) {
		*why = "pci.device_id is not a hex id like 0x233510DE";
		return -1;
	}
	if (!valid_driver_version(fields[2])) {
		*why = "driver_version is not a version like 580.159.04";
		return -1;
	}
	if (parse_memory(fields[3], gpu) != 0) {
		*why = "memory.total is not a number of MiB";
		return -1;
	}
	if (parse_compute_cap(fields[4], gpu) != 0) {
		*why = "compute_cap is not MAJOR.MINOR";
		return -1;
	}
	gpu->name = strdup(fields[0]);
	gpu->driver_version = strdup(fields[2]);
	if (gpu->name == NULL || gpu->driver_version == NULL) {
		free(gpu->name);
		free(gpu->driver_version);
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int gg_nvsmi_parse_query(const char *text, struct gg_nvsmi *smi, char **cause)
{
	struct gg_nvsmi parsed = GG_NVSMI_INIT;
	struct gg_nvsmi_gpu gpu, *grown;
	char *copy = NULL, *line, *next, *shown = NULL;
	const char *why = NULL;
	size_t lineno = 0, i;
	int r;

	copy = strdup(text);
	if (copy == NULL) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	for (line = copy; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		shown = strndup(trim(line), QUOTE_MAX);
		if (shown == NULL) {
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			goto out;
		}
		if (shown[0] == '\0') {
			free(shown);
			shown = NULL;
			continue;
		}
		memset(&gpu, 0, sizeof gpu);
		if (parse_line(line, &gpu, &why) != 0) {
			r = gg_fail(cause, GG_HELPER_SYSTEM,
				    "unexpected 'nvidia-smi' output on line %zu (%s): '%s'",
				    lineno, why, shown);
			goto out;
		}
		free(shown);
		shown = NULL;
		grown = realloc(parsed.gpus, (parsed.count + 1) * sizeof *grown);
		if (grown == NULL) {
			free(gpu.name);
			free(gpu.driver_version);
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			goto out;
		}
		parsed.gpus = grown;
		parsed.gpus[parsed.count++] = gpu;
	}
	if (parsed.count == 0) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "'nvidia-smi' listed no GPU");
		goto out;
	}
	grown = realloc(smi->gpus, (smi->count + parsed.count) * sizeof *grown);
	if (grown == NULL) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	smi->gpus = grown;
	for (i = 0; i < parsed.count; i++)
		smi->gpus[smi->count++] = parsed.gpus[i];
	parsed.count = 0; /* moved into smi */
	r = 0;
out:
	gg_nvsmi_release(&parsed);
	free(shown);
	free(copy);
	return r;
}

int gg_nvsmi_parse_cuda_version(const char *text, char **version, char **cause)
{
	const char *p = text;
	size_t n;

	while ((p = strstr(p, "CUDA Version")) != NULL) {
		p += strlen("CUDA Version");
		p += strspn(p, " \t");
		if (*p != ':')
			continue;
		p++;
		p += strspn(p, " \t");
		n = strspn(p, "0123456789.");
		if (n == 0 || !isdigit((unsigned char)p[0]))
			continue;
		*version = strndup(p, n);
		if (*version == NULL)
			return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		return 0;
	}
	return gg_fail(cause, GG_HELPER_SYSTEM, "'nvidia-smi' printed no CUDA version");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The child's side: wire up stdin (in_fd, or /dev/null when it is -1), stdout and
 * stderr, exec, report a failed exec.
 */
static void run_child(char *const argv[], int in_fd, int out_fd, int err_fd, int report_fd)
{
	int e;

	/* Its own process group, so that a timeout kills whatever it started too. */
	setpgid(0, 0);
	if (in_fd < 0)
		in_fd = open("/dev/null", O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	execvp(argv[0], argv);
fail:
	e = errno;
	if (write(report_fd, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

/* Read what is there from fd into b; 1 at end of file, 0 more to come, -1 error. */
static int drain(int fd, struct gg_buf *b)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof chunk);

	if (n == 0)
		return 1;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (b->len + (size_t)n > CAPTURE_LIMIT || gg_buf_add(b, chunk, (size_t)n) != 0)
		return -1;
	return 0;
}

int gg_nvsmi_capture(char *const argv[], int timeout_ms, char **out, char **err,
		     int *status, char **cause)
{
	return gg_capture(argv, NULL, 0, timeout_ms, out, err, status, cause);
}

int gg_capture(char *const argv[], const char *input, size_t input_len, int timeout_ms,
	       char **out, char **err, int *status, char **cause)
{
	struct gg_buf out_buf = GG_BUF_INIT, err_buf = GG_BUF_INIT;
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, report[2] = { -1, -1 };
	int in_pipe[2] = { -1, -1 };
	struct pollfd fds[2];
	long long deadline = now_ms() + timeout_ms, left;
	pid_t pid = -1, waited;
	int r, e, st = 0, exec_errno = 0, open_fds;
	ssize_t n;

	*out = *err = NULL;
	if (input_len > GG_CAPTURE_INPUT_MAX)
		return gg_fail(cause, GG_HELPER_SYSTEM, "the input for '%s' is too long", argv[0]);
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
	    pipe2(report, O_CLOEXEC) != 0 || (input != NULL && pipe2(in_pipe, O_CLOEXEC) != 0)) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot make a pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot run '%s'", argv[0]);
		goto out;
	}
	if (pid == 0)
		run_child(argv, in_pipe[0], out_pipe[1], err_pipe[1], report[1]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	close(report[1]);
	out_pipe[1] = err_pipe[1] = report[1] = -1;

	/* The report pipe closes on a successful exec, or carries exec's errno. */
	do
		n = read(report[0], &exec_errno, sizeof exec_errno);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof exec_errno) {
		waitpid(pid, NULL, 0);
		pid = -1;
		if (exec_errno == ENOENT)
			r = gg_fail(cause, GG_HELPER_SYSTEM, "'%s' not found on PATH%s", argv[0],
				    strstr(argv[0], "nvidia-smi") != NULL
					    ? " (is the NVIDIA driver installed?)" : "");
		else
			r = gg_fail_errno(cause, GG_HELPER_SYSTEM, exec_errno, "cannot run '%s'",
					  argv[0]);
		goto out;
	}

	if (input != NULL) {
		/*
		 * Small enough for the pipe's buffer: written whole before the child reads.
		 * A child that ends without reading must not kill us with SIGPIPE.
		 */
		struct sigaction ignore = { .sa_handler = SIG_IGN }, old;

		close(in_pipe[0]);
		in_pipe[0] = -1;
		sigaction(SIGPIPE, &ignore, &old);
		e = gg_write_all(in_pipe[1], input, input_len) != 0 && errno != EPIPE ? errno : 0;
		sigaction(SIGPIPE, &old, NULL);
		if (e != 0) {
			r = gg_fail_errno(cause, GG_HELPER_SYSTEM, e, "cannot write to '%s'", argv[0]);
			goto out;
		}
		close(in_pipe[1]);
		in_pipe[1] = -1;
	}

	fds[0].fd = out_pipe[0];
	fds[1].fd = err_pipe[0];
	fds[0].events = fds[1].events = POLLIN;
	open_fds = 2;
	while (open_fds > 0) {
		left = deadline - now_ms();
		if (left <= 0)
			goto timed_out;
		if (poll(fds, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot read from '%s'",
					  argv[0]);
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			e = drain(fds[i].fd, i == 0 ? &out_buf : &err_buf);
			if (e < 0) {
				r = gg_fail(cause, GG_HELPER_SYSTEM,
					    "cannot read the output of '%s' (more than %d MiB?)",
					    argv[0], CAPTURE_LIMIT >> 20);
				goto out;
			}
			if (e == 1) {
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	/* Both pipes closed: the program has ended, or is about to. */
	for (;;) {
		waited = waitpid(pid, &st, WNOHANG);
		if (waited == pid)
			break;
		if (waited < 0 && errno != EINTR) {
			r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot wait for '%s'",
					  argv[0]);
			goto out;
		}
		if (deadline - now_ms() <= 0)
			goto timed_out;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	pid = -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	*out = gg_buf_detach(&out_buf, NULL);
	*err = gg_buf_detach(&err_buf, NULL);
	if (*out == NULL || *err == NULL) {
		free(*out);
		free(*err);
		*out = *err = NULL;
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	r = 0;
	goto out;

timed_out:
	r = gg_fail(cause, GG_HELPER_SYSTEM, "'%s' did not finish within %d s: killed it",
		    argv[0], (timeout_ms + 999) / 1000);
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
		if (report[i] >= 0)
			close(report[i]);
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
	}
	gg_buf_release(&out_buf);
	gg_buf_release(&err_buf);
	return r;
}

/* The first non-blank line of text, at most QUOTE_MAX bytes, or NULL. */
static char *first_line(const char *text)
{
	size_t n;

	text += strspn(text, " \t\r\n");
	n = strcspn(text, "\r\n");
	if (n == 0)
		return NULL;
	return strndup(text, n < QUOTE_MAX ? n : QUOTE_MAX);
}

int gg_nvsmi_run(const char *program, int timeout_ms, struct gg_nvsmi *smi, char **cause)
{
	char *query[] = { (char *)program, "--query-gpu=" GG_NVSMI_QUERY,
			  "--format=csv,noheader,nounits", NULL };
	char *plain[] = { (char *)program, NULL };
	char *out = NULL, *err = NULL, *said = NULL, *cuda = NULL;
	int r, status;

	r = gg_nvsmi_capture(query, timeout_ms, &out, &err, &status, cause);
	if (r != 0)
		goto out;
	if (status != 0) {
		said = first_line(out);
		if (said == NULL)
			said = first_line(err);
		r = gg_fail(cause, GG_HELPER_SYSTEM, "'%s' failed (exit %d): %s", program,
			    status, said != NULL ? said : "it printed nothing");
		goto out;
	}
	r = gg_nvsmi_parse_query(out, smi, cause);
	if (r != 0)
		goto out;

	/* The CUDA version is only in the human-readable header. */
	free(out);
	free(err);
	out = err = NULL;
	if (gg_nvsmi_capture(plain, timeout_ms, &out, &err, &status, NULL) == 0 &&
	    status == 0 && gg_nvsmi_parse_cuda_version(out, &cuda, NULL) == 0) {
		free(smi->cuda_version);
		smi->cuda_version = cuda;
	}
	r = 0;
out:
	free(said);
	free(out);
	free(err);
	return r;
}
