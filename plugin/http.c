/*
 * http.c: libcurl + jansson, retries, and the error lines of http.h.
 *
 * One easy handle per call keeps the code simple; the calls gcloud-gpu makes are few
 * and seconds apart, so connection reuse would buy nothing worth the state.
 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "xmalloc.h"

#define MAX_BODY (64L << 20) /* no API answer we read is near this */

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
	struct gg_buf *b = user;
	size_t n = size * count;

	if (b->len + n > (size_t)MAX_BODY || gg_buf_add(b, data, n) != 0)
		return 0; /* curl reports a write error */
	return n;
}

static void global_init(void)
{
	static int done;

	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		srandom((unsigned)time(NULL) ^ (unsigned)getpid());
		done = 1;
	}
}

long http_base_delay_ms(void)
{
	const char *env = getenv("GCLOUD_GPU_API_DELAY_MS");
	char *end;
	long ms;

	if (env == NULL || env[0] == '\0')
		return 1000;
	ms = strtol(env, &end, 10);
	return *end == '\0' && ms >= 0 ? ms : 1000;
}

void http_backoff(int attempt, long retry_after_s)
{
	long delay = http_base_delay_ms(), ms;
	struct timespec ts;
	int i;

	for (i = 1; i < attempt && i < 6; i++)
		delay *= 2;
	/* Full jitter would allow 0; half-to-full keeps retries from bunching up. */
	ms = delay / 2 + (delay > 1 ? random() % (delay - delay / 2 + 1) : delay);
	if (retry_after_s > HTTP_RETRY_AFTER_MAX)
		retry_after_s = HTTP_RETRY_AFTER_MAX;
	if (retry_after_s * 1000 > ms)
		ms = retry_after_s * 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

char *http_form_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *copy;

	if (e == NULL) {
		fprintf(stderr, "gcloud-gpu: out of memory\n");
		exit(GG_EXIT_ERROR);
	}
	copy = xstrdup(e);
	curl_free(e);
	return copy;
}

/* The API's reason and message from an error body {"error":{"errors":[{"reason"...}]}},
 * or the OAuth endpoint's {"error":"invalid_grant","error_description":"..."}. */
static void error_fields(json_t *body, const char **reason, const char **message)
{
	json_t *error = json_object_get(body, "error"), *first;

	*reason = *message = NULL;
	if (json_is_string(error)) {
		*reason = json_string_value(error);
		*message = json_string_value(json_object_get(body, "error_description"));
		return;
	}
	first = json_array_get(json_object_get(error, "errors"), 0);
	*reason = json_string_value(json_object_get(first, "reason"));
	*message = json_string_value(json_object_get(error, "message"));
	if (*reason == NULL)
		*reason = json_string_value(json_object_get(error, "status"));
}

static int is_rate_limit(const char *reason)
{
	return reason != NULL && (strcmp(reason, "rateLimitExceeded") == 0 ||
				  strcmp(reason, "userRateLimitExceeded") == 0 ||
				  strcmp(reason, "RATE_LIMIT_EXCEEDED") == 0);
}

