/*
 * cmd-logs.c: `gcloud-gpu logs TARGET [-f] [--since SEQ|last]`: the event log and the
 * steps' output from the VM, rendered as push renders it; -f follows new events until
 * the plan ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_logs[] =
	"usage: gcloud-gpu logs (VM | --ssh USER@HOST[:PORT]) [options]\n\n"
	"Show what happened and happens on the VM: the plan's events and each step's\n"
	"output, from the VM's own log; each line starts with the event's local time.\n\n"
	"Options:\n"
	"  -f, --follow               keep showing new events until the plan ends (^C stops\n"
	"                             showing, exit 0; the work on the VM goes on)\n"
	"  -n, --tail N               only the last N events\n"
	"  --since SEQ|last           start at event SEQ, or after the last one seen here\n"
	"                             (default: the whole log)\n"
	"  --json                     print the events as JSON lines, unchanged\n"
	OPT_TARGET_HELP;

enum { OPT_FOLLOW = OPT_COMMAND, OPT_SINCE, OPT_JSON, OPT_TAIL };

static const struct opt_spec logs_options[] = {
	OPT_TARGET_SPECS,
	{ "follow", 'f', 0, OPT_FOLLOW },
	{ "tail", 'n', 1, OPT_TAIL },
	{ "since", 0, 1, OPT_SINCE },
	{ "json", 0, 0, OPT_JSON },
	{ NULL, 0, 0, 0 },
};

int cmd_logs(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct opt_parser p;
	struct ui *ui = NULL;
	const char *arg, *since = NULL;
	char *args = NULL;
	long from = 1, tail = -1;
	struct gg_buf status = GG_BUF_INIT;
	enum opt_result res;
	int id, json = 0, follow = 0, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, logs_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_FOLLOW)
			follow = 1;
		else if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if (res == OPT_OPTION && id == OPT_SINCE)
			since = arg;
		else if (res == OPT_OPTION && id == OPT_TAIL) {
			if (opt_number("tail", arg, 1L << 40, &tail, cause) != 0)
				return GG_EXIT_USAGE;
		}
		else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if (since != NULL && strcmp(since, "last") != 0 &&
	    opt_number("since", since, 1L << 62, &from, cause) != 0)
		return GG_EXIT_USAGE;
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(ui_mode_detect(json));
	ui_set_timestamps(ui, 1);
	remote_catch_interrupt();
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0)
		goto out;
	if (since != NULL && strcmp(since, "last") == 0)
		from = r.seen.last_seq + 1;
	if (tail >= 0) {
		/* The last N events: where the log ends, from the helper's status. */
		json_t *root;
		long long last;

		if ((rc = remote_helper(&r, "status", NULL, 0, REMOTE_ANSWER_MAX, &status, cause)) != 0)
			goto out;
		root = json_loadb(status.data, status.len, 0, NULL);
		last = json_integer_value(json_object_get(root, "last_seq"));
		json_decref(root);
		if (last - tail + 1 > from)
			from = (long)(last - tail + 1);
		if (tail == 0)
			goto out;
	}
	if (from < 1)
		from = 1;
	r.floor = from - 1;
	xasprintf(&args, "follow%s --from %ld", follow ? "" : " --no-wait", from);
	rc = remote_follow(&r, args, follow ? "follow" : "follow --no-wait", 0, cause);
	/*
	 * The log was shown; how its plan ended is not this command's failure, and ^C
	 * is how a user stops following (the work on the VM is not touched).
	 */
	if (rc == GG_EXIT_STEP || (rc == GG_EXIT_INTERRUPTED && remote_interrupted)) {
		free(*cause);
		*cause = NULL;
		rc = 0;
	}
out:
	if (rc != 0 && ui != NULL)
		ui_clear(ui);
	remote_close(&r);
	ui_free(ui);
	target_release(&t);
	free(args);
	gg_buf_release(&status);
	return rc;
}
