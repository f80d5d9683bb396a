/*
 * cmd-idle-stop.c: `gcloud-gpu idle-stop TARGET DURATION|off`: a VM nobody uses
 * powers itself off after DURATION (docs/IDLE-STOP.md).  The helper's `idle-set`
 * writes the setting and the systemd timer that checks every minute; `push
 * --idle-stop` sets it the same way (idle_stop_apply), and on a VM that gcloud-gpu
 * created sets the default of an hour when nothing was chosen yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "fleet.h"
#include "gce-fleet.h"
#include "idle-stop.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_idle_stop[] =
	"usage: gcloud-gpu idle-stop (VM | --ssh USER@HOST[:PORT]) DURATION|off [options]\n\n"
	"Power the VM off after DURATION (45m, 2h, 1h30m; 10m to 7d) in which nobody used\n"
	"it: no SSH session or tunnel, no Jupyter activity or busy kernel, no GPU work,\n"
	"no gcloud-gpu plan running.  A check runs every minute on the VM; five minutes\n"
	"before the stop it warns in 'gcloud-gpu logs'.  'off' removes the check.  A VM\n"
	"made by 'gcloud-gpu create' gets 60m at its first push; other machines none.\n\n"
	"On Compute Engine a powered-off VM is stopped: its GPU and CPUs are no longer\n"
	"billed, its disk is; push, reattach and tunnel start it again.\n"
	OPT_TARGET_HELP
	FLEET_HELP;

enum { IDLE_DEFAULT_S = 3600 };

/* The label value for a period: "off", or the largest whole unit ("45m", "2h", "1d"). */
static const char *idle_label(long seconds, char *buf, size_t size)
{
	if (seconds == 0)
		return "off";
	if (seconds % 86400 == 0)
		snprintf(buf, size, "%ldd", seconds / 86400);
	else if (seconds % 3600 == 0)
		snprintf(buf, size, "%ldh", seconds / 3600);
	else if (seconds % 60 == 0)
		snprintf(buf, size, "%ldm", seconds / 60);
	else
		snprintf(buf, size, "%lds", seconds);
	return buf;
}

int idle_stop_apply(struct remote *r, long seconds, int if_unset, char **cause)
{
	struct gg_buf out = GG_BUF_INIT;
	char *args, label[32];
	int rc;

	if (seconds == 0)
		args = xstrdup("idle-set off");
	else
		xasprintf(&args, "idle-set %ld%s", seconds, if_unset ? " --if-unset" : "");
	rc = remote_helper(r, args, NULL, 0, REMOTE_ANSWER_MAX, &out, cause);
	/* What `list` shows without connecting; --if-unset may have kept another choice
	 * (the helper then answers "kept"). */
	if (rc == 0 && !(if_unset && out.len > 0))
		target_record_label(r->target, GCE_LABEL_IDLE_STOP, idle_label(seconds, label,
									  sizeof label));
	gg_buf_release(&out);
	free(args);
	return rc;
}

int idle_stop_default(struct remote *r)
{
	char *why = NULL;
	int rc;

	if (!r->target->managed)
		return 0;
	rc = idle_stop_apply(r, IDLE_DEFAULT_S, 1, &why);
	if (rc != 0)
		ui_note(r->ui, "idle stop not set on '%s': %s", r->target->name, why);
	free(why);
	return rc;
}

static const struct opt_spec idle_stop_options[] = {
	OPT_TARGET_SPECS,
	{ NULL, 0, 0, 0 },
};

int cmd_idle_stop(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct opt_parser p;
	struct ui *ui = NULL;
	const char *arg, *period = NULL;
	enum opt_result res;
	long seconds;
	int id, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, idle_stop_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		/* The period is the last argument: after the VM name, or alone with --ssh. */
		if (res == OPT_ARGUMENT && (ta.vm != NULL || ta.ssh != NULL)) {
			if (period != NULL)
				return gg_fail(cause, GG_EXIT_USAGE, "unexpected argument '%s'", arg);
			period = arg;
		} else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0) {
			return rc;
		}
	}
	/* `idle-stop --ssh HOST 45m`: --ssh may come after the period too. */
	if (period == NULL && ta.ssh != NULL && ta.vm != NULL) {
		period = ta.vm;
		ta.vm = NULL;
	}
	if (period == NULL)
		return gg_fail(cause, GG_EXIT_USAGE, "'idle-stop' needs a duration such as 45m, or "
			       "'off' (see gcloud-gpu idle-stop --help)");
	if (opt_idle_period(period, &seconds, cause) != 0)
		return GG_EXIT_USAGE;
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(UI_PLAIN);
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0 ||
	    (rc = idle_stop_apply(&r, seconds, 0, cause)) != 0)
		goto out;
	if (seconds == 0)
		printf("idle stop is off on '%s': it runs until you stop it\n", t.name);
	else
		printf("'%s' powers itself off after %ld min without use (SSH, Jupyter, the GPU, "
		       "a plan); 'gcloud-gpu idle-stop %s off' turns that off\n", t.name,
		       (seconds + 59) / 60, t.cli_arg);
out:
	remote_close(&r);
	ui_free(ui);
	target_release(&t);
	return rc;
}
