/*
 * cmd-stop.c: `gcloud-gpu stop NAME`: stop a VM, so that it costs only its disk.
 *
 * Stopping is how a student keeps free credits: a stopped VM's GPU is not billed.
 * The recipe brings Jupyter back after `start` and `reattach`.
 */
#include <stdio.h>

#include "cli.h"
#include "fleet.h"
#include "opts.h"
#include "gce.h"

const char cli_help_stop[] =
	"usage: gcloud-gpu stop NAME [options]\n\n"
	"Stop a VM and wait until it is stopped: its GPU and CPUs are no longer billed\n"
	"(its disk still is).  'gcloud-gpu reattach NAME' after a start brings Jupyter back.\n\n"
	"Options:\n"
	"  --json                     print the result as one JSON object\n"
	OPT_GCE_HELP
	FLEET_HELP;

int cmd_stop(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	const char *name;
	struct gce g;
	int r, json = opt_take_flag(&argc, argv, "--json");

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, NULL, cause)) != 0)
		return r;
	if ((r = gce_open(&g, &o, cause)) == 0 &&
	    (r = gce_instance_action(&g, name, "stop", cause)) == 0 && json)
		cli_json_print(json_pack("{s:s, s:s, s:s, s:s}", "name", name, "project", g.project,
					 "zone", g.zone, "status", "TERMINATED"));
	else if (r == 0)
		printf("%s is stopped: its GPU and CPU are no longer billed, its disk is; "
		       "'gcloud-gpu start %s' brings it back\n", name, name);
	gce_close(&g);
	return r;
}
