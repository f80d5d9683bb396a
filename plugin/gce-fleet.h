/*
 * gce-fleet.h: Compute Engine for many VMs at once: find them (instances.list and
 * aggregatedList with a filter, every page), and create many from one set of
 * properties (instances.bulkInsert).
 *
 * These calls use gce.h's struct gce (opened with gce_open) and its one HTTP client;
 * they are apart from gce.c because they concern a class of VMs, not one.
 */
#ifndef GG_GCE_FLEET_H
#define GG_GCE_FLEET_H

#include <jansson.h>

#include "gce.h"

/*
 * Every instance of g's project that filter matches (the API's filter syntax, e.g.
 * "labels.class=ml"; NULL: all), in zone, or in every zone when zone is NULL
 * (aggregatedList), following nextPageToken to the last page.  *instances: a new
 * array of the instance objects, in the API's order.  0, or GG_EXIT_API.
 */
int gce_instances_list(struct gce *g, const char *zone, const char *filter,
		       json_t **instances, char **cause);

/*
 * The filter for the VMs gcloud-gpu manages (GCE_LABEL_KEY=GCE_LABEL_VALUE, gce.h:
 * labels.gcloud-gpu=managed), AND-ed with
 * the user's when not NULL; malloc'd.  `list` and many-target commands use it, so that
 * a broad filter never reaches VMs that gcloud-gpu did not create.
 */
char *gce_managed_filter(const char *user_filter);

/* The zone's name of an instance object (the last segment of its "zone"), or NULL. */
const char *gce_instance_zone(json_t *instance);

/*
 * What `list` shows without connecting to every VM: labels the CLI sets on the VM
 * when it learns them (docs/ARCHITECTURE.md, "What list shows").  The plan's state as
 * the last push, reattach or status saw it ("running", "done", "failed"), and the
 * idle-stop setting as `idle-stop` set it ("off", or its time, e.g. "30m").
 */
#define GCE_LABEL_PLAN "gcloud-gpu-plan"
#define GCE_LABEL_IDLE_STOP "gcloud-gpu-idle-stop"

/*
 * Set one label of instance name (value NULL: remove it), keeping the others:
 * instances.get for the labels and their fingerprint, then setLabels (gce_mutate: with
 * a requestId, its operation waited for), again from the get when someone else
 * changed them meanwhile (412).  0, or GG_EXIT_API.
 */
int gce_label_set(struct gce *g, const char *name, const char *key, const char *value,
		  char **cause);

/* What `gcloud-gpu create NAME-#### --count N` asks for. */
struct gce_bulk {
	struct gce_create spec;   /* spec.name: the namePattern, with one run of '#' */
	int count;                /* N: how many VMs */
	int min_count;            /* at least this many, or none (0: count) */
	const char *region;       /* NULL: all in g->zone; else any zone of the region
				   * that offers the GPU */
	json_t *labels;           /* more labels {"key": "value"} (may be NULL) */
};

/*
 * Whether s is a label key (key set) or value Compute Engine accepts: lower-case
 * letters, digits, '-' and '_', at most 63 characters, a key starting with a letter.
 */
int gce_label_valid(const char *s, int key);

/*
 * Create the VMs with one instances.bulkInsert: the GPU chosen (zonal: as gce_create;
 * regional: the preferred type that any zone of the region offers, and the request
 * restricted to the zones offering it), the image family checked, the GPU quota
 * checked for all count VMs, then the call (gce_mutate: one requestId, so that a
 * retried bulkInsert never makes a second batch) and its operation.  Every VM carries the
 * managed label, the user's labels and a batch label, by which the VMs that were made
 * are then listed.  *created: a new array of {"name", "zone"} (fewer than count when
 * the API placed only min_count..count).  0, or an exit code with *cause set.
 */
int gce_bulk_create(struct gce *g, const struct gce_bulk *b, json_t **created, char **cause);

#endif
