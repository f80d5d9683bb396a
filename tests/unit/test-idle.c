/*
 * test-idle.c: the idle-stop decision (helper/idle.h) and the readers of what the
 * idle check looks at (helper/idle-look.h).
 *
 * Jupyter's answers come from tests/fixtures/jupyter (recorded from notebook 6.4.12;
 * its README says how), wrapped the way `curl -K -` prints two answers
 * with the check's write-out line after each.  nvidia-smi's answers are the documented
 * shapes (tests/fixtures/nvidia-smi/README.md).  Every way a look can be unsure is
 * driven through the decision: it must keep the VM up, except a Jupyter that is down.
 * A randomized walk checks the promise that matters most: no stop without a warning
 * given at least `warning` seconds before, in the same quiet stretch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utmp.h>

#include <cmocka.h>

#include "buf.h"
#include "idle-look.h"
#include "idle.h"

#define PERIOD 3600
#define WARNING 300
/* 2026-11-30T12:51:53.363676Z, the last activity in status.json: the cell's end */
#define STATUS_ACTIVITY 1796043113.363676

static char *read_fixture(const char *name)
{
	char path[4096];
	struct gg_buf b = GG_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/fixtures/jupyter/%s", GG_TEST_SOURCE_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		assert_int_equal(gg_buf_add(&b, chunk, n), 0);
	fclose(f);
	return gg_buf_detach(&b, NULL);
}

/* What curl prints for the two URLs: each body, then the write-out line. */
static char *curl_output(const char *status_file, int status_code, const char *kernels_file,
			 int kernels_code)
{
	struct gg_buf b = GG_BUF_INIT;
	char *s = read_fixture(status_file), *k = read_fixture(kernels_file);

	gg_buf_addf(&b, "%s\n" GG_IDLE_CURL_MARK "%03d\n%s\n" GG_IDLE_CURL_MARK "%03d\n", s,
		    status_code, k, kernels_code);
	free(s);
	free(k);
	return gg_buf_detach(&b, NULL);
}

/* A look at a machine where nothing happens: Jupyter up and long quiet, GPU idle. */
static struct gg_idle_look quiet(void)
{
	struct gg_idle_look l;

	memset(&l, 0, sizeof l);
	l.jupyter = GG_JUPYTER_UP;
	l.jupyter_activity = 1000;
	l.kernel_activity = 1000;
	l.gpu = GG_GPU_SEEN;
	return l;
}

static void test_time(void **state)
{
	double t;

	(void)state;
	assert_int_equal(gg_idle_parse_time("2026-11-30T12:51:53.363676Z", &t), 0);
	assert_true(t > STATUS_ACTIVITY - 1e-3 && t < STATUS_ACTIVITY + 1e-3);
	assert_int_equal(gg_idle_parse_time("1970-01-01T00:01:00+00:00", &t), 0);
	assert_true(t == 60);
	assert_int_equal(gg_idle_parse_time("2026-11-30T11:02:47", &t), -1);       /* no zone */
	assert_int_equal(gg_idle_parse_time("2026-11-30T11:02:47+02:00", &t), -1); /* not UTC */
	assert_int_equal(gg_idle_parse_time("2026-11-30 11:02:47Z", &t), -1);
	assert_int_equal(gg_idle_parse_time("2026-13-30T11:02:47Z", &t), -1);
	assert_int_equal(gg_idle_parse_time("2026-11-30T11:02:47.Z", &t), -1);
	assert_int_equal(gg_idle_parse_time("", &t), -1);
}

static void test_jupyter_idle(void **state)
{
	char *out = curl_output("status.json", 200, "kernels-idle.json", 200), *cause = NULL;
	struct gg_idle_look l;

	(void)state;
	memset(&l, 0, sizeof l);
	assert_int_equal(gg_idle_parse_jupyter(out, strlen(out), &l, &cause), 0);
	assert_int_equal(l.jupyter, GG_JUPYTER_UP);
	assert_int_equal(l.kernels, 1);
	assert_int_equal(l.kernels_busy, 0);
	assert_true(l.jupyter_activity > STATUS_ACTIVITY - 1e-3 &&
		    l.jupyter_activity < STATUS_ACTIVITY + 1e-3);
	assert_true(l.kernel_activity == l.jupyter_activity);
	free(out);
}

