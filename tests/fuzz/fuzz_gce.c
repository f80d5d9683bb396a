/*
 * fuzz_gce.c: the Compute Engine client reading the API's answers.
 *
 * http_call is replaced at link time (-Wl,--wrap=http_call): each call takes the
 * next answer from the input instead of the network.  The input is
 *
 *     SCENARIO-BYTE  ANSWER \0 ANSWER \0 ...
 *
 * where an ANSWER is a JSON body, optionally preceded by "NNN " for an HTTP status
 * other than 200 (an error answer goes through http_api_error as the real client's
 * does); when the answers run out, calls fail as an unreachable API.  The scenario
 * byte's low three bits pick what runs (its high bits the GPU, spot and subnet flags
 * of create, or waiting for host keys): ensure_running then the host keys, ssh_key_ensure, create,
 * start and delete, or the host keys of an instance given as the first answer.
 * Asserted besides "no crash, no leak":
 *   - every URL the client builds from answers stays one path of plain characters
 *     (values from an answer cannot add path segments, a query or a new line);
 *   - known_hosts keeps the user's other lines unchanged and gains only
 *     "compute.<id> TYPE BASE64" lines;
 *   - a metadata update carries the user's key line;
 *   - a refusal has a printable one-line cause.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "fuzz.h"
#include "fuzz_fs.h"
#include "gce.h"
#include "http.h"
#include "xmalloc.h"

#define ENDPOINT "https://compute.example.invalid/compute/v1/"
#define USER_KEY_TYPE "ssh-ed25519"
#define USER_KEY_BLOB "AAAAC3NzaC1lZDI1NTE5AAAAIOdHfjE0Yxg1hXyqcTQWx1QkBFJ4jWWnYv1U0O3kQ3Zp"
#define OTHER_LINES "other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTHER\n" \
		    "[10.0.0.1]:22 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCOTHER\n"

static const char *feed;
static size_t feed_left;
static int saw_key_update;

int __wrap_http_call(const struct http_request *rq, struct http_response *rs, char **cause);

/* The path after the endpoint: segments and a "?queryPath=..." the client itself adds. */
static void check_url(const char *url)
{
	const char *p;

	FUZZ_ASSERT(strncmp(url, ENDPOINT, strlen(ENDPOINT)) == 0);
	for (p = url + strlen(ENDPOINT); *p != '\0' && *p != '?'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("-_.:/", *p) == NULL) {
			fprintf(stderr, "URL built from an answer: '%s'\n", url);
			FUZZ_ASSERT(!"URL paths hold only plain characters");
		}
	}
	/* No empty, "." or ".." segment either: each one names what the client meant. */
	p = url + strlen(ENDPOINT);
	FUZZ_ASSERT(strstr(p, "//") == NULL && strstr(p, "/./") == NULL && strstr(p, "/../") == NULL);
}

/* A setMetadata body must add the user's line to ssh-keys. */
static void check_metadata_body(json_t *body)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(body, "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));
		const char *v = json_string_value(json_object_get(item, "value"));

		if (k != NULL && strcmp(k, "ssh-keys") == 0) {
			FUZZ_ASSERT(v != NULL && strstr(v, "alice:" USER_KEY_TYPE " " USER_KEY_BLOB) != NULL);
			saw_key_update = 1;
		}
	}
}

int __wrap_http_call(const struct http_request *rq, struct http_response *rs, char **cause)
{
	const char *answer, *end, *reason = NULL, *message = NULL;
	json_t *error;
	size_t len;

	rs->status = 0;
	rs->body = NULL;
	check_url(rq->url);
	if (rq->json != NULL && strstr(rq->url, "/setMetadata") != NULL)
		check_metadata_body(rq->json);
	if (feed == NULL)
		return gg_fail(cause, GG_EXIT_API, "cannot reach '%s': the input ended", rq->url);
	answer = feed;
	end = memchr(feed, '\0', feed_left);
	len = end != NULL ? (size_t)(end - feed) : feed_left;
	if (end != NULL) {
		feed_left -= len + 1;
		feed = end + 1;
	} else {
		feed = NULL;
	}
	rs->status = 200;
	if (len >= 4 && isdigit((unsigned char)answer[0]) && isdigit((unsigned char)answer[1]) &&
	    isdigit((unsigned char)answer[2]) && answer[3] == ' ') {
		rs->status = (answer[0] - '0') * 100 + (answer[1] - '0') * 10 + (answer[2] - '0');
		answer += 4;
		len -= 4;
	}
	if (len > 0)
		rs->body = json_loadb(answer, len, 0, NULL);
	if (rs->status >= 200 && rs->status < 300)
		return 0;
	error = json_object_get(rs->body, "error");
	message = json_string_value(json_object_get(error, "message"));
	reason = json_string_value(json_object_get(json_array_get(json_object_get(error, "errors"), 0),
						   "reason"));
	return http_api_error(rs->status, reason, message, cause);
}

