/*
 * config-dump.c: what gcloud-gpu reads from gcloud's configuration, as one JSON object,
 * for t3005 to hold against `gcloud config list --format=json` (tests only).
 *
 * It prints the properties gcloud_config_load resolved (configuration file, then
 * CLOUDSDK_* variables) under gcloud's own section/name keys, the active configuration's
 * name, and the API base URL gce_endpoint_url makes of api_endpoint_overrides/compute.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "gce.h"
#include "gcloud-config.h"

static json_t *string_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int main(void)
{
	struct gcloud_config c = GCLOUD_CONFIG_INIT;
	char *cause = NULL, *endpoint;
	json_t *out;
	int r;

	if ((r = gcloud_config_load(&c, &cause)) != 0) {
		fprintf(stderr, "config-dump: %s\n", cause);
		free(cause);
		return r;
	}
	endpoint = gce_endpoint_url(c.compute_endpoint);
	out = json_pack("{s:o, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:o}, s:{s:o, s:o}, s:s}",
			"configuration", string_or_null(c.name),
			"core", "project", string_or_null(c.project), "account",
			string_or_null(c.account),
			"compute", "zone", string_or_null(c.zone), "region", string_or_null(c.region),
			"api_endpoint_overrides", "compute", string_or_null(c.compute_endpoint),
			"auth", "access_token_file", string_or_null(c.access_token_file),
			"impersonate_service_account", string_or_null(c.impersonate),
			"effective_endpoint", endpoint);
	json_dumpf(out, stdout, JSON_SORT_KEYS | JSON_INDENT(1));
	putchar('\n');
	json_decref(out);
	free(endpoint);
	gcloud_config_release(&c);
	return 0;
}
