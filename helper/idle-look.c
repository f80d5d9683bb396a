/*
 * idle-look.c: one look at the machine for the idle check (idle-look.h): Jupyter
 * through the VM's curl, the GPUs through nvidia-smi, SSH sessions from /proc,
 * logins from utmp, a running plan from the runner's lock.  The parsers work on text
 * alone, for the unit tests and the fuzz harness; the rest runs the programs (each
 * with a kill deadline, gg_capture) and reads the files.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#include <jansson.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "fsutil.h"
#include "idle-look.h"
#include "journal.h"
#include "nvsmi.h"
#include "protocol.h"

/* Enough for any real /proc/PID/cmdline of sshd or a kernel that we need to read. */
#define CMDLINE_MAX 4096
/* The most compute processes looked at one by one; more all count as GPU users. */
#define PIDS_MAX 256
/* utmp files are small (a record per login since boot); more is not a utmp. */
#define UTMP_MAX (4 * 1024 * 1024)
/* A Jupyter token is 48 or 64 hex digits; anything longer is not one. */
#define TOKEN_MAX 128

void gg_idle_env_load(struct gg_idle_env *env, const char *root)
{
	const char *url = getenv(GG_ENV_JUPYTER_URL), *utmp = getenv(GG_ENV_UTMP_FILE);
	const char *pid = getenv(GG_ENV_IDLE_SSHD_PID);

	env->root = root;
	/* Only loopback, and nothing that could break out of the quoted curl config. */
	env->jupyter_url = url != NULL && strncmp(url, "http://127.0.0.1:", 17) == 0 &&
				   strpbrk(url, "\"\\ \t\r\n") == NULL
				   ? url : GG_DEFAULT_JUPYTER_URL;
	env->utmp = utmp != NULL && utmp[0] != '\0' ? utmp : "/run/utmp";
	env->sshd_pid = pid != NULL ? strtol(pid, NULL, 10) : 0;
	if (env->sshd_pid < 0)
		env->sshd_pid = 0;
}

/* Parse exactly n digits at *p into *v; advances *p.  -1 when they are not there. */
static int digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int gg_idle_parse_time(const char *s, double *t)
{
	struct tm tm = { 0 };
	int year, mon, day, hour, min, sec;
	double frac = 0, scale = 0.1;
	time_t secs;

	if (digits(&s, 4, &year) != 0 || *s++ != '-' || digits(&s, 2, &mon) != 0 ||
	    *s++ != '-' || digits(&s, 2, &day) != 0 || *s++ != 'T' ||
	    digits(&s, 2, &hour) != 0 || *s++ != ':' || digits(&s, 2, &min) != 0 ||
	    *s++ != ':' || digits(&s, 2, &sec) != 0)
		return -1;
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
	    min > 59 || sec > 60)
		return -1;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	/* Jupyter writes UTC as Z (notebook, jupyter_server) or +00:00 (older). */
	if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return -1;
	*t = (double)secs + frac;
	return 0;
}

/* A time field of a Jupyter object; -1 when absent or malformed. */
static int time_field(json_t *obj, const char *key, double *t)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? gg_idle_parse_time(s, t) : -1;
}

/* One answer of the curl output at *p: its body and HTTP code; *p moves past it. */
static int next_answer(const char **p, const char *end, const char **body, size_t *body_len,
		       int *code)
{
	static const char mark[] = "\n" GG_IDLE_CURL_MARK;
	const char *m = memmem(*p, (size_t)(end - *p), mark, sizeof mark - 1), *c;

	if (m == NULL)
		return -1;
	*body = *p;
	*body_len = (size_t)(m - *p);
	c = m + sizeof mark - 1;
	if (end - c < 4 || !isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]) ||
	    !isdigit((unsigned char)c[2]) || c[3] != '\n')
		return -1;
	*code = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
	*p = c + 4;
	return 0;
}

