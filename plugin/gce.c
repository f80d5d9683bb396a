/*
 * gce.c: the Compute Engine calls of gce.h over the one HTTP client (http.c).
 *
 * Paths are built from the project and zone we resolved, never from links in answers,
 * so a response recorded from www.googleapis.com works against any endpoint.
 */
#include "gce.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cli.h"
#include "error.h"
#include "gce-fleet.h"
#include "xmalloc.h"

#define METADATA_TRIES 5

int gce_option(struct gce_options *o, int opt, const char *arg)
{
	switch (opt) {
	case GCE_OPT_PROJECT:
		o->project = arg;
		return 1;
	case GCE_OPT_ZONE:
		o->zone = arg;
		return 1;
	case GCE_OPT_ACCESS_TOKEN_FILE:
		o->access_token_file = arg;
		return 1;
	case GCE_OPT_INTERNAL_IP:
		o->internal_ip = 1;
		return 1;
	}
	return 0;
}

int gce_parse_instance_args(int argc, char **argv, struct gce_options *o, const char **name,
			    int *yes, char **cause)
{
	static const struct option options[] = {
		GCE_LONG_OPTIONS,
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "y", options, NULL)) != -1) {
		if (gce_option(o, opt, optarg))
			continue;
		if (opt == 'y' && yes != NULL) {
			*yes = 1;
			continue;
		}
		return gg_fail(cause, GG_EXIT_USAGE, "'%s': unknown option '%s' (see gcloud-gpu "
			       "help %s)", argv[0], argv[optind - 1], argv[0]);
	}
	if (optind + 1 != argc)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' takes one instance name (see "
			       "gcloud-gpu help %s)", argv[0], argv[0]);
	*name = argv[optind];
	return 0;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	fputs("gcloud-gpu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The last segment of a link ("https://.../zones/us-central1-a" -> "us-central1-a"). */
static const char *last_segment(const char *link)
{
	const char *slash = link != NULL ? strrchr(link, '/') : NULL;

	return slash != NULL ? slash + 1 : link;
}

/*
 * Names go into URL paths: accept what Compute Engine accepts, nothing that escapes.
 * The first character must be a letter or digit, so "." and ".." (a zone link ending
 * in "/..", found by fuzz_gce) never become a path segment.
 */
static int name_valid(const char *s)
{
	if (s == NULL || !isalnum((unsigned char)s[0]) || strlen(s) > 63)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.' && *s != ':')
			return 0;
	return 1;
}

char *gce_endpoint_url(const char *override)
{
	const char *scheme_end, *path = NULL;
	char *url;

	if (override == NULL || override[0] == '\0')
		return xstrdup(GCE_DEFAULT_ENDPOINT);
	scheme_end = strstr(override, "://");
	if (scheme_end != NULL)
		path = strchr(scheme_end + 3, '/');
	/* gcloud (apis_internal.py _BuildEndpointOverride): a host alone, path "/", means
	 * the API's own path on that host; any other path is the whole prefix. */
	if (scheme_end != NULL && (path == NULL || strcmp(path, "/") == 0))
		xasprintf(&url, "%s%scompute/v1/", override, path == NULL ? "/" : "");
	else
		xasprintf(&url, "%s%s", override, override[strlen(override) - 1] == '/' ? "" : "/");
	return url;
}

int gce_open(struct gce *g, const struct gce_options *o, char **cause)
{
	int r;

	memset(g, 0, sizeof *g);
	if ((r = gcloud_config_load(&g->config, cause)) != 0)
		return r;
	g->project = xstrdup(o->project ? o->project : g->config.project ? g->config.project : "");
	g->zone = xstrdup(o->zone ? o->zone : g->config.zone ? g->config.zone : "");
	/* All that is missing at once, and the one command that sets both. */
	if (g->project[0] == '\0' && g->zone[0] == '\0')
		return gg_fail(cause, GG_EXIT_USAGE, "no project and no zone: run 'gcloud init' (or "
			       "pass --project PROJECT --zone ZONE)");
	if (g->project[0] == '\0')
		return gg_fail(cause, GG_EXIT_USAGE, "no project: pass --project or run 'gcloud "
			       "config set project PROJECT' (or 'gcloud init')");
	if (g->zone[0] == '\0')
		return gg_fail(cause, GG_EXIT_USAGE, "no zone: pass --zone or run 'gcloud config "
			       "set compute/zone ZONE' (or 'gcloud init')");
	if (!name_valid(g->project) || !name_valid(g->zone))
		return gg_fail(cause, GG_EXIT_USAGE, "bad project '%s' or zone '%s'", g->project,
			       g->zone);
	g->endpoint = gce_endpoint_url(g->config.compute_endpoint);
	g->auth_options.access_token_flag = o->access_token_file;
	g->auth_options.access_token_file = g->config.access_token_file;
	g->auth_options.impersonate = g->config.impersonate;
	g->auth_options.config_dir = g->config.dir;
	return auth_access_token(&g->auth_options, &g->auth, cause);
}

void gce_close(struct gce *g)
{
	gcloud_config_release(&g->config);
	free(g->project);
	free(g->zone);
	free(g->endpoint);
	auth_token_release(&g->auth);
	memset(g, 0, sizeof *g);
}

int gce_call(struct gce *g, const char *method, const char *path, json_t *body,
	     struct http_response *rs, char **cause)
{
	struct http_request rq = { .method = method, .json = body };
	char *url;
	int r, tries;

	xasprintf(&url, "%s%s", g->endpoint, path);
	rq.url = url;
	for (tries = 1;; tries++) {
		rq.bearer = g->auth.value;
		r = http_call(&rq, rs, cause);
		if (r == 0 || rs->status != 401 || g->auth.source == NULL)
			break;
		if (tries == 2) {
			gg_fail(cause, GG_EXIT_API, "Google refused the credentials (401) from %s: "
				"%s", g->auth.source, g->auth.fix);
			break;
		}
		/* Revoked or expired early: ask the source again once, never the cache. */
		free(*cause);
		*cause = NULL;
		auth_token_forget(&g->auth);
		if ((r = auth_access_token(&g->auth_options, &g->auth, cause)) != 0)
			break;
	}
	free(url);
	return r;
}

void gce_request_id(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof b) {
		n = getrandom(b + got, sizeof b - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort(); /* no kernel randomness: nothing sensible is left to do */
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (i = 0; i < 16; i++)
		sprintf(out + 2 * i + (i >= 4) + (i >= 6) + (i >= 8) + (i >= 10), "%02x", b[i]);
	out[8] = out[13] = out[18] = out[23] = '-';
	out[36] = '\0';
}

/* GET path into *out; on failure the cause is prefixed with what. */
static int get_json(struct gce *g, const char *path, const char *what, json_t **out,
		    char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	int r;

	r = gce_call(g, "GET", path, NULL, &rs, cause);
	if (r == 0 && !json_is_object(rs.body))
		r = gg_fail(cause, GG_EXIT_API, "the API answered no JSON object");
	if (r != 0) {
		gg_fail_wrap(cause, r, "cannot get %s", what);
		http_response_release(&rs);
		return r;
	}
	*out = rs.body;
	return 0;
}

int gce_instance_get(struct gce *g, const char *name, json_t **instance, char **cause)
{
	char *path, *what;
	int r;

	if (!name_valid(name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad instance name '%s'", name);
	xasprintf(&path, "projects/%s/zones/%s/instances/%s", g->project, g->zone, name);
	xasprintf(&what, "instance '%s' in project '%s', zone '%s'", name, g->project, g->zone);
	r = get_json(g, path, what, instance, cause);
	free(path);
	free(what);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* How many polls fit in about ten minutes at the base delay. */
static long poll_limit(void)
{
	long base = http_base_delay_ms();

	return base > 0 ? 600000 / base : 600000;
}

int gce_operation_wait(struct gce *g, json_t *operation, char **cause)
{
	json_t *op = json_incref(operation), *first;
	const char *name, *zone, *region, *status;
	char *path = NULL;
	long polls;
	int r;

	name = json_string_value(json_object_get(op, "name"));
	if (!name_valid(name)) {
		r = gg_fail(cause, GG_EXIT_API, "the API answered no operation name");
		goto out;
	}
	zone = last_segment(json_string_value(json_object_get(op, "zone")));
	region = last_segment(json_string_value(json_object_get(op, "region")));
	/* A regional bulkInsert answers a region's operation. */
	if (zone == NULL && name_valid(region))
		xasprintf(&path, "projects/%s/regions/%s/operations/%s", g->project, region, name);
	else
		xasprintf(&path, "projects/%s/zones/%s/operations/%s", g->project,
			  name_valid(zone) ? zone : g->zone, name);
	for (polls = 0;; polls++) {
		status = json_string_value(json_object_get(op, "status"));
		if (status != NULL && strcmp(status, "DONE") == 0)
			break;
		if (polls >= poll_limit()) {
			r = gg_fail(cause, GG_EXIT_API, "operation '%s' is not done after 10 "
				    "minutes: see 'gcloud compute operations describe %s'", name, name);
			goto out;
		}
		sleep_ms(http_base_delay_ms());
		json_decref(op);
		op = NULL;
		if ((r = get_json(g, path, "the operation", &op, cause)) != 0)
			goto out;
	}
	first = json_array_get(json_object_get(json_object_get(op, "error"), "errors"), 0);
	if (first != NULL) {
		r = http_api_error(0, json_string_value(json_object_get(first, "code")),
				   json_string_value(json_object_get(first, "message")), cause);
		goto out;
	}
	r = 0;
out:
	json_decref(op);
	free(path);
	return r;
}

int gce_mutate(struct gce *g, const char *method, const char *path, json_t *body,
	       struct http_response *rs, char **cause)
{
	char id[37], *with_id;
	int r;

	/* One id for every attempt of this call: a retry after a lost answer then finds
	 * the first request's operation instead of a 409 for a VM that already bills. */
	gce_request_id(id);
	xasprintf(&with_id, "%s%srequestId=%s", path, strchr(path, '?') ? "&" : "?", id);
	r = gce_call(g, method, with_id, body, rs, cause);
	if (r == 0)
		r = gce_operation_wait(g, rs->body, cause);
	free(with_id);
	return r;
}

int gce_instance_action(struct gce *g, const char *name, const char *action, char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	char *path;
	int r;

	if (!name_valid(name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad instance name '%s'", name);
	xasprintf(&path, "projects/%s/zones/%s/instances/%s/%s", g->project, g->zone, name,
		  action);
	r = gce_mutate(g, "POST", path, NULL, &rs, cause);
	if (r != 0)
		gg_fail_wrap(cause, r, "cannot %s '%s'", action, name);
	http_response_release(&rs);
	free(path);
	return r;
}

int gce_instance_delete(struct gce *g, const char *name, char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	char *path;
	int r;

	if (!name_valid(name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad instance name '%s'", name);
	xasprintf(&path, "projects/%s/zones/%s/instances/%s", g->project, g->zone, name);
	r = gce_mutate(g, "DELETE", path, NULL, &rs, cause);
	if (r != 0)
		gg_fail_wrap(cause, r, "cannot delete '%s'", name);
	http_response_release(&rs);
	free(path);
	return r;
}

int gce_ensure_running(struct gce *g, const char *name, json_t **instance, int *started,
		       char **cause)
{
	const char *status;
	json_t *inst = NULL;
	long polls;
	int r;

	if (started != NULL)
		*started = 0;
	for (polls = 0; polls < poll_limit(); polls++) {
		if ((r = gce_instance_get(g, name, &inst, cause)) != 0)
			return r;
		status = json_string_value(json_object_get(inst, "status"));
		if (status == NULL)
			status = "UNKNOWN";
		if (strcmp(status, "RUNNING") == 0) {
			*instance = inst;
			return 0;
		}
		if (strcmp(status, "TERMINATED") == 0 || strcmp(status, "SUSPENDED") == 0) {
			int resume = strcmp(status, "SUSPENDED") == 0;

			note("'%s' is %s: %s it", name, resume ? "suspended" : "stopped",
			     resume ? "resuming" : "starting");
			r = gce_instance_action(g, name, resume ? "resume" : "start", cause);
			if (r != 0)
				goto fail;
			if (started != NULL)
				*started = 1;
		} else if (strcmp(status, "REPAIRING") == 0) {
			r = gg_fail(cause, GG_EXIT_API, "'%s' is being repaired by Compute Engine: "
				    "try again in a few minutes", name);
			goto fail;
		} else {
			/* PROVISIONING, STAGING, STOPPING, SUSPENDING: wait for it to settle. */
			sleep_ms(http_base_delay_ms());
		}
		json_decref(inst);
		inst = NULL;
	}
	r = gg_fail(cause, GG_EXIT_API, "'%s' did not reach RUNNING in 10 minutes: see "
		    "'gcloud compute instances describe %s'", name, name);
fail:
	json_decref(inst);
	return r;
}

const char *gce_metadata_get(json_t *metadata, const char *key)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(metadata, "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));

		if (k != NULL && strcmp(k, key) == 0)
			return json_string_value(json_object_get(item, "value"));
	}
	return NULL;
}

/* A failure that is retried is no failure: drop its cause, or a success would leak it. */
static void forget_cause(char **cause)
{
	if (cause != NULL) {
		free(*cause);
		*cause = NULL;
	}
}

/*
 * A metadata boolean: gcloud compares value.lower() with "true" (ssh.py
 * MetadataHasEnable); the guest agent parses with Go's strconv.ParseBool ("1", "t",
 * "T", "TRUE", "true", "True").  Either reading that says on is on.
 */
static int is_true(const char *v)
{
	return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
			     strcasecmp(v, "t") == 0);
}

int gce_metadata_flag(json_t *instance, json_t *project, const char *key)
{
	const char *v = gce_metadata_get(json_object_get(instance, "metadata"), key);

	if (v == NULL)
		v = gce_metadata_get(json_object_get(project, "commonInstanceMetadata"), key);
	return is_true(v);
}

int gce_oslogin_check(json_t *instance, json_t *project, char **cause)
{
	const char *name = json_string_value(json_object_get(instance, "name"));

	if (!gce_metadata_flag(instance, project, "enable-oslogin"))
		return 0;
	return gg_fail(cause, GG_EXIT_API, "OS Login is enabled for '%s', so metadata keys are "
		       "ignored: run 'gcloud compute os-login ssh-keys add --key-file="
		       "~/.ssh/google_compute_engine.pub' and log in as your OS Login user, or set "
		       "metadata enable-oslogin=FALSE on the instance", name != NULL ? name : "?");
}

/* An IPv4 or IPv6 address in its usual text form, and nothing else. */
static int ip_address_valid(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

const char *gce_instance_address(json_t *instance, int internal)
{
	json_t *nic, *ac;
	size_t i, j;

	json_array_foreach(json_object_get(instance, "networkInterfaces"), i, nic) {
		if (internal)
			return json_string_value(json_object_get(nic, "networkIP"));
		json_array_foreach(json_object_get(nic, "accessConfigs"), j, ac) {
			const char *ip = json_string_value(json_object_get(ac, "natIP"));

			if (ip != NULL && ip[0] != '\0')
				return ip;
		}
	}
	return NULL;
}

/* --- SSH keys in metadata ---------------------------------------------------------- */

/*
 * An RFC 3339 / ISO 8601 time ("2026-11-30T12:00:00+0000", "...:00.351-08:00", "...Z")
 * as seconds since the epoch; -1 when it is not one.
 */
static time_t parse_time(const char *s)
{
	struct tm tm;
	const char *rest;
	int sign, hh = 0, mm = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || (rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*rest == '.')
		while (isdigit((unsigned char)*++rest))
			;
	t = timegm(&tm);
	if (*rest == 'Z' || *rest == 'z' || *rest == '\0')
		return t;
	if (*rest != '+' && *rest != '-')
		return -1;
	sign = *rest == '-' ? -1 : 1;
	if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2 && sscanf(rest + 1, "%2d%2d", &hh, &mm) != 2)
		return -1;
	return t - sign * (hh * 3600 + mm * 60);
}

/*
 * Has an ssh-keys line "user:TYPE BLOB google-ssh {... "expireOn": "..."}" expired?
 * As gcloud (ssh_utils.py _SSHKeyExpiration): a line without a readable expireOn never
 * expires.
 */
static int key_line_expired(const char *line)
{
	const char *json = strstr(line, " google-ssh {");
	time_t when;
	json_t *j;

	if (json == NULL)
		return 0;
	j = json_loads(json + strlen(" google-ssh "), 0, NULL);
	when = parse_time(json_string_value(json_object_get(j, "expireOn")));
	json_decref(j);
	return when != -1 && when < time(NULL);
}

/* Does an ssh-keys value hold an unexpired "user:TYPE BLOB ..." for this user and blob? */
static int keys_hold(const char *value, const char *user, const char *type, const char *blob)
{
	char *copy, *line, *save = NULL, *colon;
	int found = 0;

	if (value == NULL)
		return 0;
	copy = xstrdup(value);
	for (line = strtok_r(copy, "\n", &save); line != NULL && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char t[64], b[8192];

		colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		if (strcmp(line, user) != 0)
			continue;
		if (sscanf(colon + 1, "%63s %8191s", t, b) == 2 && strcmp(t, type) == 0 &&
		    strcmp(b, blob) == 0 && !key_line_expired(colon + 1))
			found = 1;
	}
	free(copy);
	return found;
}

static int metadata_holds(json_t *metadata, const char *user, const char *type,
			  const char *blob)
{
	return keys_hold(gce_metadata_get(metadata, "ssh-keys"), user, type, blob) ||
	       keys_hold(gce_metadata_get(metadata, "sshKeys"), user, type, blob);
}

/*
 * metadata's items with ssh-keys extended by line, its expired google-ssh lines left
 * out (gcloud's _PrepareSSHKeysValue drops them on every write too); a new object.
 */
static json_t *metadata_with_key(json_t *metadata, const char *line)
{
	json_t *items = json_array(), *item, *body;
	const char *old = gce_metadata_get(metadata, "ssh-keys");
	struct gg_buf kept = GG_BUF_INIT;
	char *copy, *l, *save = NULL;
	size_t i;

	json_array_foreach(json_object_get(metadata, "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));

		if (k == NULL || strcmp(k, "ssh-keys") != 0)
			json_array_append(items, item);
	}
	copy = xstrdup(old != NULL ? old : "");
	for (l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		if (!key_line_expired(l))
			gg_buf_addf(&kept, "%s\n", l);
	free(copy);
	gg_buf_addstr(&kept, line);
	json_array_append_new(items, json_pack("{s:s, s:s}", "key", "ssh-keys", "value", kept.data));
	gg_buf_release(&kept);
	body = json_pack("{s:o}", "items", items);
	item = json_object_get(metadata, "fingerprint");
	if (item != NULL)
		json_object_set(body, "fingerprint", item);
	return body;
}

int gce_ssh_key_ensure(struct gce *g, json_t *instance, const char *user,
		       const char *public_key, int *added, char **cause)
{
	const char *name = json_string_value(json_object_get(instance, "name"));
	json_t *inst = json_incref(instance), *project = NULL, *body = NULL;
	struct http_response rs = HTTP_RESPONSE_INIT;
	char type[64], blob[8192], *line = NULL, *path = NULL, *project_path = NULL;
	int tries, r;

	*added = 0;
	if (!name_valid(name)) {
		r = gg_fail(cause, GG_EXIT_API, "the API gave no valid instance name");
		goto out;
	}
	if (sscanf(public_key, "%63s %8191s", type, blob) != 2) {
		r = gg_fail(cause, GG_EXIT_ERROR, "bad public key: expected 'TYPE BASE64 COMMENT'");
		goto out;
	}
	xasprintf(&project_path, "projects/%s", g->project);
	if ((r = get_json(g, project_path, "the project's metadata", &project, cause)) != 0)
		goto out;
	if ((r = gce_oslogin_check(inst, project, cause)) != 0)
		goto out;
	/* The guest agent skips project keys when the instance blocks them, and reads a
	 * legacy instance sshKeys entry as such a block (guest-agent accounts). */
	if (!is_true(gce_metadata_get(json_object_get(inst, "metadata"), "block-project-ssh-keys")) &&
	    gce_metadata_get(json_object_get(inst, "metadata"), "sshKeys") == NULL &&
	    metadata_holds(json_object_get(project, "commonInstanceMetadata"), user, type, blob)) {
		r = 0;
		goto out;
	}
	/* As gcloud (ssh_utils.py _AddSSHKeyToMetadataMessage): "USER:" and the .pub line
	 * as it is, its own comment kept. */
	xasprintf(&line, "%s:%s", user, public_key);
	line[strcspn(line, "\r\n")] = '\0';
	xasprintf(&path, "projects/%s/zones/%s/instances/%s/setMetadata", g->project, g->zone,
		  name);
	for (tries = 1;; tries++) {
		json_t *metadata = json_object_get(inst, "metadata");

		if (metadata_holds(metadata, user, type, blob)) {
			r = 0;
			goto out;
		}
		json_decref(body);
		body = metadata_with_key(metadata, line);
		r = gce_mutate(g, "POST", path, body, &rs, cause);
		if (r == 0)
			break;
		/* Someone changed the metadata since we read it: read again and redo. */
		if ((rs.status != 412 && rs.status != 409) || tries >= METADATA_TRIES) {
			gg_fail_wrap(cause, r, "cannot add the SSH key to '%s'", name);
			goto out;
		}
		http_response_release(&rs);
		forget_cause(cause);
		json_decref(inst);
		inst = NULL;
		if ((r = gce_instance_get(g, name, &inst, cause)) != 0)
			goto out;
	}
	*added = 1;
	r = 0;
out:
	http_response_release(&rs);
	json_decref(body);
	json_decref(inst);
	json_decref(project);
	free(line);
	free(path);
	free(project_path);
	return r;
}

/* --- host keys from guest attributes ----------------------------------------------- */

/* known_hosts without the lines for alias, plus lines; unchanged files are kept. */
static int known_hosts_rewrite(const char *path, const char *alias, const char *lines,
			       char **cause)
{
	struct gg_buf next = GG_BUF_INIT;
	char *old = NULL, *tmp = NULL, *line, *save = NULL;
	size_t alias_len = strlen(alias);
	FILE *f;
	int fd, r;

	f = fopen(path, "r");
	if (f != NULL) {
		struct gg_buf b = GG_BUF_INIT;
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			gg_buf_add(&b, chunk, n);
		fclose(f);
		old = gg_buf_detach(&b, NULL);
	} else if (errno != ENOENT) {
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read '%s'", path);
	}
	if (old != NULL) {
		char *copy = xstrdup(old);

		for (line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			if (!(strncmp(line, alias, alias_len) == 0 && line[alias_len] == ' '))
				gg_buf_addf(&next, "%s\n", line);
		free(copy);
	}
	gg_buf_addstr(&next, lines);
	if (old != NULL && strcmp(old, next.data) == 0) {
		r = 0;
		goto out;
	}
	xasprintf(&tmp, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, next.data, next.len) != (ssize_t)next.len || fsync(fd) != 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot write '%s'", tmp);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot replace '%s'", path);
		unlink(tmp);
		goto out;
	}
	r = 0;
out:
	gg_buf_release(&next);
	free(old);
	free(tmp);
	return r;
}

/*
 * known_hosts_rewrite under an exclusive lock on "<path>.lock": pushes to many VMs run
 * at once (fleet.c), and two read-modify-writes of the shared file would otherwise
 * lose one VM's keys.
 */
static int known_hosts_replace(const char *path, const char *alias, const char *lines,
			       char **cause)
{
	char *lock_path;
	int lock, r;

	xasprintf(&lock_path, "%s.lock", path);
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) != 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot lock '%s'", lock_path);
		goto out;
	}
	r = known_hosts_rewrite(path, alias, lines, cause);
out:
	if (lock >= 0)
		close(lock);
	free(lock_path);
	return r;
}

/* Host key types and blobs are base64 and short names: nothing else reaches the file. */
static int host_key_valid(const char *type, const char *blob)
{
	const char *s;

	if (type == NULL || blob == NULL || type[0] == '\0' || blob[0] == '\0')
		return 0;
	for (s = type; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '@')
			return 0;
	for (s = blob; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '+' && *s != '/' && *s != '=')
			return 0;
	return 1;
}

int gce_host_keys_update(struct gce *g, json_t *instance, json_t *project,
			 const char *known_hosts, int wait, int *published, char **cause)
{
	const char *name = json_string_value(json_object_get(instance, "name"));
	const char *id = json_string_value(json_object_get(instance, "id"));
	struct http_response rs = HTTP_RESPONSE_INIT;
	struct gg_buf lines = GG_BUF_INIT;
	char *path = NULL, *alias = NULL;
	json_t *item;
	size_t i;
	int tries, r;

	*published = 0;
	if (!name_valid(name) || !name_valid(id)) {
		r = gg_fail(cause, GG_EXIT_API, "the API gave no valid name and id for the instance");
		goto out;
	}
	/* The instance's setting, else the project's (ssh_utils.py falls back the same). */
	if (!gce_metadata_flag(instance, project, "enable-guest-attributes")) {
		r = 0;
		goto out;
	}
	xasprintf(&path, "projects/%s/zones/%s/instances/%s/getGuestAttributes?queryPath=hostkeys%%2F",
		  g->project, g->zone, name);
	/* A VM that just booted publishes its keys some seconds after sshd starts (its
	 * guest agent first); one that has run a while has published them or never will. */
	for (tries = 1;; tries++) {
		r = gce_call(g, "GET", path, NULL, &rs, cause);
		if (r == 0 || rs.status != 404 || !wait || tries >= GCE_HOST_KEY_TRIES)
			break;
		http_response_release(&rs);
		forget_cause(cause);
		sleep_ms(http_base_delay_ms() << (tries < 4 ? tries - 1 : 3));
	}
	if (r != 0 && rs.status == 404) {
		forget_cause(cause); /* no guest attributes: not an error */
		r = 0;
		goto out;
	}
	if (r != 0) {
		gg_fail_wrap(cause, r, "cannot read the host keys of '%s'", name);
		goto out;
	}
	xasprintf(&alias, "compute.%s", id);
	json_array_foreach(json_object_get(json_object_get(rs.body, "queryValue"), "items"), i,
			   item) {
		const char *ns = json_string_value(json_object_get(item, "namespace"));
		const char *type = json_string_value(json_object_get(item, "key"));
		const char *blob = json_string_value(json_object_get(item, "value"));

		if (ns == NULL || strcmp(ns, "hostkeys") != 0 || !host_key_valid(type, blob))
			continue;
		gg_buf_addf(&lines, "%s %s %s\n", alias, type, blob);
	}
	if (lines.len == 0) {
		r = 0;
		goto out;
	}
	if ((r = known_hosts_replace(known_hosts, alias, lines.data, cause)) != 0)
		goto out;
	*published = 1;
	r = 0;
out:
	http_response_release(&rs);
	gg_buf_release(&lines);
	free(path);
	free(alias);
	return r;
}

/* Does known_hosts hold a line for alias (keys the VM published before)? */
static int alias_pinned(const char *known_hosts, const char *alias)
{
	FILE *f = fopen(known_hosts, "r");
	char line[16384];
	size_t len = strlen(alias);
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strncmp(line, alias, len) == 0 && line[len] == ' ';
	fclose(f);
	return found;
}

/* --- creating a GPU VM ------------------------------------------------------------- */

static int plain_word(const char *s);

/*
 * Tried in order when the user names no GPU: current, cheap and widely offered first.
 * The K80 reached its end of life (May 2024) and is never picked; P4/P100 only where
 * nothing newer is offered.
 */
static const char *const gpu_preference[] = {
	"nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100", "nvidia-tesla-p100",
	"nvidia-tesla-p4", "nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb", NULL,
};

#define GPU_COUNTS 5

/*
 * Each GPU type's regional quota metric (the names on Compute Engine's "GPU quota"
 * page: they are not derived from the type, e.g. nvidia-h100-80gb is NVIDIA_H100_GPUS)
 * and the machine type for each GPU count it comes in.  N1 GPUs attach to any N1
 * machine: 8 vCPUs a GPU.  L4 (G2), A100 (A2) and H100/H200 (A3) come built into their
 * accelerator-optimized machine types (the GPU machine types page).
 */
static const struct gpu_model {
	const char *type;
	const char *quota;
	struct {
		int count;
		const char *machine;
	} machines[GPU_COUNTS];
} gpu_models[] = {
	{ "nvidia-tesla-t4", "NVIDIA_T4_GPUS",
	  { { 1, "n1-standard-8" }, { 2, "n1-standard-16" }, { 4, "n1-standard-32" } } },
	{ "nvidia-l4", "NVIDIA_L4_GPUS",
	  { { 1, "g2-standard-8" }, { 2, "g2-standard-24" }, { 4, "g2-standard-48" },
	    { 8, "g2-standard-96" } } },
	{ "nvidia-tesla-v100", "NVIDIA_V100_GPUS",
	  { { 1, "n1-standard-8" }, { 2, "n1-standard-16" }, { 4, "n1-standard-32" },
	    { 8, "n1-standard-64" } } },
	{ "nvidia-tesla-p100", "NVIDIA_P100_GPUS",
	  { { 1, "n1-standard-8" }, { 2, "n1-standard-16" }, { 4, "n1-standard-32" } } },
	{ "nvidia-tesla-p4", "NVIDIA_P4_GPUS",
	  { { 1, "n1-standard-8" }, { 2, "n1-standard-16" }, { 4, "n1-standard-32" } } },
	{ "nvidia-tesla-a100", "NVIDIA_A100_GPUS",
	  { { 1, "a2-highgpu-1g" }, { 2, "a2-highgpu-2g" }, { 4, "a2-highgpu-4g" },
	    { 8, "a2-highgpu-8g" }, { 16, "a2-megagpu-16g" } } },
	{ "nvidia-a100-80gb", "NVIDIA_A100_80GB_GPUS",
	  { { 1, "a2-ultragpu-1g" }, { 2, "a2-ultragpu-2g" }, { 4, "a2-ultragpu-4g" },
	    { 8, "a2-ultragpu-8g" } } },
	{ "nvidia-h100-80gb", "NVIDIA_H100_GPUS",
	  { { 1, "a3-highgpu-1g" }, { 2, "a3-highgpu-2g" }, { 4, "a3-highgpu-4g" },
	    { 8, "a3-highgpu-8g" } } },
	{ "nvidia-h100-mega-80gb", "NVIDIA_H100_MEGA_GPUS", { { 8, "a3-megagpu-8g" } } },
	{ "nvidia-h200-141gb", "NVIDIA_H200_GPUS", { { 8, "a3-ultragpu-8g" } } },
	{ "nvidia-tesla-k80", "NVIDIA_K80_GPUS", { { 0, NULL } } }, /* end of life */
};

static const struct gpu_model *gpu_model(const char *type)
{
	size_t i;

	for (i = 0; type != NULL && i < sizeof gpu_models / sizeof gpu_models[0]; i++)
		if (strcmp(gpu_models[i].type, type) == 0)
			return &gpu_models[i];
	return NULL;
}

const char *gce_machine_type_for(const char *gpu_type, int count)
{
	const struct gpu_model *m = gpu_model(gpu_type);
	int i;

	for (i = 0; m != NULL && i < GPU_COUNTS && m->machines[i].machine != NULL; i++)
		if (m->machines[i].count == count)
			return m->machines[i].machine;
	return NULL;
}

char *gce_gpu_quota_metric(const char *gpu_type, int spot)
{
	const struct gpu_model *m = gpu_model(gpu_type);
	char *metric;

	if (m == NULL)
		return NULL;
	xasprintf(&metric, "%s%s", spot ? "PREEMPTIBLE_" : "", m->quota);
	return metric;
}

char *gce_zone_region(const char *zone)
{
	char *region = xstrdup(zone), *dash = strrchr(region, '-');

	if (dash != NULL)
		*dash = '\0';
	return region;
}

json_t *gce_insert_body(const struct gce *g, const struct gce_create *c)
{
	int count = c->gpu_count > 0 ? c->gpu_count : 1;
	const char *machine = c->machine_type ? c->machine_type
					      : gce_machine_type_for(c->gpu_type, count);
	char *machine_path, *gpu_path, *image, *disk_type, *disk_size, *region;
	json_t *body, *scheduling, *nic;

	xasprintf(&machine_path, "zones/%s/machineTypes/%s", g->zone, machine ? machine : "");
	xasprintf(&gpu_path, "zones/%s/acceleratorTypes/%s", g->zone, c->gpu_type);
	xasprintf(&image, "projects/%s/global/images/family/%s",
		  c->image_project ? c->image_project : GCE_DEFAULT_IMAGE_PROJECT,
		  c->image_family ? c->image_family : GCE_DEFAULT_IMAGE_FAMILY);
	xasprintf(&disk_type, "zones/%s/diskTypes/pd-balanced", g->zone);
	xasprintf(&disk_size, "%d", c->disk_gb > 0 ? c->disk_gb : 100);
	/* GPUs cannot live-migrate: the VM must stop for host maintenance. */
	if (c->spot)
		scheduling = json_pack("{s:s, s:b, s:s, s:s, s:b}", "onHostMaintenance",
				       "TERMINATE", "automaticRestart", 0, "provisioningModel",
				       "SPOT", "instanceTerminationAction", "STOP",
				       "preemptible", 1); /* gcloud sends it with SPOT too */
	else
		scheduling = json_pack("{s:s, s:b}", "onHostMaintenance", "TERMINATE",
				       "automaticRestart", 1);
	nic = json_pack("{s:[{s:s, s:s}]}", "accessConfigs", "name", "External NAT", "type",
			"ONE_TO_ONE_NAT");
	/* As gcloud: a subnet alone names its network; neither means "default". */
	if (c->network != NULL || c->subnet == NULL)
		json_object_set_new(nic, "network", json_sprintf("global/networks/%s",
								 c->network ? c->network : "default"));
	if (c->subnet != NULL) {
		region = gce_zone_region(g->zone);
		json_object_set_new(nic, "subnetwork", json_sprintf("regions/%s/subnetworks/%s",
								    region, c->subnet));
		free(region);
	}
	body = json_pack(
		"{s:s, s:s, s:[{s:s, s:i}], s:o,"
		" s:[{s:b, s:b, s:{s:s, s:s, s:s}}],"
		" s:[o],"
		" s:{s:[{s:s, s:s}]}, s:{s:s}}",
		"name", c->name, "machineType", machine_path,
		"guestAccelerators", "acceleratorType", gpu_path, "acceleratorCount", count,
		"scheduling", scheduling,
		"disks", "boot", 1, "autoDelete", 1, "initializeParams", "sourceImage", image,
		"diskSizeGb", disk_size, "diskType", disk_type,
		"networkInterfaces", nic,
		"metadata", "items", "key", "enable-guest-attributes", "value", "TRUE",
		"labels", GCE_LABEL_KEY, GCE_LABEL_VALUE);
	if (c->service_account != NULL)
		json_object_set_new(body, "serviceAccounts",
				    json_pack("[{s:s, s:[s]}]", "email", c->service_account,
					      "scopes", "https://www.googleapis.com/auth/cloud-platform"));
	free(machine_path);
	free(gpu_path);
	free(image);
	free(disk_type);
	free(disk_size);
	return body;
}

/*
 * limit - usage of metric in a {"quotas":[...]} object into *left; 0 when the metric
 * is not there (a project without it, or a region that could not load its quotas):
 * then the insert's own QUOTA_EXCEEDED is the judge.
 */
static int quota_left(json_t *owner, const char *metric, double *left)
{
	json_t *q;
	size_t i;

	json_array_foreach(json_object_get(owner, "quotas"), i, q) {
		const char *m = json_string_value(json_object_get(q, "metric"));

		if (m != NULL && strcmp(m, metric) == 0) {
			*left = json_number_value(json_object_get(q, "limit")) -
				json_number_value(json_object_get(q, "usage"));
			return 1;
		}
	}
	return 0;
}

/* The zone's accelerator types; the user's choice checked, or the first preferred. */
static int choose_gpu(struct gce *g, const char *wanted, char **chosen, char **cause)
{
	struct gg_buf offered = GG_BUF_INIT;
	json_t *list = NULL, *item;
	const char *first = NULL;
	char *path;
	size_t i;
	int p, r;

	xasprintf(&path, "projects/%s/zones/%s/acceleratorTypes", g->project, g->zone);
	r = get_json(g, path, "the zone's GPU types", &list, cause);
	free(path);
	if (r != 0)
		return r;
	*chosen = NULL;
	json_array_foreach(json_object_get(list, "items"), i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));

		if (n == NULL || strstr(n, "vws") != NULL) /* workstation variants need a licence */
			continue;
		/* A type kept in the table without machine types (the K80: end of life) is
		 * never picked unless named (gce_gpu_pickable, the regional create's rule too). */
		if (wanted == NULL && !gce_gpu_pickable(n))
			continue;
		if (first == NULL)
			first = n;
		gg_buf_addf(&offered, "%s%s", offered.len ? ", " : "", n);
		if (wanted != NULL && *chosen == NULL && strcmp(n, wanted) == 0)
			*chosen = xstrdup(n); /* once: a list may name a type twice */
	}
	for (p = 0; wanted == NULL && *chosen == NULL && gpu_preference[p] != NULL; p++)
		if (strstr(offered.data, gpu_preference[p]) != NULL)
			*chosen = xstrdup(gpu_preference[p]);
	/* Only a named, licence-free type: the first item may be neither. */
	if (*chosen == NULL && wanted == NULL && first != NULL)
		*chosen = xstrdup(first);
	if (*chosen == NULL)
		r = gg_fail(cause, GG_EXIT_USAGE, "zone '%s' offers %s%s%s: pick one with --gpu, "
			    "or another zone with --zone", g->zone,
			    wanted != NULL ? "no GPU '" : "no GPU",
			    wanted != NULL ? wanted : "", wanted != NULL ? "'" : "");
	if (*chosen == NULL && offered.len > 0)
		gg_fail_wrap(cause, r, "it offers %s", offered.data);
	gg_buf_release(&offered);
	json_decref(list);
	return *chosen != NULL ? 0 : r;
}

static int quota_refusal(struct gce *g, const char *metric, const char *where, double left,
			 int count, char **cause)
{
	return gg_fail(cause, GG_EXIT_API, "quota '%s' in %s allows %g more GPUs, %d needed: "
		       "request %d at https://console.cloud.google.com/iam-admin/quotas?project=%s "
		       "(filter: %s)", metric, where, left < 0 ? 0 : left, count, count,
		       g->project, metric);
}

/*
 * The region's GPU metric and the project's GPUS_ALL_REGIONS, refused only when
 * present and too small.  A Spot VM uses PREEMPTIBLE_<metric> when that is granted,
 * else standard quota (the Spot VMs page): refused only when neither allows it.
 */
static int check_quota(struct gce *g, const char *gpu, int count, int spot, char **cause)
{
	json_t *region = NULL, *project = NULL;
	char *region_name = gce_zone_region(g->zone), *path = NULL, *where = NULL;
	char *metric = gce_gpu_quota_metric(gpu, 0), *preemptible = gce_gpu_quota_metric(gpu, 1);
	double left = 0, spot_left = 0;
	int r;

	xasprintf(&path, "projects/%s/regions/%s", g->project, region_name);
	if ((r = get_json(g, path, "the region's quotas", &region, cause)) != 0)
		goto out;
	xasprintf(&where, "region '%s'", region_name);
	/* quotaStatusWarning: the region could not load (all) its quotas; say nothing. */
	if (metric != NULL && json_object_get(region, "quotaStatusWarning") == NULL &&
	    !(spot && quota_left(region, preemptible, &spot_left) && spot_left >= count) &&
	    quota_left(region, metric, &left) && left < count) {
		r = quota_refusal(g, metric, where, left, count, cause);
		if (spot)
			gg_fail_wrap(cause, r, "a Spot VM uses '%s' or, without enough of that, "
				     "standard GPU quota", preemptible);
		goto out;
	}
	free(path);
	xasprintf(&path, "projects/%s", g->project);
	if ((r = get_json(g, path, "the project's quotas", &project, cause)) != 0)
		goto out;
	free(where);
	xasprintf(&where, "project '%s' (global)", g->project);
	if (quota_left(project, "GPUS_ALL_REGIONS", &left) && left < count) {
		r = quota_refusal(g, "GPUS_ALL_REGIONS", where, left, count, cause);
		goto out;
	}
	r = 0;
out:
	json_decref(region);
	json_decref(project);
	free(region_name);
	free(metric);
	free(preemptible);
	free(where);
	free(path);
	return r;
}

int gce_create(struct gce *g, const struct gce_create *c, char **cause)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	struct gce_create spec = *c;
	char *gpu = NULL, *path = NULL, *what = NULL;
	json_t *image = NULL, *body = NULL;
	int r;

	if (!name_valid(c->name))
		return gg_fail(cause, GG_EXIT_USAGE, "bad instance name '%s'", c->name);
	if ((c->network != NULL && !name_valid(c->network)) ||
	    (c->subnet != NULL && !name_valid(c->subnet)))
		return gg_fail(cause, GG_EXIT_USAGE, "bad --network or --subnet: give the name "
			       "alone ('gcloud compute networks subnets list' shows them)");
	if (c->service_account != NULL && (strchr(c->service_account, '@') == NULL ||
					   !plain_word(c->service_account)))
		return gg_fail(cause, GG_EXIT_USAGE, "bad --service-account '%s': give its email "
			       "('gcloud iam service-accounts list' shows them)", c->service_account);
	if ((r = choose_gpu(g, c->gpu_type, &gpu, cause)) != 0)
		goto out;
	spec.gpu_type = gpu;
	/* A machine type that cannot take these GPUs is a 400 after the quota checks:
	 * refuse before anything is asked, with the flag that settles it. */
	if (c->machine_type == NULL &&
	    gce_machine_type_for(gpu, c->gpu_count > 0 ? c->gpu_count : 1) == NULL) {
		r = gg_fail(cause, GG_EXIT_USAGE, "no machine type known for %d x '%s': pass "
			    "--machine-type (see https://cloud.google.com/compute/docs/gpus)",
			    c->gpu_count > 0 ? c->gpu_count : 1, gpu);
		goto out;
	}
	xasprintf(&path, "projects/%s/global/images/family/%s",
		  c->image_project ? c->image_project : GCE_DEFAULT_IMAGE_PROJECT,
		  c->image_family ? c->image_family : GCE_DEFAULT_IMAGE_FAMILY);
	xasprintf(&what, "image family '%s'", c->image_family ? c->image_family
							       : GCE_DEFAULT_IMAGE_FAMILY);
	if ((r = get_json(g, path, what, &image, cause)) != 0)
		goto out;
	if ((r = check_quota(g, gpu, c->gpu_count > 0 ? c->gpu_count : 1, c->spot, cause)) != 0)
		goto out;
	body = gce_insert_body(g, &spec);
	free(path);
	xasprintf(&path, "projects/%s/zones/%s/instances", g->project, g->zone);
	r = gce_mutate(g, "POST", path, body, &rs, cause);
	if (r != 0)
		gg_fail_wrap(cause, r, "cannot create '%s'", c->name);
out:
	http_response_release(&rs);
	json_decref(image);
	json_decref(body);
	free(gpu);
	free(path);
	free(what);
	return r;
}

/* --- the SSH target ---------------------------------------------------------------- */

/* Printable ASCII, no space and no ":": gcloud's _IsValidSshUsername (ASCII, no
 * space) and nothing a metadata line breaks on. */
static int plain_word(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 127 || *s == ':')
			return 0;
	return 1;
}

char *gce_ssh_user(const char *account)
{
	const char *env = getenv("USER"), *s;
	struct gg_buf b = GG_BUF_INIT;
	struct passwd *pw;

	if (env == NULL || env[0] == '\0')
		env = getenv("LOGNAME");
	if ((env == NULL || env[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
		env = pw->pw_name;
	/* As gcloud: the local name as it is, case kept. */
	if (plain_word(env))
		return xstrdup(env);
	/* Else gaia.py MapGaiaEmailToDefaultAccountName of core/account. */
	if (account == NULL || account[0] == '\0' || account[0] == '@')
		return NULL;
	for (s = account; *s != '\0' && *s != '@' && b.len < 32; s++) {
		if (b.len == 0 && !isalpha((unsigned char)*s))
			gg_buf_addch(&b, 'g');
		gg_buf_addch(&b, isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s)
							  : '_');
	}
	return gg_buf_detach(&b, NULL);
}

static char *read_line_file(const char *path)
{
	char line[16384];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return xstrdup(line);
}

int gce_ssh_key_file(const char *path, const char *user, char **public_key, char **cause)
{
	char *pub_path = NULL, *blob = NULL;
	ssh_key key = NULL;
	int fd, r;

	xasprintf(&pub_path, "%s.pub", path);
	*public_key = read_line_file(pub_path);
	if (*public_key != NULL && (*public_key)[0] != '\0' && access(path, R_OK) == 0) {
		r = 0;
		goto out;
	}
	free(*public_key);
	*public_key = NULL;
	if (access(path, R_OK) == 0) {
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
			r = gg_fail(cause, GG_EXIT_ERROR, "cannot read SSH key '%s': remove it "
				    "to have a new one made", path);
			goto out;
		}
	} else {
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
			r = gg_fail(cause, GG_EXIT_ERROR, "cannot make an SSH key");
			goto out;
		}
		/* Created 0600 before libssh writes into it. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot create '%s'", path);
			goto out;
		}
		close(fd);
		if (ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path) != SSH_OK) {
			unlink(path);
			r = gg_fail(cause, GG_EXIT_ERROR, "cannot write SSH key '%s'", path);
			goto out;
		}
	}
	if (ssh_pki_export_pubkey_base64(key, &blob) != SSH_OK) {
		r = gg_fail(cause, GG_EXIT_ERROR, "cannot export the public half of '%s'", path);
		goto out;
	}
	xasprintf(public_key, "%s %s %s", ssh_key_type_to_char(ssh_key_type(key)), blob, user);
	{
		FILE *f = fopen(pub_path, "w");

		if (f == NULL || fprintf(f, "%s\n", *public_key) < 0 || fclose(f) != 0) {
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot write '%s'", pub_path);
			goto out;
		}
	}
	r = 0;
out:
	ssh_key_free(key);
	ssh_string_free_char(blob);
	free(pub_path);
	return r;
}

void gce_target_release(struct gce_target *t)
{
	free(t->instance_id);
	free(t->host);
	free(t->user);
	free(t->identity);
	free(t->known_hosts);
	free(t->host_key_alias);
	memset(t, 0, sizeof *t);
}

/* Did the VM boot within GCE_FRESH_BOOT_SECONDS (lastStartTimestamp, else its creation)? */
static int fresh_boot(json_t *instance)
{
	const char *at = json_string_value(json_object_get(instance, "lastStartTimestamp"));
	time_t t;

	if (at == NULL)
		at = json_string_value(json_object_get(instance, "creationTimestamp"));
	t = parse_time(at);
	return t != -1 && time(NULL) - t < GCE_FRESH_BOOT_SECONDS;
}

int gce_resolve_target(const char *name, const struct gce_options *o, struct gce_target *out,
		       char **cause)
{
	const char *home = getenv("HOME"), *address, *port;
	const char *label;
	char *ssh_dir = NULL, *public_key = NULL, *project_path = NULL;
	json_t *inst = NULL, *project = NULL;
	struct gce g;
	int published, r;

	memset(out, 0, sizeof *out);
	if ((r = gce_open(&g, o, cause)) != 0)
		goto out;
	/* OS Login first: a stopped VM we cannot log in to is not started (and billed). */
	xasprintf(&project_path, "projects/%s", g.project);
	if ((r = gce_instance_get(&g, name, &inst, cause)) != 0 ||
	    (r = get_json(&g, project_path, "the project's metadata", &project, cause)) != 0 ||
	    (r = gce_oslogin_check(inst, project, cause)) != 0)
		goto out;
	if (strcmp(json_string_value(json_object_get(inst, "status")) ?: "", "RUNNING") != 0) {
		json_decref(inst);
		inst = NULL;
		if ((r = gce_ensure_running(&g, name, &inst, &out->started, cause)) != 0)
			goto out;
	}
	address = gce_instance_address(inst, o->internal_ip);
	if (address == NULL) {
		r = gg_fail(cause, GG_EXIT_API, "'%s' has no %s address: %s", name,
			    o->internal_ip ? "internal" : "external",
			    o->internal_ip ? "check its network interfaces"
					   : "run from inside its VPC with --internal-ip, or give "
					     "it one with 'gcloud compute instances add-access-config'");
		goto out;
	}
	if (!ip_address_valid(address)) {
		/* It goes into ssh-config's HostName and to connect(): nothing but an address. */
		r = gg_fail(cause, GG_EXIT_API, "the API gave '%s' the address '%s', which is not "
			    "an IP address: refused", name, address);
		goto out;
	}
	out->host = xstrdup(address);
	port = getenv(GCE_ENV_SSH_PORT);
	out->port = port != NULL && atoi(port) > 0 ? atoi(port) : 22;
	out->instance_id = xstrdup(json_string_value(json_object_get(inst, "id")) ?: "");
	/* Made by `gcloud-gpu create`: idle stop is on unless the user turned it off. */
	label = json_string_value(json_object_get(json_object_get(inst, "labels"), GCE_LABEL_KEY));
	out->managed = label != NULL && strcmp(label, GCE_LABEL_VALUE) == 0;
	out->user = gce_ssh_user(g.config.account);
	if (out->user == NULL) {
		r = gg_fail(cause, GG_EXIT_USAGE, "the local user name is not plain ASCII and no "
			    "account is set: run 'gcloud config set account ACCOUNT'");
		goto out;
	}
	xasprintf(&ssh_dir, "%s/.ssh", home != NULL ? home : ".");
	if (mkdir(ssh_dir, 0700) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot create '%s'", ssh_dir);
		goto out;
	}
	xasprintf(&out->identity, "%s/google_compute_engine", ssh_dir);
	if ((r = gce_ssh_key_file(out->identity, out->user, &public_key, cause)) != 0)
		goto out;
	if ((r = gce_ssh_key_ensure(&g, inst, out->user, public_key, &out->key_added, cause)) != 0)
		goto out;
	xasprintf(&out->known_hosts, "%s/google_compute_known_hosts", ssh_dir);
	if ((r = gce_host_keys_update(&g, inst, project, out->known_hosts,
				      out->started || fresh_boot(inst), &published, cause)) != 0)
		goto out;
	xasprintf(&out->host_key_alias, "compute.%s", out->instance_id);
	if (!published && alias_pinned(out->known_hosts, out->host_key_alias)) {
		/*
		 * Pinned before: the keys it published then still hold.  Falling back to
		 * trust on first use by address would let an impostor at that address in.
		 */
		note("'%s' publishes no host keys now: its host key is checked against the "
		     "ones it published before ('%s' in '%s')", name, out->host_key_alias,
		     out->known_hosts);
	} else if (!published) {
		free(out->host_key_alias);
		out->host_key_alias = NULL;
		note("'%s' publishes no host keys (guest attributes off): its host key is "
		     "checked as for a plain SSH target", name);
		free(out->known_hosts);
		out->known_hosts = NULL;
	}
	r = 0;
out:
	if (r != 0)
		gce_target_release(out);
	json_decref(inst);
	json_decref(project);
	gce_close(&g);
	free(ssh_dir);
	free(public_key);
	free(project_path);
	return r;
}

/* --- for gce-fleet.c: the single-VM pieces a class of VMs reuses ------------------- */

int gce_get_json(struct gce *g, const char *path, const char *what, json_t **out, char **cause)
{
	return get_json(g, path, what, out, cause);
}

int gce_name_valid(const char *name)
{
	return name_valid(name);
}

int gce_choose_gpu(struct gce *g, const char *wanted, char **chosen, char **cause)
{
	return choose_gpu(g, wanted, chosen, cause);
}

int gce_check_quota(struct gce *g, const char *gpu, int count, int spot, char **cause)
{
	return check_quota(g, gpu, count, spot, cause);
}

const char *const *gce_gpu_preference(void)
{
	return gpu_preference;
}

int gce_gpu_pickable(const char *type)
{
	return strstr(type, "vws") == NULL &&
	       (gpu_model(type) == NULL || gpu_model(type)->machines[0].machine != NULL);
}
