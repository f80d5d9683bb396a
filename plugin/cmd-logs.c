/*
 * cmd-logs.c: `gcloud-gpu logs TARGET [-f] [--since SEQ|last]`: the event log and the
 * steps' output from the VM, rendered as push renders it; -f follows new events until
 * the plan ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

#define LOGS_HELP                                                                         \
	"usage: gcloud-gpu logs (VM | --ssh USER@HOST[:PORT]) [options]\n\n"              \
	"Show what happened and happens on the VM: the plan's events and each step's\n"     \
	"output, from the VM's own log.\n\n"                                                \
	"Options:\n"                                                                        \
	"  -f, --follow               keep showing new events until the plan ends\n"       \
	"  --since SEQ|last           start at event SEQ, or after the last one seen here\n" \
	"                             (default: the whole log)\n"                           \
	"  --json                     print the events as JSON lines, unchanged\n"

enum { OPT_FOLLOW = OPT_COMMAND, OPT_SINCE, OPT_JSON };

static const struct opt_spec logs_options[] = {
	OPT_TARGET_SPECS,
	{ "follow", 'f', 0, OPT_FOLLOW },
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
	long from = 1;
	enum opt_result res;
	int id, json = 0, follow = 0, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, logs_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_HELP) {
			fputs(LOGS_HELP OPT_TARGET_HELP, stdout);
			return GG_EXIT_OK;
		}
		if (res == OPT_OPTION && id == OPT_FOLLOW)
			follow = 1;
		else if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if (res == OPT_OPTION && id == OPT_SINCE)
			since = arg;
		else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if (since != NULL && strcmp(since, "last") != 0 &&
	    opt_number("since", since, 1L << 62, &from, cause) != 0)
		return GG_EXIT_USAGE;
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(ui_mode_detect(json));
	remote_catch_interrupt();
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0)
		goto out;
	if (since != NULL && strcmp(since, "last") == 0)
		from = r.seen.last_seq + 1;
	if (from < 1)
		from = 1;
	r.floor = from - 1;
	xasprintf(&args, "follow%s --from %ld", follow ? "" : " --no-wait", from);
	rc = remote_follow(&r, args, follow ? "follow" : "follow --no-wait", 0, cause);
	/* The log was shown; how its plan ended is not this command's failure. */
	if (rc == GG_EXIT_STEP) {
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
	return rc;
}