int gg_idle_parse_jupyter(const char *out, size_t len, struct gg_idle_look *look, char **cause)
{
	const char *p = out, *end = out + len, *body[2];
	size_t body_len[2], i;
	int code[2];
	json_t *status = NULL, *kernels = NULL, *k;
	double t, newest = 0;
	int busy = 0, r = -1;

	for (i = 0; i < 2; i++) {
		if (next_answer(&p, end, &body[i], &body_len[i], &code[i]) != 0) {
			gg_fail(cause, -1, "curl's output is not two answers");
			goto out;
		}
		if (code[i] != 200) {
			gg_fail(cause, -1, "Jupyter answered HTTP %03d to %s%s", code[i],
				i == 0 ? "/api/status" : "/api/kernels",
				code[i] == 403 ? " (is jupyter-token its token?)" : "");
			goto out;
		}
	}
	status = json_loadb(body[0], body_len[0], 0, NULL);
	if (!json_is_object(status) || time_field(status, "last_activity", &t) != 0) {
		gg_fail(cause, -1, "Jupyter's /api/status has no last_activity time");
		goto out;
	}
	kernels = json_loadb(body[1], body_len[1], 0, NULL);
	if (!json_is_array(kernels)) {
		gg_fail(cause, -1, "Jupyter's /api/kernels is not a list");
		goto out;
	}
	json_array_foreach(kernels, i, k) {
		const char *state = json_string_value(json_object_get(k, "execution_state"));
		double kt;

		if (state == NULL || time_field(k, "last_activity", &kt) != 0) {
			gg_fail(cause, -1, "a kernel in Jupyter's /api/kernels has no "
				"execution_state or last_activity");
			goto out;
		}
		/* A kernel starting up is about to work; busy, or anything unknown, is too. */
		if (strcmp(state, "idle") != 0 && strcmp(state, "dead") != 0)
			busy++;
		if (kt > newest)
			newest = kt;
	}
	look->jupyter = GG_JUPYTER_UP;
	look->jupyter_activity = t;
	look->kernels = (int)json_array_size(kernels);
	look->kernels_busy = busy;
	look->kernel_activity = newest;
	r = 0;
out:
	json_decref(status);
	json_decref(kernels);
	return r;
}

/* The next line of text (without its newline, trimmed of blanks); NULL at the end. */
static const char *next_line(const char **p, size_t *len)
{
	const char *s = *p, *e;

	if (*s == '\0')
		return NULL;
	e = s + strcspn(s, "\n");
	*p = *e == '\n' ? e + 1 : e;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*len = (size_t)(e - s);
	return s;
}

/* Whether a field is nvidia-smi's "no value": [N/A], [Not Supported], [Unknown Error]. */
static int no_value(const char *s, size_t len)
{
	return len >= 2 && s[0] == '[' && s[len - 1] == ']';
}

int gg_idle_parse_gpu_utilization(const char *text, int *highest, char **cause)
{
	const char *p = text, *s;
	size_t len, i, gpus = 0;
	int v;

	*highest = 0;
	while ((s = next_line(&p, &len)) != NULL) {
		if (len == 0)
			continue;
		gpus++;
		/* MIG instances report no utilization: their processes still count. */
		if (no_value(s, len))
			continue;
		for (i = 0, v = 0; i < len && i < 4 && isdigit((unsigned char)s[i]); i++)
			v = v * 10 + (s[i] - '0');
		if (i != len || v > 100)
			return gg_fail(cause, -1, "nvidia-smi printed a utilization that is not a "
				       "percentage: '%.*s'", (int)(len < 40 ? len : 40), s);
		if (v > *highest)
			*highest = v;
	}
	if (gpus == 0)
		return gg_fail(cause, -1, "nvidia-smi listed no GPU utilization");
	return 0;
}

int gg_idle_parse_gpu_pids(const char *text, long *pids, size_t max, size_t *count,
			   char **cause)
{
	const char *p = text, *s;
	size_t len, i;
	long v;

	*count = 0;
	while ((s = next_line(&p, &len)) != NULL) {
		if (len == 0 || (len >= 10 && strncmp(s, "No running", 10) == 0))
			continue;
		for (i = 0, v = 0; i < len && i < 10 && isdigit((unsigned char)s[i]); i++)
			v = v * 10 + (s[i] - '0');
		/* pid, then nothing or more fields after a comma. */
		if (i == 0 || (i < len && s[i] != ','))
			return gg_fail(cause, -1, "nvidia-smi printed a compute process that is "
				       "not a pid: '%.*s'", (int)(len < 40 ? len : 40), s);
		if (*count < max)
			pids[*count] = v;
		(*count)++;
	}
	return 0;
}

int gg_idle_sshd_session(const char *cmdline, size_t len)
{
	static const char *const prefixes[] = { "sshd: ", "sshd-session: " };
	size_t n = strnlen(cmdline, len), i, plen;
	const char *user;

	/* setproctitle pads the title with blanks. */
	while (n > 0 && cmdline[n - 1] == ' ')
		n--;
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		plen = strlen(prefixes[i]);
		if (n <= plen || strncmp(cmdline, prefixes[i], plen) != 0)
			continue;
		user = cmdline + plen;
		/*
		 * "USER@pts/0", "USER@notty" or, port forwarding only, "USER".  Not the
		 * listener ("/usr/sbin/sshd -D [listener] ..."), not a connection still
		 * authenticating or its monitor ("USER [priv]", "unknown [net]").
		 */
		if (!isalnum((unsigned char)user[0]) && user[0] != '_')
			return 0;
		return memchr(user, ' ', n - plen) == NULL;
	}
	return 0;
}

int gg_idle_is_kernel(const char *cmdline, size_t len)
{
	return memmem(cmdline, len, "ipykernel", 9) != NULL;
}

