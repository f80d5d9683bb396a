/*
 * fuzz_remote.c: the CLI's `status` and `logs` (the follow reader and the renderer)
 * reading what a compromised VM sends.
 *
 * The SSH layer is replaced at link time (-Wl,--wrap=ssh_...): there is no network,
 * and every command the CLI runs on the "VM" gets the next answer from the input.
 * So is the CLI's monotonic clock: it moves by the pauses the CLI asks for and a
 * millisecond a reading, never with the real time, so that what an input does (how
 * many reconnects before a deadline) does not depend on how fast or loaded this
 * machine is.
 * The input is
 *
 *     SCENARIO-BYTE  ANSWER ANSWER ...
 *
 * where an ANSWER is EXIT-STATUS-BYTE, a 16-bit little-endian length, and that many
 * bytes of output (stdout; its last line is stderr too).  A command that runs the
 * helper gets the wrapper's ready line before its answer, as from a VM that has the
 * helper.  When the answers run out, the next command finds the link gone and the
 * reconnect fails for good.  The scenario byte picks the command: status, status
 * --json, logs, logs --json, logs --since last.
 *
 * Asserted besides "no crash, no leak", on everything the command wrote to stdout:
 *   - it is valid UTF-8 with no control character but newline and tab: no escape
 *     sequence, no C0, no DEL, no C1 (U+0080..U+009F, a CSI among them), so nothing
 *     the VM sent can drive the terminal;
 *   - under --json it is ASCII, every line a JSON value;
 *   - it is bounded by the input (at most eight bytes a byte, plus the fixed text);
 *   - a refusal has a printable one-line cause.
 *
 * Gate: replay only: the CLI under test writes its state files, and two seed-1 runs
 * still differ (tools/fuzz).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_fs.h"
#include "ssh.h"
#include "xmalloc.h"

/* What the wrapper (plugin/remote.c) prints once the helper checked out. */
#define READY "gcloud-gpu-helper: ready\n"

static const uint8_t *feed;
static size_t feed_left;

/* A connection and an exec channel: only their addresses matter to the caller. */
struct ssh_conn {
	int unused;
};

struct ssh_exec {
	struct gg_buf out;  /* what is left to read */
	size_t pos;
	int status;
	struct gg_buf err;
};

int __wrap_ssh_conn_open_ex(const struct ssh_options *o, struct ssh_conn **out,
			    int *auth_refused, char **cause);
int __wrap_ssh_conn_open(const struct ssh_options *o, struct ssh_conn **out, char **cause);
void __wrap_ssh_conn_close(struct ssh_conn *c);
const char *__wrap_ssh_conn_user(const struct ssh_conn *c);
const char *__wrap_ssh_conn_name(const struct ssh_conn *c);
void __wrap_ssh_conn_keepalive(struct ssh_conn *c);
int __wrap_ssh_exec_start(struct ssh_conn *c, const char *command, struct ssh_exec **out,
			  char **cause);
int __wrap_ssh_exec_write(struct ssh_exec *x, const void *data, size_t len, char **cause);
int __wrap_ssh_exec_close_stdin(struct ssh_exec *x, char **cause);
long __wrap_ssh_exec_read(struct ssh_exec *x, void *buf, size_t size, int timeout_ms,
			  char **cause);
int __wrap_ssh_exec_finish(struct ssh_exec *x, int *status, struct gg_buf *err, char **cause);
void __wrap_ssh_exec_abort(struct ssh_exec *x);
int __wrap_ssh_conn_run(struct ssh_conn *c, const char *command, const void *in,
			size_t in_len, struct gg_buf *out, struct gg_buf *err, int *status,
			char **cause);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);
double __wrap_gg_clock_monotonic(void);

/* The CLI's monotonic clock, in seconds: set anew for every input. */
static double virtual_now;

double __wrap_gg_clock_monotonic(void)
{
	virtual_now += 0.001;
	return virtual_now;
}

/* The pauses between reconnects and follows: none here, but the clock moves by them. */
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)rem;
	virtual_now += (double)req->tv_sec + (double)req->tv_nsec / 1e9;
	return 0;
}

int __wrap_ssh_conn_open_ex(const struct ssh_options *o, struct ssh_conn **out,
			    int *auth_refused, char **cause)
{
	(void)o;
	if (auth_refused != NULL)
		*auth_refused = 0;
	*out = NULL;
	/*
	 * No whole answer left: a final refusal, so that no caller waits for it.  (A VM
	 * that takes connections and refuses every command is followed with backoff, the
	 * pauses that this harness skips: a connection here must have an answer to give.)
	 */
	if (feed_left < 3)
		return gg_fail(cause, GG_EXIT_HOSTKEY, "the input ran out");
	*out = xcalloc(1, sizeof **out);
	return 0;
}

