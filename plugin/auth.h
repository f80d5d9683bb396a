/*
 * auth.h: an OAuth access token for the Compute Engine API, from wherever the user's
 * gcloud setup keeps credentials.
 *
 * The first source that applies wins:
 *   1. --access-token-file;
 *   2. gcloud's auth/impersonate_service_account: `gcloud auth print-access-token`,
 *      which impersonates (gcloud's credentials, then IAM Credentials'
 *      generateAccessToken: nothing of that is ours to redo);
 *   3. auth/access_token_file;
 *   4. application default credentials: $GOOGLE_APPLICATION_CREDENTIALS, else
 *      application_default_credentials.json in gcloud's configuration directory.
 *      "authorized_user" files are exchanged through the refresh-token grant,
 *      "service_account" keys through a JWT grant signed RS256 (OpenSSL's libcrypto),
 *      both at the file's token_uri (default https://oauth2.googleapis.com/token);
 *      every other type (external_account, impersonated_service_account, ...) through
 *      `gcloud auth application-default print-access-token`, which knows them all;
 *   5. `gcloud auth print-access-token`.
 * Tokens from (4) are cached until 5 minutes before they expire, in a 0600 file under
 * $XDG_CACHE_HOME/gcloud-gpu/ (default ~/.cache/gcloud-gpu/), named after a hash of the
 * credentials, so that a command run twice a minute does not ask twice.  A token is
 * never printed or logged: messages name only where it came from.
 */
#ifndef GG_AUTH_H
#define GG_AUTH_H

#include <stddef.h>

struct auth_options {
	const char *access_token_flag; /* --access-token-file; NULL: none given */
	const char *access_token_file; /* auth/access_token_file; NULL: unset */
	const char *impersonate;       /* auth/impersonate_service_account; NULL: unset */
	const char *config_dir;        /* gcloud's configuration directory (for ADC) */
};

/* A token and where it came from. */
struct auth_token {
	char *value;  /* the token itself: never printed */
	char *source; /* where it came from, for messages ("access token file '...'") */
	char *fix;    /* what to do when Google refuses it */
	char *cache;  /* the cache file holding it; NULL: not cached */
};

#define AUTH_TOKEN_INIT { NULL, NULL, NULL, NULL }

/* Refresh this many seconds before expiry. */
#define AUTH_EXPIRY_MARGIN 300

/*
 * Find a token.  Returns 0 and *t filled (release it with auth_token_release), or
 * GG_EXIT_API with *cause saying which source failed and what to do.
 */
int auth_access_token(const struct auth_options *o, struct auth_token *t, char **cause);

/*
 * Google refused t (a 401): drop its cache entry, so that the next auth_access_token
 * asks its source afresh, and release it.
 */
void auth_token_forget(struct auth_token *t);

/* Clear and free t's fields. */
void auth_token_release(struct auth_token *t);

/*
 * The compact JWT assertion a service account signs: base64url(header).base64url(
 * claims).base64url(RS256 signature), for scope cloud-platform, audience token_uri,
 * valid from now for an hour.  key_pem is the key file's private_key (PKCS#8 PEM).
 * Returns 0 and *jwt (malloc'd), or GG_EXIT_API with *cause set.  Exposed for tests.
 */
int auth_service_account_jwt(const char *client_email, const char *key_id,
			     const char *key_pem, const char *token_uri, long now,
			     char **jwt, char **cause);

/* base64url without padding, as JWTs use it (nettle's encoder); malloc'd. */
char *auth_base64url(const void *data, size_t len);

#endif
