/*
 * gce-fleet.c: the Compute Engine calls of gce-fleet.h.
 *
 * A list is read page by page (maxResults 500, then nextPageToken) until the API
 * gives no token: a class of 30 fits one page, a project's whole fleet may not.
 */
#include "gce-fleet.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "http.h"
#include "xmalloc.h"

const char *gce_instance_zone(json_t *instance)
{
	const char *zone = json_string_value(json_object_get(instance, "zone"));
	const char *slash = zone != NULL ? strrchr(zone, '/') : NULL;

	zone = slash != NULL ? slash + 1 : zone;
	return gce_name_valid(zone) ? zone : NULL;
}

char *gce_managed_filter(const char *user_filter)
{
	char *filter;

	if (user_filter != NULL)
		xasprintf(&filter, "labels.%s=%s AND (%s)", GCE_LABEL_KEY, GCE_LABEL_VALUE,
			  user_filter);
	else
		xasprintf(&filter, "labels.%s=%s", GCE_LABEL_KEY, GCE_LABEL_VALUE);
	return filter;
}

/* Append the instances of one page: a zone's list, or aggregatedList's per-zone map. */
static void take_page(json_t *page, json_t *into)
{
	json_t *items = json_object_get(page, "items"), *scope, *inst;
	const char *key;
	size_t i;

	if (json_is_array(items)) {
		json_array_foreach(items, i, inst)
			json_array_append(into, inst);
		return;
	}
	json_object_foreach(items, key, scope)
		json_array_foreach(json_object_get(scope, "instances"), i, inst)
			json_array_append(into, inst);
}

int gce_instances_list(struct gce *g, const char *zone, const char *filter,
		       json_t **instances, char **cause)
{
	json_t *all = json_array(), *page = NULL;
	char *path = NULL, *token = NULL, *esc;
	struct gg_buf query = GG_BUF_INIT;
	int r, pages = 0;

	if (zone != NULL && !gce_name_valid(zone))
		return gg_fail(cause, GG_EXIT_USAGE, "bad zone '%s'", zone);
	for (;;) {
		gg_buf_reset(&query);
		gg_buf_addstr(&query, "?maxResults=500");
		if (filter != NULL) {
			esc = http_form_escape(filter);
			gg_buf_addf(&query, "&filter=%s", esc);
			free(esc);
		}
		if (token != NULL) {
			esc = http_form_escape(token);
			gg_buf_addf(&query, "&pageToken=%s", esc);
			free(esc);
		}
		free(path);
		if (zone != NULL)
			xasprintf(&path, "projects/%s/zones/%s/instances%s", g->project, zone, query.data);
		else
			xasprintf(&path, "projects/%s/aggregated/instances%s", g->project, query.data);
		json_decref(page);
		page = NULL;
		if ((r = gce_get_json(g, path, "the list of instances", &page, cause)) != 0)
			goto out;
		take_page(page, all);
		free(token);
		token = NULL;
		if (json_string_value(json_object_get(page, "nextPageToken")) == NULL ||
		    json_string_value(json_object_get(page, "nextPageToken"))[0] == '\0')
			break;
		/* A token that never ends would be a broken API: stop after 1000 pages. */
		if (++pages >= 1000) {
			r = gg_fail(cause, GG_EXIT_API, "the list of instances goes on after %d pages",
				    pages);
			goto out;
		}
		token = xstrdup(json_string_value(json_object_get(page, "nextPageToken")));
	}
	*instances = all;
	all = NULL;
	r = 0;
out:
	json_decref(all);
	json_decref(page);
	gg_buf_release(&query);
	free(path);
	free(token);
	return r;
}

/* --- bulkInsert ------------------------------------------------------------------------ */

/* Labels that name one bulk request, so that the VMs it made can be listed after it. */
#define BATCH_LABEL "gcloud-gpu-batch"

int gce_label_valid(const char *s, int key)
{
	size_t n = strlen(s);

	if (n > 63 || (key && (n == 0 || !islower((unsigned char)s[0]))))
		return 0;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' &&
		    *s != '_')
			return 0;
	return 1;
}

