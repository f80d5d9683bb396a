/*
 * cmd-reattach.c: `gcloud-gpu reattach TARGET`: after the VM restarted, the link
 * dropped or the laptop slept.  Wait for the host to come back, tell a reboot from a
 * network blip by the boot id, show the events after the last one seen here, let the
 * helper resume an unfinished plan, and then have it `ensure` that what the recipe set
 * up runs again (the container after a restart).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "error.h"
#include "fleet.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_reattach[] =
	"usage: gcloud-gpu reattach (VM | --ssh USER@HOST[:PORT]) [options]\n\n"
	"Pick up a target again after a restart or a dropped link: wait for it, show what\n"
	"happened since the last event seen here, resume an unfinished plan, and bring\n"
	"back what the recipe set up (the Jupyter container).\n\n"
	"Options:\n"
	"  --json                     print the events as JSON lines, unchanged\n"
	"  --timeout SECONDS          wait and follow at most this long (default 1800)\n"
	OPT_TARGET_HELP
	FLEET_HELP;

enum { OPT_JSON = OPT_COMMAND, OPT_TIMEOUT };

static const struct opt_spec reattach_options[] = {
	OPT_TARGET_SPECS,
	{ "json", 0, 0, OPT_JSON },
	{ "timeout", 0, 1, OPT_TIMEOUT },
	{ NULL, 0, 0, 0 },
};

int cmd_reattach(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct opt_parser p;
	struct ui *ui = NULL;
	const char *arg;
	char *args = NULL;
	struct gg_buf status = GG_BUF_INIT;
	json_t *root = NULL;
	long timeout = 1800;
	double deadline;
	enum opt_result res;
	int id, json = 0, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, reattach_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if (res == OPT_OPTION && id == OPT_TIMEOUT) {
			if (opt_number("timeout", arg, 30L * 24 * 3600, &timeout, cause) != 0)
				return GG_EXIT_USAGE;
		} else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	deadline = gg_clock_monotonic() + (double)(timeout > 0 ? timeout : 30L * 24 * 3600);
	ui = ui_new(ui_mode_detect(json));
	remote_catch_interrupt();
	if ((rc = remote_open(&r, &t, ui, deadline, cause)) != 0)
		goto out;
	/* A target no plan ever ran on has nothing to pick up: say so, upload nothing. */
	r.no_upload = 1;
	rc = remote_helper(&r, "status", NULL, 0, REMOTE_ANSWER_MAX, &status, cause);
	root = rc == 0 ? json_loadb(status.data, status.len, 0, NULL) : NULL;
	if (r.never_pushed || (rc == 0 && !json_is_string(json_object_get(root, "plan")))) {
		free(*cause);
		*cause = NULL;
		rc = gg_fail(cause, GG_EXIT_ERROR, "nothing to reattach on %s: no plan ran there yet; "
			     "run 'gcloud-gpu push %s'", t.name, t.cli_arg);
		goto out;
	}
	if (rc != 0)
		goto out;
	r.no_upload = 0;
	r.floor = r.seen.last_seq;
	if (r.floor > 0)
		ui_note(ui, "picking up %s after event %lld", t.name, r.floor);
	xasprintf(&args, "resume --from %lld", r.floor + 1);
	if ((rc = remote_follow(&r, args, "resume", deadline, cause)) != 0) {
		target_record_plan(&t, rc);
		goto out;
	}
	free(args);
	xasprintf(&args, "ensure --from %lld", r.floor + 1);
	rc = remote_follow(&r, args, "follow", deadline, cause);
	target_record_plan(&t, rc);
	if (rc != 0)
		goto out;
	ui_note(ui, "%s is up%s: run 'gcloud-gpu tunnel %s' to reach Jupyter", t.name,
		r.reboots > 0 ? " again after its restart" : "", t.cli_arg);
out:
	if (rc != 0 && ui != NULL)
		ui_clear(ui);
	remote_close(&r);
	ui_free(ui);
	target_release(&t);
	free(args);
	gg_buf_release(&status);
	json_decref(root);
	return rc;
}
