/*
 * cmd-create.c: `gcloud-gpu create NAME`: a GPU VM as the recipe wants it.
 *
 * The defaults are what the hand-made recipe chose, kept current: a GPU the zone
 * offers, a machine type that fits it, an Ubuntu LTS image, a 100 GB boot disk,
 * onHostMaintenance TERMINATE and guest attributes on (so that `push` can trust the
 * host key from the start).  The quota is read first, so that a new project hears
 * which quota to request instead of a failed operation.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "gce.h"
#include "gce-fleet.h"
#include "xmalloc.h"

enum { OPT_GPU = 0x2000, OPT_GPU_COUNT, OPT_MACHINE_TYPE, OPT_IMAGE_FAMILY,
       OPT_IMAGE_PROJECT, OPT_DISK_GB, OPT_SPOT, OPT_COUNT, OPT_MIN_COUNT, OPT_LABEL,
       OPT_REGION };

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
	    strcmp(key, GCE_MANAGED_LABEL) == 0 || strncmp(key, "gcloud-gpu-", 11) == 0)
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

/* NAME-#### --count N: one bulkInsert; what was made is named, also when fewer. */
static int create_many(const struct gce_options *o, struct gce_bulk *b, char **cause)
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
	if ((r = gce_open(&g, o, cause)) == 0 && (r = gce_bulk_create(&g, b, &created, cause)) == 0) {
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
		{ NULL, 0, NULL, 0 },
	};
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gce_create c = { 0 };
	struct gce_bulk b = { 0 };
	struct gce g;
	int opt, r;

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
		default:
			return gg_fail(cause, GG_EXIT_USAGE, "'create': unknown option '%s' (see "
				       "gcloud-gpu help create)", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return gg_fail(cause, GG_EXIT_USAGE, "'create' takes one instance name (see "
			       "gcloud-gpu help create)");
	c.name = argv[optind];
	if (strchr(c.name, '#') != NULL || b.count > 0 || b.min_count > 0 || b.region != NULL ||
	    b.labels != NULL) {
		b.spec = c;
		r = create_many(&o, &b, cause);
		json_decref(b.labels);
		return r;
	}
	if ((r = gce_open(&g, &o, cause)) == 0 && (r = gce_create(&g, &c, cause)) == 0)
		printf("%s is created in %s: 'gcloud-gpu push %s' sets it up\n", c.name, g.zone,
		       c.name);
	gce_close(&g);
	return r;
}
