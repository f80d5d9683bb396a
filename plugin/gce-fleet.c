/*
 * gce-fleet.c: the Compute Engine calls of gce-fleet.h.
 *
 * A list is read page by page (maxResults 500, then nextPageToken) until the API
 * gives no token: a class of 30 fits one page, a project's whole fleet may not.
 */
#include "gce-fleet.h"

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
