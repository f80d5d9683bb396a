/*
 * cmd-idle.c: idle stop on the VM.
 *
 *   idle-set SECONDS|off [--if-unset]   the setting (idle.json) and the systemd timer
 *                                       that runs idle-check every minute; off removes
 *                                       both.  --if-unset: only when none was made yet
 *                                       (push's default for a VM gcloud-gpu created).
 *   idle-check                          one check (what the timer runs): look, decide
 *                                       (idle.h), log the decision when it changed,
 *                                       warn, power off.
 *
 * The period and the look are in idle.json and idle-state.json under the root.  The
 * state is tied to the boot it was made in: a VM that stopped itself and is started
 * again begins a new count instead of stopping at its first check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "fsutil.h"
#include "helper.h"
#include "idle-look.h"
#include "idle.h"
#include "journal.h"
#include "nvsmi.h"
#include "protocol.h"
#include "units.h"

#define IDLE_CONFIG "idle.json"
#define IDLE_STATE "idle-state.json"
#define IDLE_TIMER "gcloud-gpu-idle.timer"
#define IDLE_SERVICE "gcloud-gpu-idle.service"
#define IDLE_STEP "idle-stop"
/* The shortest period a person may set; shorter ones only with test hooks. */
#define IDLE_MIN_PERIOD 600
#define IDLE_MAX_PERIOD (7 * 24 * 3600)
/* Tests only: what runs instead of powering off (with /bin/sh -c). */
#define GG_ENV_POWEROFF_COMMAND "GCLOUD_GPU_POWEROFF_COMMAND"
#define GG_ENV_TEST_HOOKS "GCLOUD_GPU_TEST_HOOKS"
/* Tests only: the timer's interval in seconds (1 to 60) instead of a minute. */
#define GG_ENV_IDLE_INTERVAL "GCLOUD_GPU_IDLE_INTERVAL"
#define IDLE_INTERVAL 60

static double wall_now(void)
{
	struct timespec now;

	gg_clock_wall(&now);
	return (double)now.tv_sec + now.tv_nsec / 1e9;
}

