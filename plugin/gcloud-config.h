/*
 * gcloud-config.h: the gcloud properties gcloud-gpu reads, resolved the way gcloud does.
 *
 * A user who ran `gcloud init` has a project, an account and a zone in gcloud's own
 * configuration; gcloud-gpu reads the same files so that nothing has to be typed twice.
 * Precedence, lowest first:
 *   1. $CLOUDSDK_CONFIG (default ~/.config/gcloud)/configurations/config_NAME, where
 *      NAME is $CLOUDSDK_ACTIVE_CONFIG_NAME, else the contents of `active_config`,
 *      else "default" (INI, parsed with inih; a missing file is an empty one);
 *   2. environment variables CLOUDSDK_<SECTION>_<NAME> (CLOUDSDK_CORE_PROJECT, ...);
 *   3. command-line flags, which the caller applies on top (gce.c does).
 *
 * Steps for a caller:
 *   struct gcloud_config c = GCLOUD_CONFIG_INIT;
 *   if (gcloud_config_load(&c, &cause) != 0) ... fail with cause
 *   use c.project, c.zone ... (NULL when unset; owned by c)
 *   gcloud_config_release(&c);
 */
#ifndef GG_GCLOUD_CONFIG_H
#define GG_GCLOUD_CONFIG_H

struct gcloud_config {
	char *dir;               /* the configuration directory itself */
	char *name;              /* the active configuration's name */
	char *project;           /* core/project */
	char *account;           /* core/account */
	char *zone;              /* compute/zone */
	char *region;            /* compute/region */
	char *compute_endpoint;  /* api_endpoint_overrides/compute */
	char *access_token_file; /* auth/access_token_file */
	char *impersonate;       /* auth/impersonate_service_account */
};

#define GCLOUD_CONFIG_INIT { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/*
 * Read the active configuration and the environment into c.  Returns 0, or
 * GG_EXIT_ERROR with *cause set when a configuration file exists but cannot be read
 * or parsed (a missing one is not an error: gcloud treats it as empty).
 */
int gcloud_config_load(struct gcloud_config *c, char **cause);

void gcloud_config_release(struct gcloud_config *c);

/* The configuration directory: $CLOUDSDK_CONFIG, else ~/.config/gcloud; malloc'd. */
char *gcloud_config_dir(void);

#endif