static void test_jupyter_busy_and_none(void **state)
{
	char *out = curl_output("status-busy.json", 200, "kernels-busy.json", 200), *cause = NULL;
	struct gg_idle_look l;
	double busy_at;

	(void)state;
	memset(&l, 0, sizeof l);
	assert_int_equal(gg_idle_parse_jupyter(out, strlen(out), &l, &cause), 0);
	assert_int_equal(l.kernels, 1);
	assert_int_equal(l.kernels_busy, 1);
	assert_int_equal(gg_idle_parse_time("2026-11-30T12:51:45.358202Z", &busy_at), 0);
	assert_true(l.kernel_activity == busy_at);
	free(out);

	out = curl_output("status.json", 200, "kernels-none.json", 200);
	memset(&l, 0, sizeof l);
	assert_int_equal(gg_idle_parse_jupyter(out, strlen(out), &l, &cause), 0);
	assert_int_equal(l.kernels, 0);
	assert_true(l.kernel_activity == 0);
	free(out);
}

/* Every answer the check cannot read leaves the look not UP, with a printable cause. */
static void test_jupyter_unreadable(void **state)
{
	static const char *const bad[] = {
		"",
		"{}",                                             /* no write-out lines */
		"{}\n" GG_IDLE_CURL_MARK "200\n",                 /* one answer only */
		"{}\n" GG_IDLE_CURL_MARK "2x0\n[]\n" GG_IDLE_CURL_MARK "200\n",
		"{\"last_activity\": \"2026-11-30T11:02:47Z\"}\n" GG_IDLE_CURL_MARK "200\n"
		"{}\n" GG_IDLE_CURL_MARK "200\n",                 /* kernels not a list */
		"{\"started\": \"x\"}\n" GG_IDLE_CURL_MARK "200\n[]\n" GG_IDLE_CURL_MARK "200\n",
		"{\"last_activity\": \"2026-11-30T11:02:47Z\"}\n" GG_IDLE_CURL_MARK "200\n"
		"[{\"execution_state\": \"busy\"}]\n" GG_IDLE_CURL_MARK "200\n",
		"{\"last_activity\": \"2026-11-30T11:02:47Z\"}\n" GG_IDLE_CURL_MARK "200\n"
		"[{\"last_activity\": \"2026-11-30T11:02:47Z\"}]\n" GG_IDLE_CURL_MARK "200\n",
		"<html>502 Bad Gateway</html>\n" GG_IDLE_CURL_MARK "502\n\n" GG_IDLE_CURL_MARK "502\n",
	};
	struct gg_idle_look l;
	char *cause = NULL, *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&l, 0, sizeof l);
		l.jupyter = GG_JUPYTER_UNKNOWN;
		assert_int_equal(gg_idle_parse_jupyter(bad[i], strlen(bad[i]), &l, &cause), -1);
		assert_non_null(cause);
		assert_null(strchr(cause, '\n'));
		assert_int_equal(l.jupyter, GG_JUPYTER_UNKNOWN);
		free(cause);
		cause = NULL;
	}
	/* The token refused: the cause says where to look. */
	out = curl_output("forbidden.json", 403, "forbidden.json", 403);
	assert_int_equal(gg_idle_parse_jupyter(out, strlen(out), &l, &cause), -1);
	assert_non_null(strstr(cause, "HTTP 403 to /api/status"));
	assert_non_null(strstr(cause, "jupyter-token"));
	free(cause);
	free(out);
}

