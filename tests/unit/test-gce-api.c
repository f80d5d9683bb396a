/*
 * test-gce-api.c: the pure parts of the Compute Engine client: the gcloud property
 * precedence, the insert body, quota metric names, the error lines, base64url and
 * the service-account JWT's shape.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "cli.h"
#include "gce.h"
#include "gcloud-config.h"
#include "http.h"

static char dir[] = "/tmp/gg-test-gce-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_config_precedence(void **state)
{
	struct gcloud_config c = GCLOUD_CONFIG_INIT;
	char path[512];
	char *cause = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/configurations", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/active_config", dir);
	write_file(path, "work\n");
	snprintf(path, sizeof path, "%s/configurations/config_work", dir);
	write_file(path, "[core]\nproject = file-project\naccount = a@b\n[compute]\n"
			 "zone = file-zone\nregion = r\n[api_endpoint_overrides]\n"
			 "compute = http://127.0.0.1:1/compute/v1/\n[other]\nx = y\n");
	setenv("CLOUDSDK_CONFIG", dir, 1);
	unsetenv("CLOUDSDK_ACTIVE_CONFIG_NAME");
	unsetenv("CLOUDSDK_CORE_PROJECT");
	setenv("CLOUDSDK_COMPUTE_ZONE", "env-zone", 1);
	assert_int_equal(gcloud_config_load(&c, &cause), 0);
	assert_string_equal(c.name, "work");
	assert_string_equal(c.project, "file-project");
	assert_string_equal(c.zone, "env-zone");
	assert_string_equal(c.compute_endpoint, "http://127.0.0.1:1/compute/v1/");
	assert_null(c.access_token_file);
	gcloud_config_release(&c);

	/* An empty variable unsets, as in gcloud; a broken file is one clear error. */
	setenv("CLOUDSDK_COMPUTE_ZONE", "", 1);
	assert_int_equal(gcloud_config_load(&c, &cause), 0);
	assert_null(c.zone);
	gcloud_config_release(&c);
	write_file(path, "[core\nproject\n");
	assert_int_not_equal(gcloud_config_load(&c, &cause), 0);
	assert_non_null(strstr(cause, "cannot parse"));
	gcloud_config_release(&c);
	free(cause);
	unsetenv("CLOUDSDK_COMPUTE_ZONE");
}

static void test_quota_metric(void **state)
{
	char *m = gce_gpu_quota_metric("nvidia-tesla-t4", 0);

	assert_string_equal(m, "NVIDIA_T4_GPUS");
	free(m);
	m = gce_gpu_quota_metric("nvidia-a100-80gb", 1);
	assert_string_equal(m, "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS");
	free(m);
	/* Not derived from the type name: the quota page's names (issue 20, #3). */
	m = gce_gpu_quota_metric("nvidia-h100-80gb", 0);
	assert_string_equal(m, "NVIDIA_H100_GPUS");
	free(m);
	m = gce_gpu_quota_metric("nvidia-h100-mega-80gb", 1);
	assert_string_equal(m, "PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS");
	free(m);
	m = gce_gpu_quota_metric("nvidia-h200-141gb", 0);
	assert_string_equal(m, "NVIDIA_H200_GPUS");
	free(m);
	assert_null(gce_gpu_quota_metric("nvidia-future-gpu", 0));
}

static void test_machine_type(void **state)
{
	assert_string_equal(gce_machine_type_for("nvidia-l4", 1), "g2-standard-8");
	assert_string_equal(gce_machine_type_for("nvidia-l4", 2), "g2-standard-24");
	assert_string_equal(gce_machine_type_for("nvidia-tesla-t4", 1), "n1-standard-8");
	assert_string_equal(gce_machine_type_for("nvidia-tesla-t4", 4), "n1-standard-32");
	assert_string_equal(gce_machine_type_for("nvidia-tesla-a100", 16), "a2-megagpu-16g");
	assert_string_equal(gce_machine_type_for("nvidia-h200-141gb", 8), "a3-ultragpu-8g");
	/* A count the family does not come in, an unknown type, the K80: none. */
	assert_null(gce_machine_type_for("nvidia-l4", 3));
	assert_null(gce_machine_type_for("nvidia-h100-mega-80gb", 1));
	assert_null(gce_machine_type_for("nvidia-future-gpu", 1));
	assert_null(gce_machine_type_for("nvidia-tesla-k80", 1));
}