/* A JSON file under the root; *out NULL when there is none.  Damaged reads as none. */
static json_t *load(const char *root, const char *name)
{
	char *path = gg_path_join(root, name);
	struct gg_buf b = GG_BUF_INIT;
	json_t *v = NULL;

	if (path != NULL && gg_read_file(path, 64 * 1024, &b, NULL) == 0)
		v = json_loadb(b.data, b.len, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	gg_buf_release(&b);
	free(path);
	return v;
}

static int save(const char *root, const char *name, json_t *v, char **cause)
{
	char *path = gg_path_join(root, name), *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	int r;

	if (path == NULL || text == NULL)
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	else
		r = gg_write_file_shared(path, text, strlen(text), 0600, cause);
	free(path);
	free(text);
	return r;
}

static double number(json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

/* The period set, in seconds; 0 when idle stop is off. */
static long period_of(const char *root, long *warning)
{
	json_t *config = load(root, IDLE_CONFIG);
	long period = (long)number(config, "period");

	*warning = gg_idle_warning_for(period);
	json_decref(config);
	return period > 0 ? period : 0;
}

static int test_hooks(void)
{
	const char *v = getenv(GG_ENV_TEST_HOOKS);

	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * How often the timer runs the check: a minute, or with the test hooks a shorter
 * interval, so that a test on a real VM waits seconds for a check and not a minute.
 * Only the checks come sooner: the period and the warning are the same code either way.
 */
static long interval(void)
{
	const char *v = getenv(GG_ENV_IDLE_INTERVAL);
	char *end;
	long n;

	if (!test_hooks() || v == NULL)
		return IDLE_INTERVAL;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && n >= 1 && n <= IDLE_INTERVAL ?
		n : IDLE_INTERVAL;
}

/*
 * The service and the timer: every minute, from a minute after boot, and once right
 * after the timer is (re)started, so that a new setting counts from the moment it
 * is made rather than from the next minute.  The test variables the helper reads are
 * passed on, as the boot unit does.
 */
static int install_timer(struct helper_context *ctx, const char *dir, char **cause)
{
	static const char *const pass[] = { GG_ENV_ROOT, GG_ENV_BOOT_ID_FILE, GG_ENV_UNIT_DIR,
					    GG_ENV_CLOCK_OFFSET_FILE, GG_ENV_POWEROFF_COMMAND,
					    GG_ENV_JUPYTER_URL, GG_ENV_UTMP_FILE,
					    GG_ENV_IDLE_SSHD_PID, GG_ENV_TEST_HOOKS };
	struct gg_buf unit = GG_BUF_INIT;
	long every = interval();
	int r;

	gg_buf_addstr(&unit, "# Written by gcloud-gpu-helper idle-set; 'gcloud-gpu idle-stop VM off' "
			     "removes it.\n[Unit]\nDescription=gcloud-gpu: power off when nobody "
			     "uses this VM (one check)\n\n[Service]\nType=oneshot\nNice=10\n");
	r = gg_unit_exec(&unit, ctx->self, "idle-check", pass, sizeof pass / sizeof pass[0],
			 "the idle-stop unit", cause);
	if (r == 0)
		r = gg_unit_install(dir, IDLE_SERVICE, unit.data, NULL, 1, cause);
	gg_buf_reset(&unit);
	if (r != 0) {
		gg_buf_release(&unit);
		return r;
	}
	gg_buf_addf(&unit, "# Written by gcloud-gpu-helper idle-set.\n[Unit]\n"
			   "Description=gcloud-gpu: check every minute whether this VM is idle\n\n"
			   "[Timer]\nOnActiveSec=1\nOnBootSec=%ld\nOnUnitActiveSec=%ld\n"
			   "AccuracySec=1s\n\n"
			   "[Install]\nWantedBy=timers.target\n", every, every);
	r = gg_unit_install(dir, IDLE_TIMER, unit.data, "timers.target", 1, cause);
	gg_buf_release(&unit);
	return r;
}

static int idle_off(const char *root, char **cause)
{
	static const char *const stop[] = { "stop", IDLE_TIMER, NULL };
	static const char *const reload[] = { "daemon-reload", NULL };
	char *dir = gg_units_dir(), *path;
	json_t *config = json_pack("{s:i}", "period", 0);
	int r;

	gg_systemctl(stop);
	if (dir != NULL) {
		gg_unit_remove(dir, IDLE_TIMER, "timers.target");
		gg_unit_remove(dir, IDLE_SERVICE, NULL);
	}
	gg_systemctl(reload);
	r = save(root, IDLE_CONFIG, config, cause);
	if (r == 0 && (path = gg_path_join(root, IDLE_STATE)) != NULL) {
		unlink(path);
		free(path);
	}
	json_decref(config);
	free(dir);
	return r;
}

int cmd_idle_set(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	static const char *const reload[] = { "daemon-reload", NULL };
	static const char *const restart[] = { "restart", IDLE_TIMER, NULL };
	json_t *config = NULL, *old = NULL;
	char *dir = NULL, *end, *path = NULL;
	int r, if_unset = argc == 3 && strcmp(argv[2], "--if-unset") == 0;
	long period;

	if (argc != 2 && !if_unset)
		return gg_fail(cause, GG_HELPER_USAGE, "usage: idle-set SECONDS|off [--if-unset]");
	umask(077);
	if ((r = gg_root_prepare(ctx->root, cause)) != 0)
		return r;
	if (if_unset && (old = load(ctx->root, IDLE_CONFIG)) != NULL) {
		json_decref(old);
		/* Someone chose already, off included; the CLI records a label only for a
		 * setting made now, so it is told. */
		fputs("kept\n", stdout);
		return 0;
	}
	if (strcmp(argv[1], "off") == 0)
		return idle_off(ctx->root, cause);
	errno = 0;
	period = strtol(argv[1], &end, 10);
	if (errno != 0 || end == argv[1] || *end != '\0' || period > IDLE_MAX_PERIOD ||
	    period < (test_hooks() ? 2 : IDLE_MIN_PERIOD))
		return gg_fail(cause, GG_HELPER_USAGE, "idle period '%s' is not a number of seconds "
			       "from %d to %d", argv[1], IDLE_MIN_PERIOD, IDLE_MAX_PERIOD);
	dir = gg_units_dir();
	if (dir == NULL) {
		r = gg_fail(cause, GG_HELPER_REFUSED, "idle stop needs systemd, and this machine "
			    "does not run it");
		goto out;
	}
	config = json_pack("{s:I, s:I}", "period", (json_int_t)period, "warning",
			   (json_int_t)gg_idle_warning_for(period));
	/* The units first: one refused (a value that would make a line of its own) leaves
	 * the setting as it was.  Written units do nothing before the daemon-reload. */
	if ((r = install_timer(ctx, dir, cause)) != 0)
		goto out;
	/* A new setting counts from now: forget the stretch of the old one. */
	if ((path = gg_path_join(ctx->root, IDLE_STATE)) != NULL)
		unlink(path);
	if ((r = save(ctx->root, IDLE_CONFIG, config, cause)) != 0)
		goto out;
	if (gg_systemctl(reload) != 0 || gg_systemctl(restart) != 0)
		r = gg_fail(cause, GG_HELPER_SYSTEM, "systemctl could not start '%s'", IDLE_TIMER);
out:
	json_decref(config);
	free(dir);
	free(path);
	return r;
}

/* Run a program (argv[0] on PATH) within 10 s; its exit status, or -1. */
static int run(char *const argv[])
{
	char *out = NULL, *err = NULL;
	int status = -1;

	if (gg_capture(argv, NULL, 0, GG_IDLE_NVSMI_TIMEOUT_MS, &out, &err, &status, NULL) != 0)
		status = -1;
	free(out);
	free(err);
	return status;
}

static int power_off(void)
{
	const char *command = getenv(GG_ENV_POWEROFF_COMMAND);
	char *sh[] = { "/bin/sh", "-c", (char *)command, NULL };
	char *systemctl[] = { "/bin/systemctl", "poweroff", NULL };
	char *poweroff[] = { "/sbin/poweroff", NULL };

	if (command != NULL && command[0] != '\0')
		return run(sh);
	return run(access("/run/systemd/system", F_OK) == 0 ? systemctl : poweroff);
}

/* Append the decision to the log; the caller holds the lock. */
static int log_decision(const char *root, const struct gg_idle_decision *d, double now,
			char **cause)
{
	struct gg_journal j = GG_JOURNAL_INIT;
	json_t *fields = json_pack("{s:s, s:s, s:s, s:s}", "step", IDLE_STEP, "msg", d->reason,
				   "idle", gg_idle_verdict_name(d->verdict), "idle_kind", d->kind);
	int r;

	if (fields != NULL && d->stop_at > 0)
		json_object_set_new(fields, "stop_in", json_integer((json_int_t)(d->stop_at - now)));
	if ((r = gg_journal_open(&j, root, cause)) == 0)
		r = gg_journal_emit(&j, GG_EVENT_LOG, fields, NULL, cause);
	else
		json_decref(fields);
	gg_journal_close(&j);
	return r;
}

/*
 * Remember the stretch and the decision for the next check and for `status`.  The
 * memory belongs to this boot.
 */
static int remember(const char *root, const char *boot_id, const struct gg_idle_memory *m,
		    const struct gg_idle_decision *d, const char *logged, double now, char **cause)
{
	json_t *state = json_pack("{s:s, s:f, s:f, s:f, s:f, s:s, s:s, s:s, s:s, s:f, s:f}",
				  "boot_id", boot_id, "idle_since", m->idle_since,
				  "active_at", m->active_at, "warned_at", m->warned_at,
				  "polled_at", m->polled_at, "logged", logged,
				  "verdict", gg_idle_verdict_name(d->verdict), "kind", d->kind,
				  "reason", d->reason, "checked", now, "stop_at", d->stop_at);
	int r = state != NULL ? save(root, IDLE_STATE, state, cause)
			      : gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");

	json_decref(state);
	return r;
}

int cmd_idle_check(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	struct gg_idle_memory mem = { 0, 0, 0, 0 };
	struct gg_idle_decision d;
	struct gg_idle_look look;
	struct gg_idle_env env;
	json_t *state = NULL, *out = NULL;
	char boot_id[64], *logged = NULL, *text;
	const char *s;
	double now, polled_at;
	long period, warning;
	int lock = -1, r;

	(void)argv;
	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'idle-check' takes no arguments");
	umask(077);
	period = period_of(ctx->root, &warning);
	if (period == 0) {
		printf("{\"verdict\":\"off\"}\n");
		return 0;
	}
	gg_read_boot_id(ctx->boot_id_file, boot_id);
	state = load(ctx->root, IDLE_STATE);
	s = json_string_value(json_object_get(state, "boot_id"));
	if (s != NULL && strcmp(s, boot_id) == 0) {
		mem.idle_since = number(state, "idle_since");
		mem.active_at = number(state, "active_at");
		mem.warned_at = number(state, "warned_at");
		mem.polled_at = number(state, "polled_at");
		s = json_string_value(json_object_get(state, "logged"));
		logged = strdup(s != NULL ? s : "");
	} else {
		logged = strdup("");
	}

	gg_idle_env_load(&env, ctx->root);
	gg_idle_look(&env, &look, &polled_at);
	now = wall_now();
	gg_idle_decide(&look, &mem, now, period, warning, &d);
	if (polled_at > 0)
		mem.polled_at = polled_at;

	/*
	 * Only the lock holder writes the log.  A plan that runs (or starts now) is
	 * activity enough, and its own events say what the VM does.
	 */
	if (!look.plan_running && gg_lock_take(ctx->root, 0, &lock, NULL) != 0) {
		look.plan_running = 1;
		gg_idle_decide(&look, &mem, now, period, warning, &d);
	}
	if (lock >= 0 && (strcmp(logged, d.kind) != 0 || d.verdict == GG_IDLE_WARN ||
			  d.verdict == GG_IDLE_STOP)) {
		r = log_decision(ctx->root, &d, now, cause);
		/* A stop nobody could read about does not happen. */
		if (r != 0 && d.verdict == GG_IDLE_STOP)
			goto out;
		/* Nor does a warning: the next check gives it again. */
		if (r != 0 && d.verdict == GG_IDLE_WARN)
			mem.warned_at = 0;
		free(*cause);
		*cause = NULL;
		if (r == 0) {
			free(logged);
			logged = strdup(d.kind);
		}
	}
	if ((r = remember(ctx->root, boot_id, &mem, &d, logged != NULL ? logged : "", now,
			  cause)) != 0 && d.verdict == GG_IDLE_STOP)
		goto out; /* a stop that could not be remembered could repeat after the boot */
	if (d.verdict == GG_IDLE_WARN) {
		char *wall[] = { "wall", d.reason, NULL };

		run(wall);
	} else if (d.verdict == GG_IDLE_STOP && (r = power_off()) != 0) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "the power-off command failed (exit %d)", r);
		goto out;
	}
	out = json_pack("{s:s, s:s, s:s}", "verdict", gg_idle_verdict_name(d.verdict), "kind",
			d.kind, "reason", d.reason);
	if (out != NULL && d.stop_at > 0)
		json_object_set_new(out, "stop_in", json_integer((json_int_t)(d.stop_at - now)));
	text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
	printf("%s\n", text != NULL ? text : "{}");
	free(text);
	r = 0;
out:
	if (lock >= 0)
		close(lock);
	json_decref(out);
	json_decref(state);
	free(logged);
	return r;
}

json_t *gg_idle_status(const char *root)
{
	json_t *state, *out;
	char *dir = gg_units_dir(), *timer = NULL;
	long warning, period = period_of(root, &warning);
	double now = wall_now(), stop_at;
	struct stat st;

	if (dir != NULL && asprintf(&timer, "%s/timers.target.wants/%s", dir, IDLE_TIMER) < 0)
		timer = NULL;
	out = json_pack("{s:I, s:b}", "period", (json_int_t)period, "timer",
			timer != NULL && lstat(timer, &st) == 0);
	free(dir);
	free(timer);
	state = load(root, IDLE_STATE);
	if (out != NULL && period > 0 && state != NULL) {
		stop_at = number(state, "stop_at");
		json_object_set(out, "verdict", json_object_get(state, "verdict"));
		json_object_set(out, "reason", json_object_get(state, "reason"));
		json_object_set_new(out, "checked_ago",
				    json_integer((json_int_t)(now - number(state, "checked"))));
		if (stop_at > 0)
			json_object_set_new(out, "stop_in", json_integer((json_int_t)(stop_at - now)));
	}
	json_decref(state);
	return out;
}
