/*
 * idle.c: the idle-stop decision (idle.h), a pure function of one look, the memory
 * of the checks before and the time.  Nothing here reads the machine or the clock,
 * so unit tests can replay any answer Jupyter, nvidia-smi or /proc may give.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "idle.h"

#define WARNING_S 300

const char *gg_idle_verdict_name(enum gg_idle_verdict v)
{
	static const char *const names[] = { "active", "unsure", "waiting", "warn", "stop" };

	return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

long gg_idle_warning_for(long period)
{
	return period >= 2 * WARNING_S ? WARNING_S : period / 2;
}

static void __attribute__((format(printf, 4, 5)))
say(struct gg_idle_decision *d, enum gg_idle_verdict v, const char *kind,
		const char *fmt, ...)
{
	va_list ap;

	d->verdict = v;
	d->kind = kind;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof d->reason, fmt, ap);
	va_end(ap);
}

/* Something in use now: 1 with the reason in d, or 0 when nothing is. */
static int in_use(const struct gg_idle_look *l, struct gg_idle_decision *d)
{
	if (l->plan_running)
		say(d, GG_IDLE_ACTIVE, "plan", "a gcloud-gpu plan is running");
	else if (l->ssh_sessions > 0)
		say(d, GG_IDLE_ACTIVE, "ssh", "%d SSH session%s open (a shell, a command or a tunnel)",
		    l->ssh_sessions, l->ssh_sessions == 1 ? " is" : "s are");
	else if (l->logins > 0)
		say(d, GG_IDLE_ACTIVE, "login", "%d user%s logged in", l->logins,
		    l->logins == 1 ? " is" : "s are");
	else if (l->jupyter == GG_JUPYTER_UP && l->kernels_busy > 0)
		say(d, GG_IDLE_ACTIVE, "kernel", "%d Jupyter kernel%s busy", l->kernels_busy,
		    l->kernels_busy == 1 ? " is" : "s are");
	else if (l->gpu == GG_GPU_SEEN && l->gpu_utilization >= GG_IDLE_GPU_BUSY_PCT)
		say(d, GG_IDLE_ACTIVE, "gpu", "a GPU is %d%% busy", l->gpu_utilization);
	else if (l->gpu == GG_GPU_SEEN && l->gpu_processes > 0)
		say(d, GG_IDLE_ACTIVE, "gpu-process", "%d program%s other than Jupyter's kernels "
		    "use%s a GPU", l->gpu_processes, l->gpu_processes == 1 ? "" : "s",
		    l->gpu_processes == 1 ? "s" : "");
	else
		return 0;
	return 1;
}

/* A look that could not tell: the reason, or 0 when every part was clear. */
static int unsure(const struct gg_idle_look *l, struct gg_idle_decision *d)
{
	if (l->ssh_sessions < 0 || l->logins < 0)
		say(d, GG_IDLE_UNSURE, "unknown-logins", "cannot tell who is logged in: %s",
		    l->logins_why);
	else if (l->jupyter == GG_JUPYTER_UNKNOWN)
		say(d, GG_IDLE_UNSURE, "unknown-jupyter", "cannot tell what Jupyter does: %s",
		    l->jupyter_why);
	else if (l->gpu == GG_GPU_UNKNOWN)
		say(d, GG_IDLE_UNSURE, "unknown-gpu", "cannot tell what the GPUs do: %s", l->gpu_why);
	else
		return 0;
	return 1;
}

static double later(double a, double b)
{
	return a > b ? a : b;
}

void gg_idle_decide(const struct gg_idle_look *look, struct gg_idle_memory *mem, double now,
		    long period, long warning, struct gg_idle_decision *d)
{
	double start, api;
	long minutes;

	memset(d, 0, sizeof *d);
	if (in_use(look, d) || unsure(look, d)) {
		/* The quiet stretch ends, and with it any warning given in it. */
		mem->idle_since = mem->warned_at = 0;
		mem->active_at = now;
		return;
	}

	/*
	 * Quiet now.  The stretch began at the last check that saw use (at this one
	 * when none did: a new boot, a new setting), or later at the last activity
	 * Jupyter recorded (not counting this helper's own request).  A clock set back,
	 * or Jupyter's clock ahead of ours, cannot put the start in the future.
	 */
	if (mem->idle_since > 0 && mem->idle_since <= now)
		start = mem->idle_since;
	else if (mem->active_at > 0 && mem->active_at <= now)
		start = mem->active_at;
	else
		start = now;
	if (look->jupyter == GG_JUPYTER_UP) {
		api = look->jupyter_activity;
		if (mem->polled_at > 0 && api <= mem->polled_at + GG_IDLE_OWN_REQUEST_S)
			api = 0;
		start = later(start, later(api, look->kernel_activity));
	}
	if (start > now)
		start = now;
	mem->idle_since = start;
	if (mem->warned_at > 0 && (mem->warned_at < start || mem->warned_at > now))
		mem->warned_at = 0; /* a warning of an earlier stretch, or from a clock set back */

	d->stop_at = start + (double)period;
	minutes = (long)((now - start) / 60);
	if (mem->warned_at == 0) {
		if (now < d->stop_at - (double)(warning + GG_IDLE_CHECK_INTERVAL_S)) {
			say(d, GG_IDLE_WAITING, "idle", "idle for %ld min: the VM stops after %ld min "
			    "idle", minutes, period / 60);
			return;
		}
		mem->warned_at = now;
		d->stop_at = later(d->stop_at, now + (double)warning);
		say(d, GG_IDLE_WARN, "warn", "idle for %ld min: the VM powers off in %ld min unless "
		    "someone uses it (SSH, Jupyter, the GPU) or runs 'gcloud-gpu idle-stop VM off'",
		    minutes, (long)((d->stop_at - now + 59) / 60));
		return;
	}
	d->stop_at = later(d->stop_at, mem->warned_at + (double)warning);
	if (now < d->stop_at) {
		say(d, GG_IDLE_WAITING, "warned", "idle for %ld min, warned: the VM powers off in "
		    "%ld min", minutes, (long)((d->stop_at - now + 59) / 60));
		return;
	}
	say(d, GG_IDLE_STOP, "stop", "idle for %ld min (nothing used SSH, Jupyter or the GPUs): "
	    "powering off", minutes);
}
