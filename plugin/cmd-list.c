/*
 * cmd-list.c: `gcloud-gpu list [--filter EXPR]`: the VMs gcloud-gpu manages (the
 * label create sets), in every zone of the project or in --zone, with their status,
 * GPU, external address, plan state and idle-stop setting.
 *
 * All of it comes from one API list (every page), none from SSH: the plan state and
 * the idle-stop setting are labels the CLI records on the VM when it learns them
 * (gce-fleet.h), so a stopped or unreachable VM still shows its last known state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "gce.h"
#include "gce-fleet.h"
#include "opts.h"
#include "xmalloc.h"

const char cli_help_list[] =
	"usage: gcloud-gpu list [--filter EXPR] [options]\n\n"
	"List the VMs gcloud-gpu created (the label gcloud-gpu=managed), in every zone of the\n"
	"project or in --zone: status, GPU, external address, the plan's state as the last\n"
	"push, reattach or status saw it, and the idle-stop setting.  Nothing connects to\n"
	"the VMs: a stopped one shows its last known state.\n\n"
	"Options:\n"
	"  --filter EXPR              Compute Engine's filter syntax, e.g. labels.class=ml\n"
	"                             (AND-ed with the managed label)\n"
	"  --json                     one JSON array of {name, zone, status, gpu,\n"
	"                             external_ip, plan, idle_stop}\n"
	OPT_GCE_HELP;

enum { OPT_FILTER = 0x2000, OPT_JSON };

/* "nvidia-tesla-t4 x1" from guestAccelerators, or "-". malloc'd. */
static char *gpu_of(json_t *inst)
{
	json_t *acc = json_array_get(json_object_get(inst, "guestAccelerators"), 0);
	const char *type = json_string_value(json_object_get(acc, "acceleratorType"));
	const char *slash = type != NULL ? strrchr(type, '/') : NULL;
	char *s;

	if (type == NULL)
		return xstrdup("-");
	xasprintf(&s, "%s x%lld", slash != NULL ? slash + 1 : type,
		  (long long)json_integer_value(json_object_get(acc, "acceleratorCount")));
	return s;
}

static const char *label(json_t *inst, const char *key, const char *none)
{
	const char *v = json_string_value(json_object_get(json_object_get(inst, "labels"), key));

	return v != NULL ? v : none;
}

/* One row as JSON; its strings are the API's, unchanged. */
static json_t *row(json_t *inst)
{
	const char *address = gce_instance_address(inst, 0);
	char *gpu = gpu_of(inst);
	json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:s?}",
			      "name", json_string_value(json_object_get(inst, "name")),
			      "zone", gce_instance_zone(inst),
			      "status", json_string_value(json_object_get(inst, "status")),
			      "gpu", gpu, "external_ip", address,
			      "plan", label(inst, GCE_LABEL_PLAN, NULL),
			      "idle_stop", label(inst, GCE_LABEL_IDLE_STOP, NULL));

	free(gpu);
	return o;
}

int cmd_list(int argc, char **argv, char **cause)
{
	static const struct option options[] = {
		GCE_LONG_OPTIONS,
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct gce_options o = GCE_OPTIONS_INIT;
	const char *user_filter = NULL;
	json_t *list = NULL, *inst, *rows = json_array(), *v;
	char *filter = NULL, *cells[7];
	struct gce g;
	int opt, json = 0, r, c;
	size_t i;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (gce_option(&o, opt, optarg))
			continue;
		if (opt == OPT_FILTER)
			user_filter = optarg;
		else if (opt == OPT_JSON)
			json = 1;
		else {
			json_decref(rows);
			return gg_fail(cause, GG_EXIT_USAGE, "'list': unknown option '%s' (see "
				       "gcloud-gpu help list)", argv[optind - 1]);
		}
	}
	if (optind != argc) {
		json_decref(rows);
		return gg_fail(cause, GG_EXIT_USAGE, "'list' takes no names: use --filter EXPR");
	}
	filter = gce_managed_filter(user_filter);
	if ((r = gce_open(&g, &o, cause)) != 0 ||
	    (r = gce_instances_list(&g, o.zone, filter, &list, cause)) != 0)
		goto out;
	json_array_foreach(list, i, inst)
		json_array_append_new(rows, row(inst));
	if (json) {
		cli_json_print(rows);
		rows = NULL;
		goto out;
	}
	printf("%-20s %-16s %-11s %-22s %-16s %-8s %s\n", "NAME", "ZONE", "STATUS", "GPU",
	       "EXTERNAL_IP", "PLAN", "IDLE_STOP");
	json_array_foreach(rows, i, v) {
		static const char *const keys[] = { "name", "zone", "status", "gpu", "external_ip",
						    "plan", "idle_stop" };

		for (c = 0; c < 7; c++) {
			const char *s = json_string_value(json_object_get(v, keys[c]));

			/* What the API says about a VM is cleaned before a terminal sees it. */
			cells[c] = xstrdup(s != NULL ? s : c == 6 ? "off" : "-");
			gg_printable(cells[c], 0);
		}
		printf("%-20s %-16s %-11s %-22s %-16s %-8s %s\n", cells[0], cells[1], cells[2],
		       cells[3], cells[4], cells[5], cells[6]);
		for (c = 0; c < 7; c++)
			free(cells[c]);
	}
	if (json_array_size(rows) == 0)
		fprintf(stderr, "no VM that gcloud-gpu created%s%s%s (create one with 'gcloud-gpu "
			"create NAME')\n", user_filter ? " matches '" : "", user_filter ? user_filter : "",
			user_filter ? "'" : "");
out:
	json_decref(list);
	json_decref(rows);
	free(filter);
	gce_close(&g);
	return r;
}