/* A name pattern: one run of '#' and otherwise a valid instance name. */
static int pattern_valid(const char *pattern)
{
	char *probe = xstrdup(pattern), *p;
	const char *run = strchr(pattern, '#');
	size_t len = run != NULL ? strspn(run, "#") : 0;
	int ok = run != NULL && strchr(run + len, '#') == NULL;

	for (p = probe; *p != '\0'; p++)
		if (*p == '#')
			*p = '0';
	ok = ok && gce_name_valid(probe) && islower((unsigned char)probe[0]);
	free(probe);
	return ok;
}

/* The GPU types one zone offers (licence-free ones), as a JSON array of names. */
static int zone_gpus(struct gce *g, const char *zone, json_t **names, char **cause)
{
	json_t *list = NULL, *item;
	char *path, *what;
	size_t i;
	int r;

	xasprintf(&path, "projects/%s/zones/%s/acceleratorTypes", g->project, zone);
	xasprintf(&what, "the GPU types of zone '%s'", zone);
	r = gce_get_json(g, path, what, &list, cause);
	free(path);
	free(what);
	if (r != 0)
		return r;
	*names = json_array();
	json_array_foreach(json_object_get(list, "items"), i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));

		if (n != NULL && strstr(n, "vws") == NULL) /* workstation variants need a licence */
			json_array_append_new(*names, json_string(n));
	}
	json_decref(list);
	return 0;
}

static int offers(json_t *names, const char *gpu)
{
	json_t *v;
	size_t i;

	json_array_foreach(names, i, v)
		if (strcmp(json_string_value(v), gpu) == 0)
			return 1;
	return 0;
}

/*
 * Regional placement: every zone of the region is asked for its GPU types; the type is
 * the user's, else the first of the preference list that any zone offers (else any
 * type a zone offers).  *zones: {"ZONE": "ALLOW" or "DENY"} for every zone of the
 * region, so that the request names the zones without the GPU too.
 */
static int choose_regional_gpu(struct gce *g, const char *region, const char *wanted,
			       char **chosen, json_t **zones, char **cause)
{
	json_t *reg = NULL, *link, *offered = json_object(), *names, *v;
	const char *const *pref = gce_gpu_preference();
	struct gg_buf all = GG_BUF_INIT;
	const char *zone, *pick = NULL;
	char *path;
	size_t i;
	int r, p;

	*chosen = NULL;
	*zones = NULL;
	if (!gce_name_valid(region)) {
		r = gg_fail(cause, GG_EXIT_USAGE, "bad region '%s'", region);
		goto out;
	}
	xasprintf(&path, "projects/%s/regions/%s", g->project, region);
	r = gce_get_json(g, path, "the region", &reg, cause);
	free(path);
	if (r != 0)
		goto out;
	json_array_foreach(json_object_get(reg, "zones"), i, link) {
		const char *s = json_string_value(link), *slash = s != NULL ? strrchr(s, '/') : NULL;

		zone = slash != NULL ? slash + 1 : s;
		if (!gce_name_valid(zone))
			continue;
		if ((r = zone_gpus(g, zone, &names, cause)) != 0)
			goto out;
		json_object_set_new(offered, zone, names);
	}
	json_object_foreach(offered, zone, names)
		json_array_foreach(names, i, v) {
			if (strstr(all.data != NULL ? all.data : "", json_string_value(v)) == NULL)
				gg_buf_addf(&all, "%s%s", all.len ? ", " : "", json_string_value(v));
			if (wanted != NULL && strcmp(json_string_value(v), wanted) == 0)
				pick = wanted;
		}
	for (p = 0; wanted == NULL && pick == NULL && pref[p] != NULL; p++)
		json_object_foreach(offered, zone, names)
			if (pick == NULL && offers(names, pref[p]))
				pick = pref[p];
	/* Else any type a zone offers that the single create would pick by itself too. */
	json_object_foreach(offered, zone, names)
		json_array_foreach(names, i, v)
			if (wanted == NULL && pick == NULL && gce_gpu_pickable(json_string_value(v)))
				pick = json_string_value(v);
	if (pick == NULL) {
		r = gg_fail(cause, GG_EXIT_USAGE, "no zone of region '%s' offers %s%s%s: pick "
			    "another with --gpu or --region (it offers: %s)", region,
			    wanted != NULL ? "the GPU '" : "a GPU", wanted != NULL ? wanted : "",
			    wanted != NULL ? "'" : "", all.len > 0 ? all.data : "none");
		goto out;
	}
	*chosen = xstrdup(pick);
	*zones = json_object();
	json_object_foreach(offered, zone, names)
		json_object_set_new(*zones, zone, json_string(offers(names, pick) ? "ALLOW" : "DENY"));
	r = 0;
out:
	json_decref(reg);
	json_decref(offered);
	gg_buf_release(&all);
	return r;
}

