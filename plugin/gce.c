/*
 * gce.c: the Compute Engine calls of gce.h over the one HTTP client (http.c).
 *
 * Paths are built from the project and zone we resolved, never from links in answers,
 * so a response recorded from www.googleapis.com works against any endpoint.
 */
#include "gce.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cli.h"
#include "error.h"
#include "xmalloc.h"

#define METADATA_TRIES 5
#define GUEST_ATTRIBUTE_TRIES 10

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

int gce_open(struct gce *g, const struct gce_options *o, char **cause)
{
	struct auth_options ao;
	const char *endpoint;
	int r;

	memset(g, 0, sizeof *g);
	if ((r = gcloud_config_load(&g->config, cause)) != 0)
		return r;
	g->project = xstrdup(o->project ? o->project : g->config.project ? g->config.project : "");
	g->zone = xstrdup(o->zone ? o->zone : g->config.zone ? g->config.zone : "");
	if (g->project[0] == '\0')
		return gg_fail(cause, GG_EXIT_USAGE, "no project: pass --project or run 'gcloud "
			       "config set project PROJECT'");
	if (g->zone[0] == '\0')
		return gg_fail(cause, GG_EXIT_USAGE, "no zone: pass --zone or run 'gcloud config "
			       "set compute/zone ZONE'");
	if (!name_valid(g->project) || !name_valid(g->zone))
		return gg_fail(cause, GG_EXIT_USAGE, "bad project '%s' or zone '%s'", g->project,
			       g->zone);
	endpoint = g->config.compute_endpoint ? g->config.compute_endpoint : GCE_DEFAULT_ENDPOINT;
	xasprintf(&g->endpoint, "%s%s", endpoint,
		  endpoint[strlen(endpoint) - 1] == '/' ? "" : "/");
	ao.access_token_file = o->access_token_file ? o->access_token_file
						    : g->config.access_token_file;
	ao.config_dir = g->config.dir;
	return auth_access_token(&ao, &g->token, cause);
}

void gce_close(struct gce *g)
{
	gcloud_config_release(&g->config);
	free(g->project);
	free(g->zone);
	free(g->endpoint);
	if (g->token != NULL)
		memset(g->token, 0, strlen(g->token));
	free(g->token);
	memset(g, 0, sizeof *g);
}

int gce_call(struct gce *g, const char *method, const char *path, json_t *body,
	     struct http_response *rs, char **cause)
{
	struct http_request rq = { .method = method, .bearer = g->token, .json = body };
	char *url;
	int r;

	xasprintf(&url, "%s%s", g->endpoint, path);
	rq.url = url;
	r = http_call(&rq, rs, cause);
	free(url);
	return r;
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
	const char *name, *zone, *status;
	char *path = NULL;
	long polls;
	int r;

	name = json_string_value(json_object_get(op, "name"));
	if (!name_valid(name)) {
		r = gg_fail(cause, GG_EXIT_API, "the API answered no operation name");
		goto out;
	}
	zone = last_segment(json_string_value(json_object_get(op, "zone")));
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

/* Send method to path (body may be NULL) and wait for the operation it answers. */
static int call_and_wait(struct gce *g, const char *method, const char *path, json_t *body,
			 struct http_response *rs, char **cause)
{
	int r = gce_call(g, method, path, body, rs, cause);