int __wrap_ssh_conn_open(const struct ssh_options *o, struct ssh_conn **out, char **cause)
{
	return __wrap_ssh_conn_open_ex(o, out, NULL, cause);
}

void __wrap_ssh_conn_close(struct ssh_conn *c)
{
	free(c);
}

const char *__wrap_ssh_conn_user(const struct ssh_conn *c)
{
	(void)c;
	return "root";
}

const char *__wrap_ssh_conn_name(const struct ssh_conn *c)
{
	(void)c;
	return "root@vm.example:22";
}

void __wrap_ssh_conn_keepalive(struct ssh_conn *c)
{
	(void)c;
}

/* The next answer from the input into x; 0 when the input ran out. */
static int next_answer(struct ssh_exec *x, int ready)
{
	size_t len;

	if (feed_left < 3)
		return 0;
	x->status = feed[0];
	len = (size_t)feed[1] | (size_t)feed[2] << 8;
	feed += 3;
	feed_left -= 3;
	if (len > feed_left)
		len = feed_left;
	if (ready)
		gg_buf_addstr(&x->out, READY);
	gg_buf_add(&x->out, feed, len);
	gg_buf_add(&x->err, feed, len);
	feed += len;
	feed_left -= len;
	return 1;
}

int __wrap_ssh_exec_start(struct ssh_conn *c, const char *command, struct ssh_exec **out,
			  char **cause)
{
	struct ssh_exec *x = xcalloc(1, sizeof *x);

	(void)c;
	gg_buf_init(&x->out);
	gg_buf_init(&x->err);
	*out = NULL;
	if (!next_answer(x, strstr(command, "gcloud-gpu-helper: ready") != NULL)) {
		__wrap_ssh_exec_abort(x);
		return gg_fail(cause, GG_EXIT_SSH, "lost the connection: the input ran out");
	}
	*out = x;
	return 0;
}

int __wrap_ssh_exec_write(struct ssh_exec *x, const void *data, size_t len, char **cause)
{
	(void)x;
	(void)data;
	(void)len;
	(void)cause;
	return 0;
}

int __wrap_ssh_exec_close_stdin(struct ssh_exec *x, char **cause)
{
	(void)x;
	(void)cause;
	return 0;
}

long __wrap_ssh_exec_read(struct ssh_exec *x, void *buf, size_t size, int timeout_ms,
			  char **cause)
{
	size_t n = x->out.len - x->pos;

	(void)timeout_ms;
	(void)cause;
	if (n == 0)
		return -1;
	/* Small pieces: lines and UTF-8 sequences arrive cut, as over a real link. */
	if (n > size)
		n = size;
	if (n > 1000)
		n = 1000;
	memcpy(buf, x->out.data + x->pos, n);
	x->pos += n;
	return (long)n;
}

int __wrap_ssh_exec_finish(struct ssh_exec *x, int *status, struct gg_buf *err, char **cause)
{
	(void)cause;
	*status = x->status;
	if (err != NULL)
		gg_buf_add(err, x->err.data, x->err.len);
	__wrap_ssh_exec_abort(x);
	return 0;
}

void __wrap_ssh_exec_abort(struct ssh_exec *x)
{
	if (x == NULL)
		return;
	gg_buf_release(&x->out);
	gg_buf_release(&x->err);
	free(x);
}

int __wrap_ssh_conn_run(struct ssh_conn *c, const char *command, const void *in,
			size_t in_len, struct gg_buf *out, struct gg_buf *err, int *status,
			char **cause)
{
	struct ssh_exec *x = NULL;
	int r;

	(void)in;
	(void)in_len;
	*status = -1;
	if ((r = __wrap_ssh_exec_start(c, command, &x, cause)) != 0)
		return r;
	if (out != NULL)
		gg_buf_add(out, x->out.data, x->out.len);
	return __wrap_ssh_exec_finish(x, status, err, cause);
}

/* The length of the valid UTF-8 sequence at p (of n bytes), 0 when invalid. */
static size_t utf8_length(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/* What reached the terminal: nothing in it can drive one. */
static void check_inert(const unsigned char *s, size_t n, int json)
{
	size_t i = 0, len;

	while (i < n) {
		if (s[i] < 0x80) {
			if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f) {
				fprintf(stderr, "control byte 0x%02x at %zu of %zu\n", s[i], i, n);
				FUZZ_ASSERT(!"what the VM sent cannot drive the terminal");
			}
			FUZZ_ASSERT(!json || s[i] != '\t');
			i++;
			continue;
		}
		FUZZ_ASSERT(!json); /* --json output is ASCII */
		len = utf8_length(s + i, n - i);
		if (len == 0) {
			fprintf(stderr, "invalid UTF-8 byte 0x%02x at %zu of %zu\n", s[i], i, n);
			FUZZ_ASSERT(!"what the VM sent cannot drive the terminal");
		}
		/* U+0080..U+009F, C1: a CSI among them. */
		FUZZ_ASSERT(!(len == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f));
		i += len;
	}
}