/* The last path segment of a string field, in place ("zones/z/machineTypes/m" -> "m"). */
static void bare_name(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	const char *slash = s != NULL ? strrchr(s, '/') : NULL;

	if (slash != NULL)
		json_object_set_new(obj, key, json_string(slash + 1));
}

/*
 * instanceProperties from the one instances.insert body (gce_insert_body), so that a
 * VM made by bulkInsert is made as `create NAME` makes it: the same body without its
 * name, with bare type names where insert takes zonal paths.
 */
static json_t *instance_properties(const struct gce *g, const struct gce_bulk *b,
				   const char *batch)
{
	json_t *props = gce_insert_body(g, &b->spec), *v, *labels;
	const char *key;
	size_t i;

	json_object_del(props, "name");
	bare_name(props, "machineType");
	json_array_foreach(json_object_get(props, "guestAccelerators"), i, v)
		bare_name(v, "acceleratorType");
	json_array_foreach(json_object_get(props, "disks"), i, v)
		bare_name(json_object_get(v, "initializeParams"), "diskType");
	labels = json_object_get(props, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(props, "labels", labels);
	}
	json_object_foreach(b->labels, key, v)
		json_object_set(labels, key, v);
	json_object_set_new(labels, GCE_LABEL_KEY, json_string(GCE_LABEL_VALUE));
	json_object_set_new(labels, BATCH_LABEL, json_string(batch));
	return props;
}

