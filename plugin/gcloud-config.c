/*
 * gcloud-config.c: gcloud's properties, from its configuration files and environment.
 *
 * One table names the properties gcloud-gpu uses; the INI reader (inih) and the
 * environment overrides both walk it, so a property is added in one place.
 */
#include "gcloud-config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "xmalloc.h"

static const struct property {
	const char *section;
	const char *name;
	size_t offset;
} properties[] = {
	{ "core", "project", offsetof(struct gcloud_config, project) },
	{ "core", "account", offsetof(struct gcloud_config, account) },
	{ "compute", "zone", offsetof(struct gcloud_config, zone) },
	{ "compute", "region", offsetof(struct gcloud_config, region) },
	{ "api_endpoint_overrides", "compute", offsetof(struct gcloud_config, compute_endpoint) },
	{ "auth", "access_token_file", offsetof(struct gcloud_config, access_token_file) },
	{ "auth", "impersonate_service_account", offsetof(struct gcloud_config, impersonate) },
};

#define PROPERTY_COUNT (sizeof properties / sizeof properties[0])

static char **property_slot(struct gcloud_config *c, const struct property *p)
{
	return (char **)((char *)c + p->offset);
}

static void property_set(struct gcloud_config *c, const struct property *p, const char *value)
{
	char **slot = property_slot(c, p);

	free(*slot);
	/* gcloud treats an empty value as unset ("gcloud config set core/project ''"). */
	*slot = value[0] != '\0' ? xstrdup(value) : NULL;
}

char *gcloud_config_dir(void)
{
	const char *env = getenv("CLOUDSDK_CONFIG"), *home = getenv("HOME");
	char *dir;

	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	xasprintf(&dir, "%s/.config/gcloud", home != NULL ? home : ".");
	return dir;
}

/* The active configuration's name: the environment, the active_config file, "default". */
static char *active_name(const char *dir)
{
	const char *env = getenv("CLOUDSDK_ACTIVE_CONFIG_NAME");
	char *path, line[256] = "";
	FILE *f;
	size_t n;

	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	xasprintf(&path, "%s/active_config", dir);
	f = fopen(path, "r");
	free(path);
	if (f != NULL) {
		if (fgets(line, sizeof line, f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	n = strcspn(line, "\r\n \t");
	line[n] = '\0';
	return xstrdup(line[0] != '\0' ? line : "default");
}

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
	struct gcloud_config *c = user;
	size_t i;

	for (i = 0; i < PROPERTY_COUNT; i++)
		if (strcmp(properties[i].section, section) == 0 &&
		    strcmp(properties[i].name, name) == 0)
			property_set(c, &properties[i], value);
	return 1; /* gcloud has many more properties: skip what we do not use */
}

/* CLOUDSDK_<SECTION>_<NAME>, upper case, as gcloud spells its overrides. */
static void apply_environment(struct gcloud_config *c)
{
	const char *value;
	char *var, *s;
	size_t i;

	for (i = 0; i < PROPERTY_COUNT; i++) {
		xasprintf(&var, "CLOUDSDK_%s_%s", properties[i].section, properties[i].name);
		for (s = var; *s != '\0'; s++)
			*s = (char)toupper((unsigned char)*s);
		value = getenv(var);
		if (value != NULL)
			property_set(c, &properties[i], value);
		free(var);
	}
}

int gcloud_config_load(struct gcloud_config *c, char **cause)
{
	char *path = NULL;
	FILE *f;
	int line, r;

	c->dir = gcloud_config_dir();
	c->name = active_name(c->dir);
	if (strchr(c->name, '/') != NULL) {
		r = gg_fail(cause, GG_EXIT_USAGE, "bad gcloud configuration name '%s'", c->name);
		goto out;
	}
	xasprintf(&path, "%s/configurations/config_%s", c->dir, c->name);
	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot open '%s'", path);
		goto out;
	}
	if (f != NULL) {
		line = ini_parse_file(f, on_ini_value, c);
		fclose(f);
		if (line != 0) {
			r = gg_fail(cause, GG_EXIT_ERROR,
				    "cannot parse '%s' at line %d: fix or remove the line", path, line);
			goto out;
		}
	}
	apply_environment(c);
	r = 0;
out:
	free(path);
	return r;
}

void gcloud_config_release(struct gcloud_config *c)
{
	size_t i;

	for (i = 0; i < PROPERTY_COUNT; i++) {
		free(*property_slot(c, &properties[i]));
		*property_slot(c, &properties[i]) = NULL;
	}
	free(c->dir);
	free(c->name);
	c->dir = c->name = NULL;
}
