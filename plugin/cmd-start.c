/*
 * cmd-start.c: `gcloud-gpu start NAME`: start a stopped VM and wait until it runs.
 */
#include <stdio.h>

#include "cli.h"
#include "fleet.h"
#include "opts.h"
#include "gce.h"

const char cli_help_start[] =
	"usage: gcloud-gpu start NAME [options]\n\n"
	"Start a stopped VM and wait until it runs; prints its address.\n\n"
	"Options:\n"
	"  --json                     print the result as one JSON object\n"
	OPT_GCE_HELP
	FLEET_HELP;

int cmd_start(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	const char *name, *address;
	json_t *instance = NULL;
	struct gce g;
	int started, r, json = opt_take_flag(&argc, argv, "--json");

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, NULL, cause)) != 0)
		return r;
	if ((r = gce_open(&g, &o, cause)) == 0 &&
	    (r = gce_ensure_running(&g, name, &instance, &started, cause)) == 0 && json) {
		address = gce_instance_address(instance, 0);
		cli_json_print(json_pack("{s:s, s:s, s:s, s:s, s:b, s:s?}", "name", name, "project",
					 g.project, "zone", g.zone, "status", "RUNNING", "started",
					 started, "address", address));
	} else if (r == 0) {
		address = gce_instance_address(instance, 0);
		printf("%s is running%s; address %s\n", name, started ? "" : " (it already was)",
		       address != NULL ? address : "none (no external address)");
	}
	json_decref(instance);
	gce_close(&g);
	return r;
}