static void test_gpu_answers(void **state)
{
	long pids[2];
	size_t count;
	int util;
	char *cause = NULL;

	(void)state;
	assert_int_equal(gg_idle_parse_gpu_utilization("0\n", &util, &cause), 0);
	assert_int_equal(util, 0);
	assert_int_equal(gg_idle_parse_gpu_utilization("0\n37\n3\n", &util, &cause), 0);
	assert_int_equal(util, 37);
	assert_int_equal(gg_idle_parse_gpu_utilization("[N/A]\n", &util, &cause), 0);
	assert_int_equal(util, 0);
	assert_int_equal(gg_idle_parse_gpu_utilization("", &util, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(gg_idle_parse_gpu_utilization("101\n", &util, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(gg_idle_parse_gpu_utilization("0 %\n", &util, &cause), -1);
	assert_non_null(strstr(cause, "'0 %'"));
	free(cause);
	cause = NULL;

	assert_int_equal(gg_idle_parse_gpu_pids("", pids, 2, &count, &cause), 0);
	assert_int_equal(count, 0);
	assert_int_equal(gg_idle_parse_gpu_pids("No running processes found\n", pids, 2, &count,
						&cause), 0);
	assert_int_equal(count, 0);
	assert_int_equal(gg_idle_parse_gpu_pids("48211\n48230, /usr/bin/python3\n7\n", pids, 2,
						&count, &cause), 0);
	assert_int_equal(count, 3);
	assert_int_equal(pids[0], 48211);
	assert_int_equal(pids[1], 48230);
	assert_int_equal(gg_idle_parse_gpu_pids("python3\n", pids, 2, &count, &cause), -1);
	free(cause);
}

static void test_sshd_titles(void **state)
{
	static const struct {
		const char *title;
		int session;
	} titles[] = {
		{ "sshd: root@pts/0", 1 },
		{ "sshd: alice@notty", 1 },
		{ "sshd: alice", 1 },               /* ssh -N -L: a tunnel alone */
		{ "sshd-session: alice@pts/3", 1 }, /* OpenSSH 9.8 and later */
		{ "sshd: alice@pts/1   ", 1 },      /* padded by setproctitle */
		{ "sshd: alice [priv]", 0 },
		{ "sshd: unknown [net]", 0 },
		{ "sshd: alice [net]", 0 },
		{ "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", 0 },
		{ "/usr/sbin/sshd -D", 0 },
		{ "sshd: ", 0 },
		{ "bash", 0 },
	};
	static const char listener[] = "/usr/sbin/sshd\0-D\0sshd: x";
	static const char kernel[] = "/usr/bin/python3\0-m\0ipykernel_launcher\0-f\0k.json";
	static const char script[] = "python3\0train.py";
	char cmdline[128];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof titles / sizeof titles[0]; i++) {
		n = strlen(titles[i].title);
		memcpy(cmdline, titles[i].title, n + 1);
		assert_int_equal(gg_idle_sshd_session(cmdline, n + 1), titles[i].session);
	}
	/* Arguments after the first NUL are not part of the title. */
	assert_int_equal(gg_idle_sshd_session(listener, sizeof listener), 0);
	assert_true(gg_idle_is_kernel(kernel, sizeof kernel));
	assert_false(gg_idle_is_kernel(script, sizeof script));
}

static int alive_below_100(long pid)
{
	return pid < 100;
}

static void test_utmp(void **state)
{
	struct utmp u[4];

	(void)state;
	memset(u, 0, sizeof u);
	u[0].ut_type = BOOT_TIME;
	u[1].ut_type = USER_PROCESS;
	u[1].ut_pid = 42;
	u[2].ut_type = USER_PROCESS;
	u[2].ut_pid = 4242; /* logged out uncleanly: the process is gone */
	u[3].ut_type = DEAD_PROCESS;
	u[3].ut_pid = 43;
	assert_int_equal(gg_idle_count_utmp(u, sizeof u, alive_below_100), 1);
	assert_int_equal(gg_idle_count_utmp(u, sizeof u, NULL), 2);
	/* A torn last record is not read. */
	assert_int_equal(gg_idle_count_utmp(u, sizeof u[0] * 2 - 1, NULL), 0);
}

/* The whole stretch: wait, warn, wait out the warning, stop. */
static void test_quiet_stretch(void **state)
{
	struct gg_idle_memory m = { 0 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;
	double t0 = 100000;

	(void)state;
	gg_idle_decide(&l, &m, t0, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	assert_true(m.idle_since == t0);
	assert_true(d.stop_at == t0 + PERIOD);

	/* The warning comes one check early, so the stop need not wait for it. */
	gg_idle_decide(&l, &m, t0 + PERIOD - WARNING - 61, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	gg_idle_decide(&l, &m, t0 + PERIOD - WARNING - 60, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WARN);
	assert_non_null(strstr(d.reason, "powers off in 6 min"));
	assert_true(m.warned_at == t0 + PERIOD - WARNING - 60);
	assert_true(d.stop_at == t0 + PERIOD);
	gg_idle_decide(&l, &m, t0 + PERIOD - 1, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	assert_string_equal(d.kind, "warned");
	gg_idle_decide(&l, &m, t0 + PERIOD, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_STOP);
}

/*
 * Use seen at a check, gone at the next: the VM stops at the first check a period
 * after the one that saw the use, whatever the timer's jitter, warned in between.
 */
static void test_stops_within_period_and_a_check(void **state)
{
	struct gg_idle_memory m = { 0 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;
	double t = 100000, seen, warned = 0;
	int i, jitter;

	(void)state;
	for (jitter = -2; jitter <= 2; jitter++) {
		memset(&m, 0, sizeof m);
		l.ssh_sessions = 1;
		gg_idle_decide(&l, &m, t, PERIOD, WARNING, &d);
		seen = t;
		l.ssh_sessions = 0;
		for (i = 0; i < 200; i++) {
			t += 60 + jitter;
			gg_idle_decide(&l, &m, t, PERIOD, WARNING, &d);
			if (d.verdict == GG_IDLE_WARN)
				warned = t;
			if (d.verdict == GG_IDLE_STOP)
				break;
		}
		assert_int_equal(d.verdict, GG_IDLE_STOP);
		assert_true(t >= seen + PERIOD && t <= seen + PERIOD + 60 + jitter);
		assert_true(warned > 0 && t - warned >= WARNING);
	}
}

/* A check that comes late (the VM was busy, the timer slipped) still warns first. */
static void test_late_check_warns_first(void **state)
{
	struct gg_idle_memory m = { 0 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;

	(void)state;
	gg_idle_decide(&l, &m, 100000, PERIOD, WARNING, &d);
	gg_idle_decide(&l, &m, 100000 + 5 * PERIOD, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WARN);
	assert_true(d.stop_at == 100000 + 5 * PERIOD + WARNING);
	gg_idle_decide(&l, &m, 100000 + 5 * PERIOD + WARNING - 1, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	gg_idle_decide(&l, &m, 100000 + 5 * PERIOD + WARNING, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_STOP);
}

/* Each kind of activity keeps the VM up and starts the count again. */
static void test_each_activity(void **state)
{
	static const char *const kinds[] = { "plan", "ssh", "login", "kernel", "gpu",
					     "gpu-process" };
	struct gg_idle_decision d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct gg_idle_memory m = { .idle_since = 100000, .warned_at = 100000 + PERIOD - WARNING };
		struct gg_idle_look l = quiet();

		switch (i) {
		case 0: l.plan_running = 1; break;
		case 1: l.ssh_sessions = 1; break;
		case 2: l.logins = 1; break;
		case 3: l.kernels = 1; l.kernels_busy = 1; break;
		case 4: l.gpu_utilization = GG_IDLE_GPU_BUSY_PCT; break;
		case 5: l.gpu_processes = 1; break;
		}
		gg_idle_decide(&l, &m, 100000 + PERIOD, PERIOD, WARNING, &d);
		assert_int_equal(d.verdict, GG_IDLE_ACTIVE);
		assert_string_equal(d.kind, kinds[i]);
		assert_true(m.idle_since == 0 && m.warned_at == 0);
		/*
		 * The next quiet check starts a new stretch, from the check that saw the
		 * use: no stop before a new warning.
		 */
		l = quiet();
		gg_idle_decide(&l, &m, 100000 + PERIOD + 60, PERIOD, WARNING, &d);
		assert_int_equal(d.verdict, GG_IDLE_WAITING);
		assert_true(m.idle_since == 100000 + PERIOD);
	}
}

/* A GPU under the threshold, and a kernel holding the GPU while idle, are quiet. */
static void test_gpu_below_threshold(void **state)
{
	struct gg_idle_memory m = { .idle_since = 100000 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;

	(void)state;
	l.gpu_utilization = GG_IDLE_GPU_BUSY_PCT - 1;
	l.kernels = 1;
	gg_idle_decide(&l, &m, 100000 + 60, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
}

/* Every unknown keeps the VM up, past the period, and says why. */
static void test_unknowns_stay_up(void **state)
{
	struct gg_idle_decision d;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct gg_idle_memory m = { .idle_since = 100000, .warned_at = 100000 + PERIOD - WARNING };
		struct gg_idle_look l = quiet();
		const char *kind = NULL;

		switch (i) {
		case 0:
			l.jupyter = GG_JUPYTER_UNKNOWN;
			snprintf(l.jupyter_why, sizeof l.jupyter_why, "curl failed (exit 28): timeout");
			kind = "unknown-jupyter";
			break;
		case 1:
			l.gpu = GG_GPU_UNKNOWN;
			snprintf(l.gpu_why, sizeof l.gpu_why, "'nvidia-smi' did not finish within 10 s");
			kind = "unknown-gpu";
			break;
		case 2:
			l.ssh_sessions = -1;
			snprintf(l.logins_why, sizeof l.logins_why, "cannot read /proc");
			kind = "unknown-logins";
			break;
		case 3:
			l.logins = -1;
			snprintf(l.logins_why, sizeof l.logins_why, "cannot read '/run/utmp'");
			kind = "unknown-logins";
			break;
		}
		gg_idle_decide(&l, &m, 100000 + 10 * PERIOD, PERIOD, WARNING, &d);
		assert_int_equal(d.verdict, GG_IDLE_UNSURE);
		assert_string_equal(d.kind, kind);
		assert_non_null(strstr(d.reason, "cannot tell"));
		assert_true(m.idle_since == 0 && m.warned_at == 0);
	}
}

/* A Jupyter that is down, and no GPU at all, are no reason to stay up. */
static void test_jupyter_down_alone_stops(void **state)
{
	struct gg_idle_memory m = { 0 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;

	(void)state;
	l.jupyter = GG_JUPYTER_DOWN;
	l.jupyter_activity = l.kernel_activity = 0;
	l.gpu = GG_GPU_NONE;
	gg_idle_decide(&l, &m, 100000, PERIOD, WARNING, &d);
	gg_idle_decide(&l, &m, 100000 + PERIOD - WARNING, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WARN);
	gg_idle_decide(&l, &m, 100000 + PERIOD, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_STOP);
}

/* Jupyter's clocks move the start; the helper's own request does not. */
static void test_jupyter_activity_moves_start(void **state)
{
	struct gg_idle_memory m = { .idle_since = 100000 };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;

	(void)state;
	/* A cell printed at 101000: the stretch starts there. */
	l.kernel_activity = 101000;
	gg_idle_decide(&l, &m, 101030, PERIOD, WARNING, &d);
	assert_true(m.idle_since == 101000);
	assert_true(d.stop_at == 101000 + PERIOD);
	/* A browser saved a notebook at 102000 (API activity). */
	l.jupyter_activity = 102000;
	m.polled_at = 101030.5;
	gg_idle_decide(&l, &m, 102030, PERIOD, WARNING, &d);
	assert_true(m.idle_since == 102000);
	/* Only our own /api/kernels request since: it does not count. */
	m.polled_at = 102030.2;
	l.jupyter_activity = 102030.4;
	gg_idle_decide(&l, &m, 102090, PERIOD, WARNING, &d);
	assert_true(m.idle_since == 102000);
	/* Activity after a warning cancels it: a new warning comes before any stop. */
	gg_idle_decide(&l, &m, 102000 + PERIOD - WARNING, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WARN);
	l.kernel_activity = 102000 + PERIOD - 10;
	gg_idle_decide(&l, &m, 102000 + PERIOD, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	assert_true(m.warned_at == 0);
}

/* A clock set back, or Jupyter's clock ahead, cannot start a stretch in the future. */
static void test_clock_set_back(void **state)
{
	struct gg_idle_memory m = { .idle_since = 200000, .warned_at = 200000 + PERIOD - WARNING };
	struct gg_idle_look l = quiet();
	struct gg_idle_decision d;

	(void)state;
	gg_idle_decide(&l, &m, 100000, PERIOD, WARNING, &d);
	assert_int_equal(d.verdict, GG_IDLE_WAITING);
	assert_true(m.idle_since == 100000 && m.warned_at == 0);
	l.kernel_activity = 100500;
	gg_idle_decide(&l, &m, 100060, PERIOD, WARNING, &d);
	assert_true(m.idle_since == 100060);
}

static void test_warning_for(void **state)
{
	(void)state;
	assert_int_equal(gg_idle_warning_for(3600), 300);
	assert_int_equal(gg_idle_warning_for(600), 300);
	assert_int_equal(gg_idle_warning_for(120), 60);
}

/*
 * A random walk of looks and check times: a stop only ever follows a warning given
 * at least WARNING seconds before, with no activity or doubt in between.
 */
static void test_never_stops_unwarned(void **state)
{
	struct gg_idle_memory m = { 0 };
	struct gg_idle_decision d;
	double now = 100000, warned = -1;
	unsigned seed = 1;
	int i, stops = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		struct gg_idle_look l = quiet();
		int roll;

		seed = seed * 1103515245u + 12345u;
		roll = (int)((seed >> 16) % 1000);
		now += 30 + (seed >> 8) % 120;
		if (roll < 3)
			l.ssh_sessions = 1;
		else if (roll < 5)
			l.jupyter = GG_JUPYTER_UNKNOWN;
		else if (roll < 7)
			l.kernel_activity = now - (seed >> 4) % 600;
		gg_idle_decide(&l, &m, now, PERIOD, WARNING, &d);
		if (d.verdict == GG_IDLE_ACTIVE || d.verdict == GG_IDLE_UNSURE ||
		    (m.warned_at == 0 && d.verdict != GG_IDLE_STOP))
			warned = -1;
		if (d.verdict == GG_IDLE_WARN)
			warned = now;
		if (d.verdict == GG_IDLE_STOP) {
			assert_true(warned >= 0 && now - warned >= WARNING);
			stops++;
			memset(&m, 0, sizeof m); /* the VM went down; a new boot forgets */
			warned = -1;
		}
	}
	assert_true(stops > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_jupyter_idle),
		cmocka_unit_test(test_jupyter_busy_and_none),
		cmocka_unit_test(test_jupyter_unreadable),
		cmocka_unit_test(test_gpu_answers),
		cmocka_unit_test(test_sshd_titles),
		cmocka_unit_test(test_utmp),
		cmocka_unit_test(test_quiet_stretch),
		cmocka_unit_test(test_stops_within_period_and_a_check),
		cmocka_unit_test(test_late_check_warns_first),
		cmocka_unit_test(test_each_activity),
		cmocka_unit_test(test_gpu_below_threshold),
		cmocka_unit_test(test_unknowns_stay_up),
		cmocka_unit_test(test_jupyter_down_alone_stops),
		cmocka_unit_test(test_jupyter_activity_moves_start),
		cmocka_unit_test(test_clock_set_back),
		cmocka_unit_test(test_warning_for),
		cmocka_unit_test(test_never_stops_unwarned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
