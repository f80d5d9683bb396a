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
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cli.h"
#include "opts.h"
#include "error.h"
#include "gce.h"

const char cli_help_create[] =
	"usage: gcloud-gpu create NAME [options]\n\n"
	"Create a Compute Engine VM with an NVIDIA GPU, ready for 'gcloud-gpu push NAME'.\n"
	"The GPU quota of the region and project is checked first.\n\n"
	"Options:\n"
	"  --gpu TYPE                 nvidia-tesla-t4, nvidia-l4... (default: the first of\n"
	"                             T4, L4, V100, P100, P4, A100 the zone offers)\n"
	"  --gpu-count N              GPUs on the VM (default 1)\n"
	"  --machine-type TYPE        default: one that fits the GPU (n1-standard-8...)\n"
	"  --image-family FAMILY      default ubuntu-2204-lts\n"
	"  --image-project PROJECT    default ubuntu-os-cloud\n"
	"  --disk-gb N                boot disk size in GB (default 100, at least 10)\n"
	"  --spot                     a Spot VM: cheaper, may be stopped at any time\n"
	"  --json                     print the result as one JSON object\n"
	OPT_GCE_HELP;

enum { OPT_GPU = 0x2000, OPT_GPU_COUNT, OPT_MACHINE_TYPE, OPT_IMAGE_FAMILY,
       OPT_IMAGE_PROJECT, OPT_DISK_GB, OPT_SPOT, OPT_NETWORK, OPT_SUBNET,
       OPT_SERVICE_ACCOUNT };

static int positive(const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end != '\0' || v <= 0 || v > 65536)
		return -1;
	*out = (int)v;
	return 0;
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
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "subnet", required_argument, NULL, OPT_SUBNET },
		{ "service-account", required_argument, NULL, OPT_SERVICE_ACCOUNT },
		{ NULL, 0, NULL, 0 },
	};
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gce_create c = { 0 };
	struct gce g;
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
	/* Said here, not as the API's 400 after the token and quota look-ups. */
	if (!vm_name_valid(c.name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad VM name '%s': use lower-case letters, digits "
			       "and '-', start with a letter, end with no '-', at most 63 (for example "
			       "'my-gpu-vm')", c.name);
	if (c.disk_gb != 0 && c.disk_gb < 10)
		return gg_fail(cause, GG_EXIT_USAGE, "--disk-gb %d is too small: the image needs at "
			       "least 10 (the default is 100, for the CUDA image)", c.disk_gb);
	if ((r = gce_open(&g, &o, cause)) == 0 && (r = gce_create(&g, &c, cause)) == 0 && json)
		cli_json_print(json_pack("{s:s, s:s, s:s}", "name", c.name, "project", g.project,
					 "zone", g.zone));
	else if (r == 0)
		printf("%s is created in %s: 'gcloud-gpu push %s' sets it up\n", c.name, g.zone,
		       c.name);
	gce_close(&g);
	return r;
}
