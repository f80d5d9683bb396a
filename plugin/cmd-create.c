/*
 * cmd-create.c: `gcloud-gpu create NAME`: a GPU VM as the recipe wants it; with
 * `NAME-#### --count N`, many alike through instances.bulkInsert (gce-fleet.h).
 *
 * The defaults are what the hand-made recipe chose, kept current: a GPU the zone
 * offers, a machine type that fits it, an Ubuntu LTS image, a 100 GB boot disk,
 * onHostMaintenance TERMINATE and guest attributes on (so that `push` can trust the
 * host key from the start).  The quota is read first, so that a new project hears
 * which quota to request instead of a failed operation.
 */
#include <getopt.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "error.h"
#include "gce.h"
#include "gce-fleet.h"
#include "xmalloc.h"

const char cli_help_create[] =
	"usage: gcloud-gpu create NAME [options]\n"
	"       gcloud-gpu create NAME-#### --count N [--min-count M] [--label KEY=VALUE]...\n"
	"                         [--region REGION] [options]\n\n"
	"Create a Compute Engine VM with an NVIDIA GPU, ready for 'gcloud-gpu push NAME'.\n"
	"The GPU quota of the region and project is checked first (for all N VMs).\n\n"
	"Options:\n"
	"  --gpu TYPE                 nvidia-tesla-t4, nvidia-l4... (default: the first of\n"
	"                             T4, L4, V100, P100, P4, A100 the zone offers)\n"
	"  --gpu-count N              GPUs on the VM (default 1)\n"
	"  --machine-type TYPE        default: one that fits the GPU (n1-standard-8...)\n"
	"  --image-family FAMILY      default ubuntu-2204-lts\n"
	"  --image-project PROJECT    default ubuntu-os-cloud\n"
	"  --disk-gb N                boot disk size in GB (default 100, at least 10)\n"
	"  --spot                     a Spot VM: cheaper, may be stopped at any time\n"
	"  --json                     print the result as one JSON object\n\n"
	"Many VMs at once (one instances.bulkInsert; every VM is labelled gcloud-gpu=managed):\n"
	"  NAME-####                  the name pattern: the run of '#' becomes the number\n"
	"  --count N                  how many VMs (1 to 1000)\n"
	"  --min-count M              accept M..N when the API cannot place all N (default N)\n"
	"  --label KEY=VALUE          a label of your own on each, for --filter labels.KEY=VALUE\n"
	"  --region REGION            any zone of the region that offers the GPU (not --zone)\n"
	OPT_GCE_HELP;

enum { OPT_GPU = 0x2000, OPT_GPU_COUNT, OPT_MACHINE_TYPE, OPT_IMAGE_FAMILY,
       OPT_IMAGE_PROJECT, OPT_DISK_GB, OPT_SPOT, OPT_NETWORK, OPT_SUBNET,
       OPT_SERVICE_ACCOUNT, OPT_COUNT, OPT_MIN_COUNT, OPT_LABEL, OPT_REGION };

static int positive(const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end != '\0' || v <= 0 || v > 65536)
		return -1;
	*out = (int)v;
	return 0;
}

/* --label KEY=VALUE, checked as Compute Engine checks labels. */
static int add_label(struct gce_bulk *b, const char *arg, char **cause)
{
	const char *eq = strchr(arg, '=');
	char *key = eq != NULL ? xstrndup(arg, (size_t)(eq - arg)) : NULL;
	int r = 0;

	if (key == NULL || !gce_label_valid(key, 1) || !gce_label_valid(eq + 1, 0) ||
	    strcmp(key, GCE_LABEL_KEY) == 0 || strncmp(key, "gcloud-gpu-", 11) == 0)
		r = gg_fail(cause, GG_EXIT_USAGE, "bad --label '%s': KEY=VALUE, lower-case letters, "
			    "digits, '-' and '_', a key starting with a letter and not 'gcloud-gpu'",
			    arg);
	else {
		if (b->labels == NULL)
			b->labels = json_object();
		json_object_set_new(b->labels, key, json_string(eq + 1));
	}
	free(key);
	return r;
}

/* How to set them all up: by the user's first label, else by their names. */
static void print_push_hint(const struct gce_bulk *b, json_t *created)
{
	const char *key = NULL;
	json_t *v;
	size_t i;

	json_object_foreach(b->labels, key, v)
		break;
	if (key != NULL) {
		printf("'gcloud-gpu push --filter labels.%s=%s' sets them all up\n", key,
		       json_string_value(json_object_get(b->labels, key)));
		return;
	}
	printf("'gcloud-gpu push");
	json_array_foreach(created, i, v)
		printf(" %s", json_string_value(json_object_get(v, "name")));
	printf("' sets them all up\n");
}

/* A Compute Engine instance name: [a-z]([-a-z0-9]{0,61}[a-z0-9])? */
static int vm_name_valid(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > 63 || !islower((unsigned char)name[0]) || name[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '-')
			return 0;
	return 1;
}

