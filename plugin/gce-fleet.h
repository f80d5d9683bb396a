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

/* The label `create` sets on every VM it makes; `list` shows only VMs that carry it. */
#define GCE_MANAGED_LABEL "gcloud-gpu"
#define GCE_MANAGED_VALUE "managed"

/*
 * Every instance of g's project that filter matches (the API's filter syntax, e.g.
 * "labels.class=ml"; NULL: all), in zone, or in every zone when zone is NULL
 * (aggregatedList), following nextPageToken to the last page.  *instances: a new
 * array of the instance objects, in the API's order.  0, or GG_EXIT_API.
 */
int gce_instances_list(struct gce *g, const char *zone, const char *filter,
		       json_t **instances, char **cause);

/* The zone's name of an instance object (the last segment of its "zone"), or NULL. */
const char *gce_instance_zone(json_t *instance);

#endif
