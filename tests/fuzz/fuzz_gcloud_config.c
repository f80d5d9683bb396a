/*
 * fuzz_gcloud_config.c: reading gcloud's configuration (active_config and the INI
 * file it names) through inih.
 *
 * The input is ACTIVE_CONFIG \0 INI: the first part becomes the active_config file,
 * the rest the configuration file that a name of "default" or "fuzz" would open
 * (both are written).  Asserted: a name with '/' is refused (it would leave the
 * configurations directory); a property read has no newline and is never empty
 * (gcloud treats empty as unset); a refusal has a printable cause; and nothing is
 * written anywhere (the reader only reads).
 *
 * Gate: replay only: the reader works on files in a sandbox, and two seed-1 runs
 * differ (tools/fuzz).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "fuzz_fs.h"
#include "gcloud-config.h"

static void check_value(const char *v)
{
	if (v == NULL)
		return;
	FUZZ_ASSERT(v[0] != '\0');
	/* A line reader: no newline.  Other bytes are the user's own data, which
	 * gce_open checks where it matters (project and zone names). */
	FUZZ_ASSERT(strchr(v, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_sandbox box;
	static const char *const vars[] = {
		"CLOUDSDK_ACTIVE_CONFIG_NAME", "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_CORE_ACCOUNT",
		"CLOUDSDK_COMPUTE_ZONE", "CLOUDSDK_COMPUTE_REGION",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
	};
	struct gcloud_config c = GCLOUD_CONFIG_INIT;
	char path[FUZZ_PATH_MAX];
	const char *sep = memchr(data, '\0', size);
	size_t active_len = sep != NULL ? (size_t)(sep - (const char *)data) : size;
	char *cause = NULL;
	size_t i;
	int r;

	fuzz_sandbox_reset(&box, "gcloud-config");
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("CLOUDSDK_CONFIG", box.work, 1);
	fuzz_path(path, "%s/active_config", box.work);
	fuzz_write_file(path, data, active_len);
	fuzz_path(path, "%s/configurations", box.work);
	FUZZ_ASSERT(mkdir(path, 0700) == 0);
	data += active_len;
	size -= active_len;
	if (size > 0) {
		data++;
		size--;
	}
	fuzz_path(path, "%s/configurations/config_default", box.work);
	fuzz_write_file(path, data, size);
	fuzz_path(path, "%s/configurations/config_fuzz", box.work);
	fuzz_write_file(path, data, size);

	r = gcloud_config_load(&c, &cause);
	if (r != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		free(cause);
	} else {
		FUZZ_ASSERT(c.name != NULL && c.name[0] != '\0' && strchr(c.name, '/') == NULL);
		check_value(c.project);
		check_value(c.account);
		check_value(c.zone);
		check_value(c.region);
		check_value(c.compute_endpoint);
		check_value(c.access_token_file);
	}
	gcloud_config_release(&c);
	fuzz_sandbox_check_outside(&box);
	FUZZ_ASSERT(fuzz_count_entries(box.work) == 2); /* active_config, configurations */
	return 0;
}