/* Take the first answer as a JSON object (an instance the caller already holds). */
static json_t *first_answer_object(void)
{
	struct http_response rs = HTTP_RESPONSE_INIT;
	json_t *obj;

	__wrap_http_call(&(struct http_request){ .method = "GET", .url = ENDPOINT "x" }, &rs, NULL);
	obj = json_is_object(rs.body) ? json_incref(rs.body) : json_object();
	http_response_release(&rs);
	return obj;
}

static void check_known_hosts(const char *path)
{
	char line[16384];
	FILE *f = fopen(path, "r");
	size_t others = 0;

	FUZZ_ASSERT(f != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		char alias[256], type[256], blob[8192], extra[2];
		const char *s;

		FUZZ_ASSERT(strchr(line, '\n') != NULL);
		if (strncmp(line, "compute.", 8) != 0) {
			FUZZ_ASSERT(strstr(OTHER_LINES, line) != NULL);
			others++;
			continue;
		}
		FUZZ_ASSERT(sscanf(line, "%255s %255s %8191s %1s", alias, type, blob, extra) == 3);
		for (s = alias + 8; *s != '\0'; s++)
			FUZZ_ASSERT(isalnum((unsigned char)*s) || strchr("-_.:", *s) != NULL);
		for (s = blob; *s != '\0'; s++)
			FUZZ_ASSERT(isalnum((unsigned char)*s) || strchr("+/=", *s) != NULL);
	}
	fclose(f);
	FUZZ_ASSERT(others == 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_sandbox box;
	struct gce g;
	struct gce_create c = { .name = "vm" };
	char known_hosts[FUZZ_PATH_MAX];
	json_t *instance = NULL, *project = NULL;
	char *cause = NULL;
	int r = 0, started, published, added;

	if (size < 1)
		return 0;
	setenv("GCLOUD_GPU_API_DELAY_MS", "0", 1);
	fuzz_sandbox_reset(&box, "gce");
	fuzz_path(known_hosts, "%s/known_hosts", box.work);
	fuzz_write_file(known_hosts, OTHER_LINES, strlen(OTHER_LINES));
	memset(&g, 0, sizeof g);
	g.project = xstrdup("my-project");
	g.zone = xstrdup("us-central1-a");
	g.endpoint = xstrdup(ENDPOINT);
	g.auth.value = xstrdup("ya29.fuzz-token");
	feed = (const char *)data + 1;
	feed_left = size - 1;
	saw_key_update = 0;

	switch ((data[0] & 0x07) % 5) {
	case 0:
		r = gce_ensure_running(&g, "vm", &instance, &started, &cause);
		if (r == 0) {
			gce_instance_address(instance, 0);
			gce_instance_address(instance, 1);
			r = gce_host_keys_update(&g, instance, NULL, known_hosts,
						 (data[0] & 0x20) != 0, &published, &cause);
		}
		break;
	case 1:
		instance = first_answer_object();
		r = gce_ssh_key_ensure(&g, instance, "alice",
				       USER_KEY_TYPE " " USER_KEY_BLOB " alice@laptop", &added, &cause);
		FUZZ_ASSERT(!added || saw_key_update);
		break;
	case 2:
		c.gpu_type = data[0] & 0x80 ? "nvidia-tesla-t4" : NULL;
		c.spot = (data[0] & 0x40) != 0;
		c.subnet = data[0] & 0x20 ? "gpu-subnet" : NULL;
		r = gce_create(&g, &c, &cause);
		break;
	case 3:
		r = gce_instance_action(&g, "vm", "start", &cause);
		if (r == 0)
			r = gce_instance_delete(&g, "vm", &cause);
		break;
	case 4:
		instance = first_answer_object();
		project = first_answer_object();
		r = gce_host_keys_update(&g, instance, project, known_hosts, 0, &published, &cause);
		break;
	}
	if (r != 0) {
		FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
		free(cause);
	} else {
		FUZZ_ASSERT(cause == NULL);
	}
	check_known_hosts(known_hosts);
	fuzz_sandbox_check_outside(&box);
	json_decref(instance);
	json_decref(project);
	gce_close(&g);
	return 0;
}
