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
#include "error.h"
#include "gce.h"
#include "xmalloc.h"

/* The boot disk's name when it is deleted with the VM, else NULL; *kept when it stays. */
static const char *boot_disk(json_t *instance, const char **kept)
{
	const char *source, *slash;
	json_t *disk;
	size_t i;

	*kept = NULL;
	json_array_foreach(json_object_get(instance, "disks"), i, disk) {
		if (!json_is_true(json_object_get(disk, "boot")))
			continue;
		source = json_string_value(json_object_get(disk, "source"));
		slash = source != NULL ? strrchr(source, '/') : NULL;
		source = slash != NULL ? slash + 1 : source != NULL ? source : "boot disk";
		if (json_is_true(json_object_get(disk, "autoDelete")))
			return source;
		*kept = source;
	}
	return NULL;
}

int cmd_delete(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	const char *name, *gone, *kept;
	char answer[16] = "", *what = NULL;
	json_t *instance = NULL;
	struct gce g;
	int yes = 0, r;

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, &yes, cause)) != 0)
		return r;
	if ((r = gce_open(&g, &o, cause)) != 0 ||
	    (r = gce_instance_get(&g, name, &instance, cause)) != 0)
		goto out;
	gone = boot_disk(instance, &kept);
	if (gone != NULL)
		xasprintf(&what, "'%s' and its boot disk '%s'", name, gone);
	else if (kept != NULL)
		xasprintf(&what, "'%s' (its boot disk '%s' is kept: autoDelete is off, so it "
			  "stays billed until 'gcloud compute disks delete %s')", name, kept, kept);
	else
		xasprintf(&what, "'%s'", name);
	if (!yes && !isatty(0)) {
		r = gg_fail(cause, GG_EXIT_USAGE, "deleting %s: pass --yes to confirm", what);
		goto out;
	}
	if (!yes) {
		fprintf(stderr, "Delete %s? Type yes: ", what);
		if (fgets(answer, sizeof answer, stdin) == NULL || strcmp(answer, "yes\n") != 0) {
			r = gg_fail(cause, GG_EXIT_USAGE, "not deleting '%s'", name);
			goto out;
		}
	}
	if ((r = gce_instance_delete(&g, name, cause)) == 0)
		printf("deleted %s\n", what);
out:
	json_decref(instance);
	gce_close(&g);
	free(what);
	return r;
}