int gg_idle_count_utmp(const void *data, size_t len, int (*alive)(long pid))
{
	const struct utmp *u = data;
	size_t i, n = len / sizeof *u;
	int count = 0;

	for (i = 0; i < n; i++) {
		struct utmp rec;

		memcpy(&rec, &u[i], sizeof rec); /* the data need not be aligned */
		if (rec.ut_type == USER_PROCESS && rec.ut_pid > 0 &&
		    (alive == NULL || alive(rec.ut_pid)))
			count++;
	}
	return count;
}

/* Read /proc/PID/NAME (at most max bytes) into buf; the length, or -1. */
static ssize_t read_proc(long pid, const char *name, char *buf, size_t max)
{
	char path[64];
	struct gg_buf b = GG_BUF_INIT;
	ssize_t n = -1;

	snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
	if (gg_read_file(path, max, &b, NULL) == 0 && b.len <= max) {
		memcpy(buf, b.data, b.len);
		n = (ssize_t)b.len;
	}
	gg_buf_release(&b);
	return n;
}

/* The parent of pid from /proc/PID/stat (after the command's closing parenthesis). */
static long parent_of(long pid)
{
	char stat[512], *close_paren;
	ssize_t n = read_proc(pid, "stat", stat, sizeof stat - 1);
	long ppid;

	if (n <= 0)
		return -1;
	stat[n] = '\0';
	close_paren = strrchr(stat, ')');
	if (close_paren == NULL || sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return ppid;
}

static int below(long pid, long ancestor)
{
	int depth;

	for (depth = 0; depth < 64 && pid > 1; depth++) {
		pid = parent_of(pid);
		if (pid == ancestor)
			return 1;
	}
	return 0;
}

static int look_ssh(const struct gg_idle_env *env, struct gg_idle_look *look)
{
	char comm[32], cmdline[CMDLINE_MAX];
	struct dirent *e;
	DIR *proc = opendir("/proc");
	ssize_t n;
	long pid;
	int sessions = 0;

	if (proc == NULL) {
		snprintf(look->logins_why, sizeof look->logins_why, "cannot read /proc: %s",
			 strerror(errno));
		return -1;
	}
	while ((e = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = strtol(e->d_name, NULL, 10);
		n = read_proc(pid, "comm", comm, sizeof comm - 1);
		if (n <= 0)
			continue; /* ended meanwhile */
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, "sshd") != 0 && strcmp(comm, "sshd-session") != 0)
			continue;
		n = read_proc(pid, "cmdline", cmdline, sizeof cmdline);
		if (n > 0 && gg_idle_sshd_session(cmdline, (size_t)n) &&
		    (env->sshd_pid == 0 || below(pid, env->sshd_pid)))
			sessions++;
	}
	closedir(proc);
	return sessions;
}

static int pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int look_logins(const struct gg_idle_env *env, struct gg_idle_look *look)
{
	struct gg_buf b = GG_BUF_INIT;
	char *why = NULL;
	int n;

	if (access(env->utmp, F_OK) != 0 && errno == ENOENT)
		return 0; /* no utmp kept: no one logged in that it could show */
	if (gg_read_file(env->utmp, UTMP_MAX, &b, &why) != 0) {
		snprintf(look->logins_why, sizeof look->logins_why, "%s", why);
		free(why);
		return -1;
	}
	n = gg_idle_count_utmp(b.data, b.len, pid_alive);
	gg_buf_release(&b);
	return n;
}

/* The first line of text, for a message. */
static void first_line(char *dst, size_t size, const char *what, const char *text)
{
	size_t n = strcspn(text, "\r\n");

	snprintf(dst, size, "%s%.*s", what, (int)(n < 100 ? n : 100), text);
	gg_printable(dst, 0);
}

