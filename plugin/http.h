/*
 * http.h: the one HTTP client of gcloud-gpu, over libcurl, speaking JSON through jansson.
 *
 * Everything that talks to Google (the Compute Engine API, the OAuth token endpoint)
 * goes through http_call: it sends the bearer token (never printing or logging it),
 * retries what is worth retrying (429, 5xx, a rate-limit 403, a dropped connection)
 * with exponential backoff and jitter, and turns a failure into one line that says
 * what to do next, per class: 401, 403, 404, 409, 412, 429, 5xx, quota, zone exhausted.
 *
 * Steps for a caller:
 *   struct http_request rq = { .method = "GET", .url = url, .bearer = token };
 *   struct http_response rs = HTTP_RESPONSE_INIT;
 *   r = http_call(&rq, &rs, &cause);   // 0 on 2xx; GG_EXIT_API otherwise, cause set
 *   use rs.status, rs.body (parsed JSON or NULL; the caller owns it)
 *   http_response_release(&rs);
 *
 * Delays: the first retry waits about $GCLOUD_GPU_API_DELAY_MS milliseconds (default
 * 1000; tests set it small), doubling up to 32 times that, each jittered down to half;
 * an answer's Retry-After (seconds, or an HTTP date) is waited instead when longer.
 */
#ifndef GG_HTTP_H
#define GG_HTTP_H

#include <jansson.h>

struct http_request {
	const char *method; /* "GET", "POST", "DELETE" */
	const char *url;
	const char *bearer; /* access token, or NULL */
	json_t *json;       /* body sent as application/json, or NULL */
	const char *form;   /* body sent as application/x-www-form-urlencoded, or NULL */
};

struct http_response {
	long status;  /* HTTP status; 0 when no answer came */
	json_t *body; /* the answer parsed as JSON, or NULL when empty or not JSON */
};

#define HTTP_RESPONSE_INIT { 0, NULL }

/*
 * Attempts per call, the first included, before a retryable failure is final.  Nine
 * attempts at the default base delay wait 1+2+4+8+16+32+32+32 s (at least half of that
 * after jitter, about 64 s): longer than a minute, so that a per-minute API quota
 * (Compute Engine's rate limits refill each minute) has refilled before we give up.
 */
#define HTTP_ATTEMPTS 9

/* The longest Retry-After we honour, in seconds: a longer one is waited this long. */
#define HTTP_RETRY_AFTER_MAX 120

/*
 * Send rq and wait for the answer, retrying transient failures.  Returns 0 on a 2xx
 * answer; else GG_EXIT_API with *cause set by http_api_error, and rs still filled so
 * that a caller can act on a status it expects (404, 412).
 */
int http_call(const struct http_request *rq, struct http_response *rs, char **cause);

void http_response_release(struct http_response *rs);

/*
 * The one mapping from an API failure to a line with the next action.  status is the
 * HTTP status (0 for an operation's error), reason the API's reason or error code
 * ("notFound", "QUOTA_EXCEEDED", "ZONE_RESOURCE_POOL_EXHAUSTED"; may be NULL), message
 * its text (may be NULL).  Sets *cause and returns GG_EXIT_API.
 */
int http_api_error(long status, const char *reason, const char *message, char **cause);

/*
 * Wait before retry number attempt (1-based): backoff with jitter, as documented above,
 * or retry_after_s seconds when that is longer (0: none asked).
 */
void http_backoff(int attempt, long retry_after_s);

/* Milliseconds of the base delay ($GCLOUD_GPU_API_DELAY_MS or 1000). */
long http_base_delay_ms(void);

/* The form encoding of s (for application/x-www-form-urlencoded bodies); malloc'd. */
char *http_form_escape(const char *s);

#endif