static void test_endpoint_and_request_id(void **state)
{
	char id[37], other[37], *u;
	int i;

	u = gce_endpoint_url(NULL);
	assert_string_equal(u, GCE_DEFAULT_ENDPOINT);
	free(u);
	u = gce_endpoint_url("http://127.0.0.1:8080/compute/v1/");
	assert_string_equal(u, "http://127.0.0.1:8080/compute/v1/");
	free(u);
	u = gce_endpoint_url("https://proxy.example/compute/beta");
	assert_string_equal(u, "https://proxy.example/compute/beta/");
	free(u);
	/* A host alone: gcloud appends the API's own path (issue 20, #12). */
	u = gce_endpoint_url("http://127.0.0.1:8080/");
	assert_string_equal(u, "http://127.0.0.1:8080/compute/v1/");
	free(u);
	u = gce_endpoint_url("http://127.0.0.1:8080");
	assert_string_equal(u, "http://127.0.0.1:8080/compute/v1/");
	free(u);
	gce_request_id(id);
	gce_request_id(other);
	assert_int_equal(strlen(id), 36);
	assert_string_not_equal(id, other);
	for (i = 0; i < 36; i++)
		assert_true(i == 8 || i == 13 || i == 18 || i == 23 ? id[i] == '-'
								      : isxdigit((unsigned char)id[i]));
	assert_int_equal(id[14], '4');
	assert_non_null(strchr("89ab", id[19]));
}

static void test_ssh_user(void **state)
{
	char *u;

	/* Kept as it is, as gcloud does (issue 20, #14). */
	setenv("USER", "Student.Name", 1);
	u = gce_ssh_user("someone@example.com");
	assert_string_equal(u, "Student.Name");
	free(u);
	/* Not ASCII: the account's name, as gaia.py maps it. */
	setenv("USER", "j\xc3\xbcrgen", 1);
	u = gce_ssh_user("J.Doe+gpu@example.com");
	assert_string_equal(u, "j_doe_gpu");
	free(u);
	u = gce_ssh_user("9lives@example.com");
	assert_string_equal(u, "g9lives");
	free(u);
	assert_null(gce_ssh_user(NULL));
	unsetenv("USER");
}

static void test_insert_body(void **state)
{
	struct gce g = { .zone = (char *)"europe-west4-a" };
	struct gce_create c = { .name = "vm", .gpu_type = "nvidia-l4", .spot = 1, .disk_gb = 200 };
	json_t *b = gce_insert_body(&g, &c);
	json_t *sched = json_object_get(b, "scheduling"), *params;

	assert_string_equal(json_string_value(json_object_get(b, "machineType")),
			    "zones/europe-west4-a/machineTypes/g2-standard-8");
	assert_string_equal(json_string_value(json_object_get(sched, "onHostMaintenance")),
			    "TERMINATE");
	assert_string_equal(json_string_value(json_object_get(sched, "provisioningModel")), "SPOT");
	params = json_object_get(json_array_get(json_object_get(b, "disks"), 0), "initializeParams");
	assert_string_equal(json_string_value(json_object_get(params, "diskSizeGb")), "200");
	assert_string_equal(gce_metadata_get(json_object_get(b, "metadata"),
					     "enable-guest-attributes"), "TRUE");
	json_decref(b);
}

static void test_error_lines(void **state)
{
	char *cause = NULL;

	assert_int_equal(http_api_error(404, "notFound", "gone", &cause), GG_EXIT_API);
	assert_non_null(strstr(cause, "not found (404): gone"));
	http_api_error(0, "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "full", &cause);
	assert_non_null(strstr(cause, "no capacity"));
	http_api_error(403, "quotaExceeded", "q", &cause);
	assert_non_null(strstr(cause, "quota exceeded"));
	http_api_error(503, NULL, NULL, &cause);
	assert_non_null(strstr(cause, "failed (503)"));
	assert_null(strchr(cause, '\n'));
	free(cause);
}

static void test_base64url_and_jwt(void **state)
{
	char *s = auth_base64url("\xfb\xff", 2), *jwt = NULL, *cause = NULL;

	assert_string_equal(s, "-_8"); /* url alphabet, no padding */
	free(s);
	assert_int_not_equal(auth_service_account_jwt("a@b", NULL, "not a key", "http://t",
						      0, &jwt, &cause), 0);
	assert_non_null(strstr(cause, "not an RSA private key"));
	assert_null(jwt);
	free(cause);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_quota_metric),
		cmocka_unit_test(test_machine_type),
		cmocka_unit_test(test_endpoint_and_request_id),
		cmocka_unit_test(test_ssh_user),
		cmocka_unit_test(test_insert_body),
		cmocka_unit_test(test_error_lines),
		cmocka_unit_test(test_base64url_and_jwt),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