int gce_bulk_create(struct gce *g, const struct gce_bulk *b, json_t **created, char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	struct gce_bulk spec = *b;
	json_t *image = NULL, *body = NULL, *zones = NULL, *list = NULL, *inst, *locations, *z;
	char *gpu = NULL, *path = NULL, *what = NULL, *filter = NULL, *saved_zone = NULL;
	char batch[37];
	int r, gpus = b->spec.gpu_count > 0 ? b->spec.gpu_count : 1;
	size_t i;

	*created = NULL;
	if (!pattern_valid(b->spec.name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad name pattern '%s': a lower-case name "
			       "with one run of '#' for the number, e.g. class-####", b->spec.name);
	if (b->region != NULL)
		r = choose_regional_gpu(g, b->region, b->spec.gpu_type, &gpu, &zones, cause);
	else
		r = gce_choose_gpu(g, b->spec.gpu_type, &gpu, cause);
	if (r != 0)
		goto out;
	spec.spec.gpu_type = gpu;
	xasprintf(&path, "projects/%s/global/images/family/%s",
		  b->spec.image_project ? b->spec.image_project : GCE_DEFAULT_IMAGE_PROJECT,
		  b->spec.image_family ? b->spec.image_family : GCE_DEFAULT_IMAGE_FAMILY);
	xasprintf(&what, "image family '%s'", b->spec.image_family ? b->spec.image_family
								   : GCE_DEFAULT_IMAGE_FAMILY);
	if ((r = gce_get_json(g, path, what, &image, cause)) != 0)
		goto out;
	/* The quota check reads the region of g->zone: a zone of the chosen region. */
	if (zones != NULL) {
		const char *zone;

		saved_zone = g->zone;
		json_object_foreach(zones, zone, z)
			if (strcmp(json_string_value(z), "ALLOW") == 0)
				break;
		g->zone = xstrdup(zone);
	}
	r = gce_check_quota(g, gpu, gpus * b->count, b->spec.spot, cause);
	if (r != 0)
		goto out;
	/* A label value no other request shares (a UUID is a valid one). */
	gce_request_id(batch);
	body = json_pack("{s:i, s:i, s:s, s:o}", "count", b->count, "minCount",
			 b->min_count > 0 ? b->min_count : b->count, "namePattern", b->spec.name,
			 "instanceProperties", instance_properties(g, &spec, batch));
	free(path);
	if (zones != NULL) {
		const char *zone;

		locations = json_object();
		json_object_foreach(zones, zone, z) {
			char *key;

			xasprintf(&key, "zones/%s", zone);
			json_object_set_new(locations, key, json_pack("{s:O}", "preference", z));
			free(key);
		}
		json_object_set_new(body, "locationPolicy", json_pack("{s:o}", "locations", locations));
		xasprintf(&path, "projects/%s/regions/%s/instances/bulkInsert", g->project, b->region);
	} else {
		xasprintf(&path, "projects/%s/zones/%s/instances/bulkInsert", g->project, g->zone);
	}
	if ((r = gce_mutate(g, "POST", path, body, &rs, cause)) != 0) {
		gg_fail_wrap(cause, r, "cannot create %d VMs named '%s' (at least %d)", b->count,
			     b->spec.name, b->min_count > 0 ? b->min_count : b->count);
		goto out;
	}
	xasprintf(&filter, "labels.%s=%s", BATCH_LABEL, batch);
	if ((r = gce_instances_list(g, zones != NULL ? NULL : g->zone, filter, &list, cause)) != 0)
		goto out;
	*created = json_array();
	json_array_foreach(list, i, inst)
		json_array_append_new(*created, json_pack("{s:s?, s:s?}", "name",
			json_string_value(json_object_get(inst, "name")), "zone", gce_instance_zone(inst)));
	r = 0;
out:
	if (saved_zone != NULL) {
		free(g->zone);
		g->zone = saved_zone;
	}
	http_response_release(&rs);
	json_decref(image);
	json_decref(body);
	json_decref(zones);
	json_decref(list);
	free(gpu);
	free(path);
	free(what);
	free(filter);
	return r;
}

/* --- labels ------------------------------------------------------------------------------ */

int gce_label_set(struct gce *g, const char *name, const char *key, const char *value,
		  char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	json_t *inst = NULL, *labels, *body = NULL;
	const char *print;
	char *path = NULL;
	int r = 0, tries;

	if (!gce_label_valid(key, 1) || (value != NULL && !gce_label_valid(value, 0)))
		return gg_fail(cause, GG_EXIT_USAGE, "bad label '%s=%s'", key, value ? value : "");
	for (tries = 0; tries < 5; tries++) {
		json_decref(inst);
		inst = NULL;
		json_decref(body);
		body = NULL;
		http_response_release(&rs);
		if ((r = gce_instance_get(g, name, &inst, cause)) != 0)
			break;
		labels = json_object_get(inst, "labels");
		labels = json_is_object(labels) ? json_copy(labels) : json_object();
		print = json_string_value(json_object_get(inst, "labelFingerprint"));
		if (value != NULL)
			json_object_set_new(labels, key, json_string(value));
		else
			json_object_del(labels, key);
		body = json_pack("{s:o, s:s?}", "labels", labels, "labelFingerprint", print);
		free(path);
		xasprintf(&path, "projects/%s/zones/%s/instances/%s/setLabels", g->project, g->zone,
			  name);
		/* A 412 (or 409) is the call's own answer, before any operation: the labels
		 * changed since the get, so read them again (a new request, a new id). */
		r = gce_mutate(g, "POST", path, body, &rs, cause);
		if (r != 0 && (rs.status == 412 || rs.status == 409)) {
			free(*cause);
			*cause = NULL;
			continue;
		}
		break;
	}
	if (tries == 5)
		r = gg_fail(cause, GG_EXIT_API, "the labels of '%s' kept changing while setting "
			    "'%s'", name, key);
	if (r != 0)
		gg_fail_wrap(cause, r, "cannot set the label '%s' of '%s'", key, name);
	http_response_release(&rs);
	json_decref(inst);
	json_decref(body);
	free(path);
	return r;
}