/* Every line of --json output is a JSON value. */
static void check_json_lines(const char *s, size_t n)
{
	const char *line = s, *end = s + n, *nl;
	json_error_t jerr;
	json_t *v;

	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		FUZZ_ASSERT(nl != NULL); /* every line ends */
		v = json_loadb(line, (size_t)(nl - line), JSON_DECODE_ANY, &jerr);
		if (v == NULL)
			fprintf(stderr, "--json line: '%.*s': %s\n", (int)(nl - line), line, jerr.text);
		FUZZ_ASSERT(v != NULL);
		json_decref(v);
	}
}

static struct fuzz_sandbox sandbox;
static int out_fd = -1;

/* Once: stdout into a file of our own, a helper file to "upload", a private HOME. */
static void setup(void)
{
	char path[FUZZ_PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	int fd;

	fuzz_sandbox_reset(&sandbox, "remote");
	fuzz_path(path, "%s/gg-fuzz-remote-out.XXXXXX", tmp != NULL ? tmp : "/tmp");
	out_fd = mkstemp(path);
	FUZZ_ASSERT(out_fd >= 0);
	unlink(path);
	fflush(stdout);
	FUZZ_ASSERT(dup2(out_fd, STDOUT_FILENO) == STDOUT_FILENO);
	fuzz_path(path, "%s/gg-fuzz-remote-helper.XXXXXX", tmp != NULL ? tmp : "/tmp");
	fd = mkstemp(path);
	FUZZ_ASSERT(fd >= 0 && write(fd, "#!/bin/sh\n", 10) == 10);
	close(fd);
	setenv("GCLOUD_GPU_HELPER", path, 1);
	setenv("HOME", sandbox.work, 1);
	setenv("XDG_STATE_HOME", sandbox.work, 1);
	setenv("XDG_CACHE_HOME", sandbox.work, 1);
	unsetenv("GCLOUD_GPU_TEST_HOOKS");
	unsetenv("TERM");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const commands[][6] = {
		{ "status", "--ssh", "root@vm.example", NULL },
		{ "status", "--ssh", "root@vm.example", "--json", NULL },
		{ "logs", "--ssh", "root@vm.example", NULL },
		{ "logs", "--ssh", "root@vm.example", "--json", NULL },
		{ "logs", "--ssh", "root@vm.example", "--since", "last", NULL },
	};
	char *cause = NULL, *argv[6], *text;
	struct stat st;
	int scenario, argc, json, rc;
	ssize_t got;

	if (size < 1)
		return 0;
	if (out_fd < 0)
		setup();
	fuzz_sandbox_reset(&sandbox, "remote");
	virtual_now = 1000;
	scenario = data[0] % (int)(sizeof commands / sizeof commands[0]);
	json = scenario == 1 || scenario == 3;
	feed = data + 1;
	feed_left = size - 1;
	for (argc = 0; commands[scenario][argc] != NULL; argc++)
		argv[argc] = commands[scenario][argc];
	argv[argc] = NULL;
	fflush(stdout);
	FUZZ_ASSERT(ftruncate(STDOUT_FILENO, 0) == 0 && lseek(STDOUT_FILENO, 0, SEEK_SET) == 0);

	rc = scenario <= 1 ? cmd_status(argc, argv, &cause) : cmd_logs(argc, argv, &cause);

	fflush(stdout);
	FUZZ_ASSERT(fstat(STDOUT_FILENO, &st) == 0);
	FUZZ_ASSERT((size_t)st.st_size <= 8 * size + 65536);
	text = xmalloc((size_t)st.st_size + 1);
	got = pread(STDOUT_FILENO, text, (size_t)st.st_size, 0);
	FUZZ_ASSERT(got == st.st_size);
	check_inert((const unsigned char *)text, (size_t)got, json);
	if (json)
		check_json_lines(text, (size_t)got);
	free(text);
	FUZZ_ASSERT(rc == 0 || cause != NULL);
	if (cause != NULL) {
		FUZZ_ASSERT(fuzz_cause_is_printable(cause));
		free(cause);
	}
	fuzz_sandbox_check_outside(&sandbox);
	return 0;
}