static void look_jupyter(const struct gg_idle_env *env, struct gg_idle_look *look,
			 double *polled_at)
{
	char *argv[] = { "curl", "-q", "-K", "-", NULL };
	struct gg_buf token = GG_BUF_INIT, config = GG_BUF_INIT;
	char *path = gg_path_join(env->root, GG_FILE_TOKEN), *out = NULL, *err = NULL;
	char *why = NULL;
	struct timespec now;
	size_t n;
	int status;

	look->jupyter = GG_JUPYTER_UNKNOWN;
	gg_buf_addf(&config, "silent\nshow-error\nmax-time = %d\nconnect-timeout = 3\n"
			     "write-out = \"\\n" GG_IDLE_CURL_MARK "%%{http_code}\\n\"\n"
			     "url = \"%s/api/status\"\nurl = \"%s/api/kernels\"\n",
		    GG_IDLE_CURL_TIMEOUT_S, env->jupyter_url, env->jupyter_url);
	/* No token yet (the recipe writes it): asked without, Jupyter down or 403. */
	if (path != NULL && gg_read_file(path, TOKEN_MAX, &token, NULL) == 0) {
		n = strspn(token.data, "0123456789abcdefABCDEF");
		if (n == 0 || token.data[n + strspn(token.data + n, "\r\n")] != '\0') {
			snprintf(look->jupyter_why, sizeof look->jupyter_why,
				 "'%s' does not hold a token", path);
			goto out;
		}
		gg_buf_addf(&config, "header = \"Authorization: token %.*s\"\n", (int)n, token.data);
	}
	if (gg_capture(argv, config.data, config.len, (GG_IDLE_CURL_TIMEOUT_S + 5) * 1000, &out,
		       &err, &status, &why) != 0) {
		first_line(look->jupyter_why, sizeof look->jupyter_why, "", why);
		goto out;
	}
	if (status == 7) {
		look->jupyter = GG_JUPYTER_DOWN;
		goto out;
	}
	if (status != 0) {
		char what[64];

		snprintf(what, sizeof what, "curl failed (exit %d): ", status);
		first_line(look->jupyter_why, sizeof look->jupyter_why, what, err);
		goto out;
	}
	gg_clock_wall(&now);
	*polled_at = (double)now.tv_sec + now.tv_nsec / 1e9;
	if (gg_idle_parse_jupyter(out, strlen(out), look, &why) != 0)
		first_line(look->jupyter_why, sizeof look->jupyter_why, "", why);
out:
	free(why);
	free(out);
	free(err);
	free(path);
	gg_buf_release(&token);
	gg_buf_release(&config);
}

/* Whether pid is a Jupyter kernel; a pid /proc does not show is not. */
static int kernel_process(long pid)
{
	char cmdline[CMDLINE_MAX];
	ssize_t n = read_proc(pid, "cmdline", cmdline, sizeof cmdline);

	return n > 0 && gg_idle_is_kernel(cmdline, (size_t)n);
}

static void look_gpu(struct gg_idle_look *look)
{
	char *util[] = { "nvidia-smi", "--query-gpu=utilization.gpu",
			 "--format=csv,noheader,nounits", NULL };
	char *apps[] = { "nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader", NULL };
	char *out = NULL, *err = NULL, *why = NULL;
	long pids[PIDS_MAX];
	size_t count, i;
	int status;

	look->gpu = GG_GPU_UNKNOWN;
	if (gg_capture(util, NULL, 0, GG_IDLE_NVSMI_TIMEOUT_MS, &out, &err, &status, &why) != 0) {
		/* No nvidia-smi: no NVIDIA GPU to keep busy (or its driver is not there yet). */
		if (strstr(why, "not found on PATH") != NULL)
			look->gpu = GG_GPU_NONE;
		else
			first_line(look->gpu_why, sizeof look->gpu_why, "", why);
		goto out;
	}
	if (status == 6) { /* "No devices were found" */
		look->gpu = GG_GPU_NONE;
		goto out;
	}
	if (status != 0) {
		char what[64];

		snprintf(what, sizeof what, "nvidia-smi failed (exit %d): ", status);
		first_line(look->gpu_why, sizeof look->gpu_why, what, out[0] != '\0' ? out : err);
		goto out;
	}
	if (gg_idle_parse_gpu_utilization(out, &look->gpu_utilization, &why) != 0) {
		first_line(look->gpu_why, sizeof look->gpu_why, "", why);
		goto out;
	}
	free(out);
	free(err);
	out = err = NULL;
	if (gg_capture(apps, NULL, 0, GG_IDLE_NVSMI_TIMEOUT_MS, &out, &err, &status, &why) != 0 ||
	    status != 0 || gg_idle_parse_gpu_pids(out, pids, PIDS_MAX, &count, &why) != 0) {
		first_line(look->gpu_why, sizeof look->gpu_why, "nvidia-smi --query-compute-apps: ",
			   why != NULL ? why : err != NULL ? err : "");
		goto out;
	}
	look->gpu_processes = count > PIDS_MAX ? (int)(count - PIDS_MAX) : 0;
	for (i = 0; i < count && i < PIDS_MAX; i++)
		if (look->jupyter != GG_JUPYTER_UP || !kernel_process(pids[i]))
			look->gpu_processes++;
	look->gpu = GG_GPU_SEEN;
out:
	free(why);
	free(out);
	free(err);
}

void gg_idle_look(const struct gg_idle_env *env, struct gg_idle_look *look, double *polled_at)
{
	memset(look, 0, sizeof *look);
	*polled_at = 0;
	look->plan_running = gg_lock_held(env->root);
	look->ssh_sessions = look_ssh(env, look);
	look->logins = look_logins(env, look);
	/* Jupyter first: the GPU look asks whether a compute process is its kernel. */
	look_jupyter(env, look, polled_at);
	look_gpu(look);
}