static int has_prefix(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

int http_api_error(long status, const char *reason, const char *message, char **cause)
{
	const char *m = message != NULL ? message : "no detail given";

	if (has_prefix(reason, "QUOTA_EXCEEDED") || has_prefix(reason, "quotaExceeded"))
		return gg_fail(cause, GG_EXIT_API,
			       "quota exceeded: %s: request more at "
			       "https://console.cloud.google.com/iam-admin/quotas", m);
	if (has_prefix(reason, "ZONE_RESOURCE_POOL_EXHAUSTED") ||
	    has_prefix(reason, "resourcePoolExhausted") ||
	    has_prefix(reason, "ZONE_RESOURCE_POOL"))
		return gg_fail(cause, GG_EXIT_API,
			       "the zone has no capacity for this VM now: %s: try another zone "
			       "(--zone) or try again later", m);
	if (has_prefix(reason, "accessNotConfigured") || has_prefix(reason, "SERVICE_DISABLED"))
		return gg_fail(cause, GG_EXIT_API,
			       "the Compute Engine API is not enabled: %s: run 'gcloud services "
			       "enable compute.googleapis.com'", m);
	if (has_prefix(reason, "invalid_grant") || has_prefix(reason, "invalid_client"))
		return gg_fail(cause, GG_EXIT_API,
			       "Google refused the credentials (%s): %s: run 'gcloud auth "
			       "application-default login' or check GOOGLE_APPLICATION_CREDENTIALS",
			       reason, m);
	if (is_rate_limit(reason) || status == 429)
		return gg_fail(cause, GG_EXIT_API,
			       "rate limited (%ld) after %d tries: %s: wait a minute and try again",
			       status, HTTP_ATTEMPTS, m);
	switch (status) {
	case 401:
		return gg_fail(cause, GG_EXIT_API,
			       "Google refused the credentials (401): %s: run 'gcloud auth login' "
			       "(or check --access-token-file)", m);
	case 403:
		return gg_fail(cause, GG_EXIT_API,
			       "permission denied (403): %s: check --project and that your account "
			       "has Compute Instance Admin there", m);
	case 404:
		return gg_fail(cause, GG_EXIT_API,
			       "not found (404): %s: check the name, --project and --zone", m);
	case 409:
		return gg_fail(cause, GG_EXIT_API,
			       "conflict (409): %s: it exists already or is being changed; "
			       "wait a moment and try again", m);
	case 412:
		return gg_fail(cause, GG_EXIT_API,
			       "changed meanwhile (412): %s: try again", m);
	}
	if (status >= 500)
		return gg_fail(cause, GG_EXIT_API,
			       "Compute Engine failed (%ld) after %d tries: %s: try again later "
			       "(see https://status.cloud.google.com)", status, HTTP_ATTEMPTS, m);
	if (status == 0)
		return gg_fail(cause, GG_EXIT_API, "the operation failed (%s): %s",
			       reason != NULL ? reason : "no code", m);
	return gg_fail(cause, GG_EXIT_API, "unexpected answer (%ld): %s", status, m);
}

/*
 * Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP date; other headers are
 * skipped.  Sets *(long *)user to the seconds to wait, never negative.
 */
static size_t on_header(char *data, size_t size, size_t count, void *user)
{
	static const char name[] = "retry-after:";
	size_t n = size * count;
	long *retry_after = user;
	char value[64], *end;
	time_t when;
	long v;

	if (n <= sizeof name - 1 || strncasecmp(data, name, sizeof name - 1) != 0)
		return n;
	snprintf(value, sizeof value, "%.*s", (int)(n - (sizeof name - 1)),
		 data + sizeof name - 1);
	value[strcspn(value, "\r\n")] = '\0';
	v = strtol(value, &end, 10);
	if (end != value && (*end == '\0' || *end == ' ')) {
		*retry_after = v > 0 ? v : 0;
	} else if ((when = curl_getdate(value, NULL)) != -1) {
		v = (long)(when - time(NULL));
		*retry_after = v > 0 ? v : 0;
	}
	return n;
}

/*
 * One exchange.  Returns the curl code; fills status, the raw body and the seconds an
 * answer's Retry-After asks for (0 when none).
 */
static CURLcode exchange(const struct http_request *rq, const char *payload, long *status,
			 struct gg_buf *raw, long *retry_after, char *curl_error)
{
	struct curl_slist *headers = NULL;
	char *auth = NULL;
	CURLcode rc;
	CURL *curl;

	curl = curl_easy_init();
	if (curl == NULL)
		return CURLE_FAILED_INIT;
	headers = curl_slist_append(headers, "Accept: application/json");
	if (rq->bearer != NULL) {
		xasprintf(&auth, "Authorization: Bearer %s", rq->bearer);
		headers = curl_slist_append(headers, auth);
	}
	if (rq->json != NULL)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	else if (rq->form != NULL)
		headers = curl_slist_append(headers,
					    "Content-Type: application/x-www-form-urlencoded");
	curl_easy_setopt(curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "gcloud-gpu/" GG_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, raw);
	*retry_after = 0;
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, retry_after);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	if (payload != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	}
	curl_error[0] = '\0';
	rc = curl_easy_perform(curl);
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	if (auth != NULL) {
		/* The token does not outlive the request in our memory. */
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	return rc;
}

static int retryable(long status, json_t *body)
{
	const char *reason, *message;

	if (status == 429 || status >= 500)
		return 1;
	if (status == 403) {
		error_fields(body, &reason, &message);
		return is_rate_limit(reason);
	}
	return 0;
}

/*
 * Bearer tokens, refresh tokens and signed grants travel over TLS only: an http://
 * URL (an api_endpoint_overrides/compute or a token_uri of someone's choosing) is
 * refused unless it names the loopback, where the tests' fake API listens.  The URL
 * is taken apart by libcurl, as it will be for the request.
 */
static int url_allowed(const char *url, char **cause)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		r = gg_fail(cause, GG_EXIT_API, "'%s' is not a URL (check api_endpoint_overrides/"
			    "compute and the credentials' token_uri)", url);
	else if (strcasecmp(scheme, "https") == 0 ||
		 (strcasecmp(scheme, "http") == 0 &&
		  (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
		   strcasecmp(host, "localhost") == 0)))
		r = 0;
	else
		r = gg_fail(cause, GG_EXIT_API, "refusing '%s': credentials go over https only "
			    "(http is for a loopback test endpoint); check api_endpoint_overrides/"
			    "compute and the credentials' token_uri", url);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

int http_call(const struct http_request *rq, struct http_response *rs, char **cause)
{
	char curl_error[CURL_ERROR_SIZE], *payload = NULL;
	struct gg_buf raw = GG_BUF_INIT;
	const char *reason, *message;
	CURLcode rc = CURLE_OK;
	long retry_after = 0;
	int attempt, r;

	global_init();
	if ((r = url_allowed(rq->url, cause)) != 0)
		return r;
	if (rq->json != NULL)
		payload = json_dumps(rq->json, JSON_COMPACT);
	else if (rq->form != NULL)
		payload = xstrdup(rq->form);
	for (attempt = 1; attempt <= HTTP_ATTEMPTS; attempt++) {
		if (attempt > 1)
			http_backoff(attempt - 1, retry_after);
		http_response_release(rs);
		gg_buf_reset(&raw);
		rc = exchange(rq, payload, &rs->status, &raw, &retry_after, curl_error);
		if (rc == CURLE_OK && raw.len > 0)
			rs->body = json_loadb(raw.data, raw.len, 0, NULL);
		if (rc == CURLE_OK && !retryable(rs->status, rs->body))
			break;
		/* A refused or dropped connection is as transient as a 503. */
		if (rc != CURLE_OK && rc != CURLE_COULDNT_CONNECT && rc != CURLE_OPERATION_TIMEDOUT &&
		    rc != CURLE_RECV_ERROR && rc != CURLE_SEND_ERROR && rc != CURLE_GOT_NOTHING &&
		    rc != CURLE_COULDNT_RESOLVE_HOST && rc != CURLE_PARTIAL_FILE)
			break;
	}
	if (rc != CURLE_OK) {
		r = gg_fail(cause, GG_EXIT_API, "cannot reach '%s': %s: check the network "
			    "(and api_endpoint_overrides/compute)", rq->url,
			    curl_error[0] != '\0' ? curl_error : curl_easy_strerror(rc));
		goto out;
	}
	if (rs->status >= 200 && rs->status < 300) {
		r = 0;
		goto out;
	}
	error_fields(rs->body, &reason, &message);
	r = http_api_error(rs->status, reason, message, cause);
out:
	gg_buf_release(&raw);
	free(payload);
	return r;
}

void http_response_release(struct http_response *rs)
{
	json_decref(rs->body);
	rs->body = NULL;
	rs->status = 0;
}