/* NAME-#### --count N: one bulkInsert; what was made is named, also when fewer. */
static int create_many(const struct gce_options *o, struct gce_bulk *b, int json, char **cause)
{
	json_t *created = NULL, *vm;
	struct gce g;
	size_t i;
	int r;

	if (b->count == 0)
		b->count = 1;
	if (b->min_count > b->count)
		return gg_fail(cause, GG_EXIT_USAGE, "--min-count %d is more than --count %d",
			       b->min_count, b->count);
	if (strchr(b->spec.name, '#') == NULL)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' has no '#' for the VMs' numbers: name "
			       "them like class-####", b->spec.name);
	if (b->region != NULL && o->zone != NULL)
		return gg_fail(cause, GG_EXIT_USAGE, "give --zone or --region, not both");
	if ((r = gce_open(&g, o, cause)) == 0 && (r = gce_bulk_create(&g, b, &created, cause)) == 0 &&
	    json) {
		cli_json_print(json_pack("{s:s, s:s, s:i, s:O}", "pattern", b->spec.name, "project",
					 g.project, "count", b->count, "created", created));
	} else if (r == 0) {
		printf("created %zu of %d VMs%s:\n", json_array_size(created), b->count,
		       (int)json_array_size(created) < b->count ? " (the API placed no more)" : "");
		json_array_foreach(created, i, vm)
			printf("  %s  %s\n", json_string_value(json_object_get(vm, "name")),
			       json_string_value(json_object_get(vm, "zone")));
		print_push_hint(b, created);
	}
	json_decref(created);
	gce_close(&g);
	return r;
}

/* NAME: one instances.insert. */
static int create_one(const struct gce_options *o, const struct gce_create *c, int json,
		      char **cause)
{
	struct gce g;
	int r;

	/* Said here, not as the API's 400 after the token and quota look-ups. */
	if (!vm_name_valid(c->name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad VM name '%s': use lower-case letters, digits "
			       "and '-', start with a letter, end with no '-', at most 63 (for example "
			       "'my-gpu-vm')", c->name);
	if ((r = gce_open(&g, o, cause)) == 0 && (r = gce_create(&g, c, cause)) == 0 && json)
		cli_json_print(json_pack("{s:s, s:s, s:s}", "name", c->name, "project", g.project,
					 "zone", g.zone));
	else if (r == 0)
		printf("%s is created in %s: 'gcloud-gpu push %s' sets it up\n", c->name, g.zone,
		       c->name);
	gce_close(&g);
	return r;
}

int cmd_create(int argc, char **argv, char **cause)
{
	static const struct option options[] = {
		GCE_LONG_OPTIONS,
		{ "gpu", required_argument, NULL, OPT_GPU },
		{ "gpu-count", required_argument, NULL, OPT_GPU_COUNT },
		{ "machine-type", required_argument, NULL, OPT_MACHINE_TYPE },
		{ "image-family", required_argument, NULL, OPT_IMAGE_FAMILY },
		{ "image-project", required_argument, NULL, OPT_IMAGE_PROJECT },
		{ "disk-gb", required_argument, NULL, OPT_DISK_GB },
		{ "spot", no_argument, NULL, OPT_SPOT },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "min-count", required_argument, NULL, OPT_MIN_COUNT },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "region", required_argument, NULL, OPT_REGION },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "subnet", required_argument, NULL, OPT_SUBNET },
		{ "service-account", required_argument, NULL, OPT_SERVICE_ACCOUNT },
		{ NULL, 0, NULL, 0 },
	};
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gce_create c = { 0 };
	struct gce_bulk b = { 0 };
	int opt, r, json = opt_take_flag(&argc, argv, "--json");

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (gce_option(&o, opt, optarg))
			continue;
		switch (opt) {
		case OPT_GPU:
			c.gpu_type = optarg;
			break;
		case OPT_GPU_COUNT:
			if (positive(optarg, &c.gpu_count) != 0)
				return gg_fail(cause, GG_EXIT_USAGE, "bad --gpu-count '%s'", optarg);
			break;
		case OPT_MACHINE_TYPE:
			c.machine_type = optarg;
			break;
		case OPT_IMAGE_FAMILY:
			c.image_family = optarg;
			break;
		case OPT_IMAGE_PROJECT:
			c.image_project = optarg;
			break;
		case OPT_DISK_GB:
			if (positive(optarg, &c.disk_gb) != 0)
				return gg_fail(cause, GG_EXIT_USAGE, "bad --disk-gb '%s'", optarg);
			break;
		case OPT_SPOT:
			c.spot = 1;
			break;
		case OPT_COUNT:
			if (positive(optarg, &b.count) != 0 || b.count > 1000)
				return gg_fail(cause, GG_EXIT_USAGE, "bad --count '%s' (1 to 1000)", optarg);
			break;
		case OPT_MIN_COUNT:
			if (positive(optarg, &b.min_count) != 0)
				return gg_fail(cause, GG_EXIT_USAGE, "bad --min-count '%s'", optarg);
			break;
		case OPT_LABEL:
			if ((r = add_label(&b, optarg, cause)) != 0) {
				json_decref(b.labels);
				return r;
			}
			break;
		case OPT_REGION:
			b.region = optarg;
			break;
		case OPT_NETWORK:
			c.network = optarg;
			break;
		case OPT_SUBNET:
			c.subnet = optarg;
			break;
		case OPT_SERVICE_ACCOUNT:
			c.service_account = optarg;
			break;
		default:
			return gg_fail(cause, GG_EXIT_USAGE, "'create': unknown option '%s' (see "
				       "gcloud-gpu help create)", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return gg_fail(cause, GG_EXIT_USAGE, "'create' takes one instance name (see "
			       "gcloud-gpu help create)");
	c.name = argv[optind];
	if (c.disk_gb != 0 && c.disk_gb < 10) {
		r = gg_fail(cause, GG_EXIT_USAGE, "--disk-gb %d is too small: the image needs at "
			    "least 10 (the default is 100, for the CUDA image)", c.disk_gb);
	} else if (strchr(c.name, '#') != NULL || b.count > 0 || b.min_count > 0 ||
		   b.region != NULL || b.labels != NULL) {
		b.spec = c;
		r = create_many(&o, &b, json, cause);
	} else {
		r = create_one(&o, &c, json, cause);
	}
	json_decref(b.labels);
	return r;
}