	if (r == 0)
		r = gce_operation_wait(g, rs->body, cause);
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
	r = call_and_wait(g, "POST", path, NULL, &rs, cause);
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
	r = call_and_wait(g, "DELETE", path, NULL, &rs, cause);
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

static int is_true(const char *v)
{
	return v != NULL && strcasecmp(v, "true") == 0;
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

/* Does an ssh-keys value hold "user:TYPE BLOB ..." for this user and blob? */
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
		    strcmp(b, blob) == 0)
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

/* metadata's items with ssh-keys extended by line; a new object. */
static json_t *metadata_with_key(json_t *metadata, const char *line)
{
	json_t *items = json_array(), *item, *body;
	const char *old = gce_metadata_get(metadata, "ssh-keys");
	char *value;
	size_t i;

	json_array_foreach(json_object_get(metadata, "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));

		if (k == NULL || strcmp(k, "ssh-keys") != 0)
			json_array_append(items, item);
	}
	if (old != NULL && old[0] != '\0')
		xasprintf(&value, "%s%s%s", old, old[strlen(old) - 1] == '\n' ? "" : "\n", line);
	else
		value = xstrdup(line);
	json_array_append_new(items, json_pack("{s:s, s:s}", "key", "ssh-keys", "value", value));
	free(value);
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
	const char *oslogin;
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
	oslogin = gce_metadata_get(json_object_get(inst, "metadata"), "enable-oslogin");
	if (oslogin == NULL)
		oslogin = gce_metadata_get(json_object_get(project, "commonInstanceMetadata"),
					   "enable-oslogin");
	if (is_true(oslogin)) {
		r = gg_fail(cause, GG_EXIT_API, "OS Login is enabled for '%s', so metadata keys "
			    "are ignored: run 'gcloud compute os-login ssh-keys add --key-file="
			    "~/.ssh/google_compute_engine.pub' and log in as your OS Login user, or "
			    "set metadata enable-oslogin=FALSE on the instance", name);
		goto out;
	}
	if (!is_true(gce_metadata_get(json_object_get(inst, "metadata"), "block-project-ssh-keys")) &&
	    metadata_holds(json_object_get(project, "commonInstanceMetadata"), user, type, blob)) {
		r = 0;
		goto out;
	}
	xasprintf(&line, "%s:%s %s %s", user, type, blob, user);
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
		r = gce_call(g, "POST", path, body, &rs, cause);
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
	if ((r = gce_operation_wait(g, rs.body, cause)) != 0) {
		gg_fail_wrap(cause, r, "cannot add the SSH key to '%s'", name);
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
static int known_hosts_replace(const char *path, const char *alias, const char *lines,
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

int gce_host_keys_update(struct gce *g, json_t *instance, const char *known_hosts,
			 int *published, char **cause)
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
	if (!is_true(gce_metadata_get(json_object_get(instance, "metadata"),
				      "enable-guest-attributes"))) {
		r = 0;
		goto out;
	}
	xasprintf(&path, "projects/%s/zones/%s/instances/%s/getGuestAttributes?queryPath=hostkeys%%2F",
		  g->project, g->zone, name);
	/* A VM that just booted publishes its keys a few seconds after sshd starts. */
	for (tries = 1;; tries++) {
		r = gce_call(g, "GET", path, NULL, &rs, cause);
		if (r == 0 || rs.status != 404 || tries >= GUEST_ATTRIBUTE_TRIES)
			break;
		http_response_release(&rs);
		forget_cause(cause);
		sleep_ms(http_base_delay_ms());
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

/* --- creating a GPU VM ------------------------------------------------------------- */

/* Tried in order when the user names no GPU: cheap and widely offered first. */
static const char *const gpu_preference[] = {
	"nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100", "nvidia-tesla-p100",
	"nvidia-tesla-p4", "nvidia-tesla-k80", "nvidia-tesla-a100", NULL,
};

static const struct {
	const char *gpu;
	const char *machine;
} machine_for_gpu[] = {
	{ "nvidia-l4", "g2-standard-8" },
	{ "nvidia-tesla-a100", "a2-highgpu-1g" },
	{ "nvidia-a100-80gb", "a2-ultragpu-1g" },
	{ "nvidia-h100-80gb", "a3-highgpu-1g" },
	{ NULL, NULL },
};

const char *gce_machine_type_for(const char *gpu_type)
{
	int i;

	for (i = 0; machine_for_gpu[i].gpu != NULL; i++)
		if (strcmp(machine_for_gpu[i].gpu, gpu_type) == 0)
			return machine_for_gpu[i].machine;
	return "n1-standard-8"; /* T4, V100, P100, P4, K80 attach to N1 machines */
}

char *gce_gpu_quota_metric(const char *gpu_type, int spot)
{
	const char *s = gpu_type;
	struct gg_buf b = GG_BUF_INIT;

	if (strncmp(s, "nvidia-", 7) == 0)
		s += 7;
	if (strncmp(s, "tesla-", 6) == 0)
		s += 6;
	gg_buf_addstr(&b, spot ? "PREEMPTIBLE_NVIDIA_" : "NVIDIA_");
	for (; *s != '\0'; s++)
		gg_buf_addch(&b, *s == '-' ? '_' : (char)toupper((unsigned char)*s));
	gg_buf_addstr(&b, "_GPUS");
	return gg_buf_detach(&b, NULL);
}

json_t *gce_insert_body(const struct gce *g, const struct gce_create *c)
{
	const char *machine = c->machine_type ? c->machine_type : gce_machine_type_for(c->gpu_type);
	char *machine_path, *gpu_path, *image, *disk_type, *disk_size;
	json_t *body, *scheduling;

	xasprintf(&machine_path, "zones/%s/machineTypes/%s", g->zone, machine);
	xasprintf(&gpu_path, "zones/%s/acceleratorTypes/%s", g->zone, c->gpu_type);
	xasprintf(&image, "projects/%s/global/images/family/%s",
		  c->image_project ? c->image_project : GCE_DEFAULT_IMAGE_PROJECT,
		  c->image_family ? c->image_family : GCE_DEFAULT_IMAGE_FAMILY);
	xasprintf(&disk_type, "zones/%s/diskTypes/pd-balanced", g->zone);
	xasprintf(&disk_size, "%d", c->disk_gb > 0 ? c->disk_gb : 100);
	/* GPUs cannot live-migrate: the VM must stop for host maintenance. */
	if (c->spot)
		scheduling = json_pack("{s:s, s:b, s:s, s:s}", "onHostMaintenance", "TERMINATE",
				       "automaticRestart", 0, "provisioningModel", "SPOT",
				       "instanceTerminationAction", "STOP");
	else
		scheduling = json_pack("{s:s, s:b}", "onHostMaintenance", "TERMINATE",
				       "automaticRestart", 1);
	body = json_pack(
		"{s:s, s:s, s:[{s:s, s:i}], s:o,"
		" s:[{s:b, s:b, s:{s:s, s:s, s:s}}],"
		" s:[{s:s, s:[{s:s, s:s}]}],"
		" s:{s:[{s:s, s:s}]}, s:{s:s}}",
		"name", c->name, "machineType", machine_path,
		"guestAccelerators", "acceleratorType", gpu_path, "acceleratorCount",
		c->gpu_count > 0 ? c->gpu_count : 1,
		"scheduling", scheduling,
		"disks", "boot", 1, "autoDelete", 1, "initializeParams", "sourceImage", image,
		"diskSizeGb", disk_size, "diskType", disk_type,
		"networkInterfaces", "network", "global/networks/default", "accessConfigs",
		"name", "External NAT", "type", "ONE_TO_ONE_NAT",
		"metadata", "items", "key", "enable-guest-attributes", "value", "TRUE",
		"labels", "created-by", "gcloud-gpu");
	free(machine_path);
	free(gpu_path);
	free(image);
	free(disk_type);
	free(disk_size);
	return body;
}

/* limit - usage of metric in a {"quotas":[...]} object; a missing metric is 0. */
static double quota_left(json_t *owner, const char *metric)
{
	json_t *q;
	size_t i;

	json_array_foreach(json_object_get(owner, "quotas"), i, q) {
		const char *m = json_string_value(json_object_get(q, "metric"));

		if (m != NULL && strcmp(m, metric) == 0)
			return json_number_value(json_object_get(q, "limit")) -
			       json_number_value(json_object_get(q, "usage"));
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

static int check_quota(struct gce *g, const char *gpu, int count, int spot, char **cause)
{
	json_t *region = NULL, *project = NULL;
	char *region_name = xstrdup(g->zone), *dash, *path = NULL, *metric;
	double left;
	int r;

	metric = gce_gpu_quota_metric(gpu, spot);
	dash = strrchr(region_name, '-');
	if (dash != NULL)
		*dash = '\0';
	xasprintf(&path, "projects/%s/regions/%s", g->project, region_name);
	if ((r = get_json(g, path, "the region's quotas", &region, cause)) != 0)
		goto out;
	left = quota_left(region, metric);
	if (left < count) {
		r = gg_fail(cause, GG_EXIT_API, "quota '%s' in region '%s' allows %g more GPUs, "
			    "%d needed: request %d at https://console.cloud.google.com/iam-admin/"
			    "quotas?project=%s (filter: %s, region %s)", metric, region_name,
			    left < 0 ? 0 : left, count, count, g->project, metric, region_name);
		goto out;
	}
	free(path);
	xasprintf(&path, "projects/%s", g->project);
	if ((r = get_json(g, path, "the project's quotas", &project, cause)) != 0)
		goto out;
	left = quota_left(project, "GPUS_ALL_REGIONS");
	if (left < count) {
		r = gg_fail(cause, GG_EXIT_API, "quota 'GPUS_ALL_REGIONS' of project '%s' allows "
			    "%g more GPUs, %d needed: request %d at https://console.cloud.google."
			    "com/iam-admin/quotas?project=%s (filter: GPUS_ALL_REGIONS, global)",
			    g->project, left < 0 ? 0 : left, count, count, g->project);
		goto out;
	}
	r = 0;
out:
	json_decref(region);
	json_decref(project);
	free(region_name);
	free(metric);
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
	if ((r = choose_gpu(g, c->gpu_type, &gpu, cause)) != 0)
		goto out;
	spec.gpu_type = gpu;
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
	r = call_and_wait(g, "POST", path, body, &rs, cause);
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

char *gce_ssh_user(void)
{
	const char *env = getenv("USER");
	struct passwd *pw;
	struct gg_buf b = GG_BUF_INIT;
	const char *s;

	if (env == NULL || env[0] == '\0')
		env = getenv("LOGNAME");
	if ((env == NULL || env[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
		env = pw->pw_name;
	if (env == NULL)
		env = "user";
	/* As gcloud: lower case, and only what a Linux user name and metadata accept. */
	for (s = env; *s != '\0' && b.len < 32; s++) {
		char ch = (char)tolower((unsigned char)*s);

		if (isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.')
			gg_buf_addch(&b, ch);
	}
	if (b.len == 0)
		gg_buf_addstr(&b, "user");
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

int gce_ssh_key_file(const char *path, char **public_key, char **cause)
{
	char *pub_path = NULL, *blob = NULL, *user = NULL;
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
	user = gce_ssh_user();
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
	free(user);
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

int gce_resolve_target(const char *name, const struct gce_options *o, struct gce_target *out,
		       char **cause)
{
	const char *home = getenv("HOME"), *address, *port;
	char *ssh_dir = NULL, *public_key = NULL;
	const char *label;
	json_t *inst = NULL;
	struct gce g;
	int published, r;

	memset(out, 0, sizeof *out);
	if ((r = gce_open(&g, o, cause)) != 0)
		goto out;
	if ((r = gce_ensure_running(&g, name, &inst, &out->started, cause)) != 0)
		goto out;
	address = gce_instance_address(inst, o->internal_ip);
	if (address == NULL) {
		r = gg_fail(cause, GG_EXIT_API, "'%s' has no %s address: %s", name,
			    o->internal_ip ? "internal" : "external",
			    o->internal_ip ? "check its network interfaces"
					   : "run from inside its VPC with --internal-ip, or give "
					     "it one with 'gcloud compute instances add-access-config'");
		goto out;
	}
	out->host = xstrdup(address);
	port = getenv(GCE_ENV_SSH_PORT);
	out->port = port != NULL && atoi(port) > 0 ? atoi(port) : 22;
	out->instance_id = xstrdup(json_string_value(json_object_get(inst, "id")) ?: "");
	/* Made by `gcloud-gpu create`: idle stop is on unless the user turned it off. */
	label = json_string_value(json_object_get(json_object_get(inst, "labels"), "gcloud-gpu"));
	out->managed = label != NULL && strcmp(label, "managed") == 0;
	out->user = gce_ssh_user();
	xasprintf(&ssh_dir, "%s/.ssh", home != NULL ? home : ".");
	if (mkdir(ssh_dir, 0700) != 0 && errno != EEXIST) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot create '%s'", ssh_dir);
		goto out;
	}
	xasprintf(&out->identity, "%s/google_compute_engine", ssh_dir);
	if ((r = gce_ssh_key_file(out->identity, &public_key, cause)) != 0)
		goto out;
	if ((r = gce_ssh_key_ensure(&g, inst, out->user, public_key, &out->key_added, cause)) != 0)
		goto out;
	xasprintf(&out->known_hosts, "%s/google_compute_known_hosts", ssh_dir);
	if ((r = gce_host_keys_update(&g, inst, out->known_hosts, &published, cause)) != 0)
		goto out;
	if (published) {
		xasprintf(&out->host_key_alias, "compute.%s", out->instance_id);
	} else {
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
	gce_close(&g);
	free(ssh_dir);
	free(public_key);
	return r;
}
