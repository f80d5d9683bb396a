/*
 * cmd-delete.c: `gcloud-gpu delete NAME [--yes]`: delete a VM and its boot disk.
 *
 * Nothing on the disk survives, so it asks first on a terminal and wants --yes
 * without one.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "error.h"
#include "gce.h"

const char cli_help_delete[] =
	"usage: gcloud-gpu delete NAME [options]\n\n"
	"Delete a VM and its disks.  The VM is looked up first; then it asks, naming the\n"
	"project, the zone and the disks.  Without a terminal it wants --yes.\n\n"
	"Options:\n"
	"  -y, --yes                  do not ask\n"
	"  --json                     print the result as one JSON object\n"
	OPT_GCE_HELP;

int cmd_delete(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	char answer[16] = "";
	const char *name;
	struct gce g;
	int yes = 0, r;

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, &yes, cause)) != 0)
		return r;
	if (!yes) {
		if (!isatty(0))
			return gg_fail(cause, GG_EXIT_USAGE, "deleting '%s' loses its disk: pass "
				       "--yes to confirm", name);
		fprintf(stderr, "Delete '%s' and its boot disk? Type yes: ", name);
		if (fgets(answer, sizeof answer, stdin) == NULL || strcmp(answer, "yes\n") != 0)
			return gg_fail(cause, GG_EXIT_USAGE, "not deleting '%s'", name);
	}
	if ((r = gce_open(&g, &o, cause)) == 0 &&
	    (r = gce_instance_delete(&g, name, cause)) == 0)
		printf("%s is deleted\n", name);
	gce_close(&g);
	return r;
}
