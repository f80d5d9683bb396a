/*
 * cmd-delete.c: `gcloud-gpu delete NAME [--yes]`: delete a VM (and its boot disk when
 * the disk's autoDelete is on).
 *
 * What goes with the VM is read from the instance first (disks[].autoDelete), so that
 * the question and the refusal say what really happens: a disk with autoDelete off
 * stays and keeps being billed.  It asks on a terminal and wants --yes without one.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fleet.h"
#include "opts.h"
#include "error.h"
#include "buf.h"
#include "gce.h"
#include "xmalloc.h"

const char cli_help_delete[] =
	"usage: gcloud-gpu delete NAME [options]\n\n"
	"Delete a VM and its disks.  The VM is looked up first; then it asks, naming the\n"
	"project, the zone and the disks.  Without a terminal it wants --yes.\n\n"
	"Options:\n"
	"  -y, --yes                  do not ask\n"
	"  --json                     print the result as one JSON object\n"
	OPT_GCE_HELP
	FLEET_HELP;

/* The disks the instance lists: "'a', 'b'" of those deleted with it into gone, others kept. */
static void list_disks(json_t *instance, struct gg_buf *gone, struct gg_buf *kept)
{
	json_t *disk;
	size_t i;

	json_array_foreach(json_object_get(instance, "disks"), i, disk) {
		const char *source = json_string_value(json_object_get(disk, "source"));
		const char *name = source != NULL && strrchr(source, '/') != NULL ? strrchr(source, '/') + 1
									      : source;
		int keep = json_is_false(json_object_get(disk, "autoDelete"));
		struct gg_buf *b = keep ? kept : gone;

		if (name == NULL)
			continue;
		/* What is kept is named with its kind: it is what stays billed. */
		gg_buf_addf(b, "%s%s'%s'", b->len > 0 ? ", " : "",
			    !keep ? "" : json_is_true(json_object_get(disk, "boot")) ? "boot disk " : "disk ",
			    name);
	}
}

int cmd_delete(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gg_buf gone = GG_BUF_INIT, kept = GG_BUF_INIT, what = GG_BUF_INIT;
	char answer[16] = "";
	const char *name;
	json_t *instance = NULL;
	struct gce g;
	int yes = 0, r, json = opt_take_flag(&argc, argv, "--json");

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, &yes, cause)) != 0)
		return r;
	/* Project, zone, credentials and the VM itself are checked before anyone is asked. */
	if ((r = gce_open(&g, &o, cause)) != 0 ||
	    (r = gce_instance_get(&g, name, &instance, cause)) != 0)
		goto out;
	list_disks(instance, &gone, &kept);
	gg_buf_addf(&what, "VM '%s' in project '%s', zone '%s'", name, g.project, g.zone);
	if (gone.len > 0)
		gg_buf_addf(&what, ", with its %s %s", strchr(gone.data, ',') != NULL ? "disks" : "disk",
			    gone.data);
	if (kept.len > 0)
		gg_buf_addf(&what, " (its %s %s kept: autoDelete is off, so %s billed until "
			    "'gcloud compute disks delete')", kept.data,
			    strchr(kept.data, ',') != NULL ? "are" : "is",
			    strchr(kept.data, ',') != NULL ? "they stay" : "it stays");
	if (!yes) {
		if (!isatty(0)) {
			r = gg_fail(cause, GG_EXIT_USAGE, "deleting the %s loses what is on it: pass "
				    "--yes to confirm", what.data);
			goto out;
		}
		fprintf(stderr, "Delete the %s? Nothing on %s can be recovered. Type yes: ",
			what.data, gone.len > 0 ? "those disks" : "it");
		if (fgets(answer, sizeof answer, stdin) == NULL || strcmp(answer, "yes\n") != 0) {
			r = gg_fail(cause, GG_EXIT_USAGE, "not deleting '%s'", name);
			goto out;
		}
	}
	if ((r = gce_instance_delete(&g, name, cause)) != 0)
		goto out;
	if (json)
		cli_json_print(json_pack("{s:s, s:s, s:s, s:b}", "name", name, "project", g.project,
					 "zone", g.zone, "deleted", 1));
	else
		printf("%s is deleted: the %s\n", name, what.data);
out:
	json_decref(instance);
	gce_close(&g);
	gg_buf_release(&gone);
	gg_buf_release(&kept);
	gg_buf_release(&what);
	return r;
}
