/*
 * auth.c: access tokens from a token file, application default credentials (with a
 * token cache) or gcloud itself, as auth.h lays out.
 */
#include "auth.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/base64.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "hash.h"
#include "http.h"
#include "xmalloc.h"

#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"

/* Clear and free a secret. */
static void free_secret(char *s)
{
	if (s != NULL) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* A token goes into an HTTP header: refuse anything that could break out of it. */
static int token_valid(const char *t)
{
	if (t == NULL || t[0] == '\0')
		return 0;
	for (; *t != '\0'; t++)
		if (*t <= ' ' || *t >= 127)
			return 0;
	return 1;
}

char *auth_base64url(const void *data, size_t len)
{
	struct base64_encode_ctx ctx;
	char *out = xmalloc(BASE64_ENCODE_LENGTH(len) + BASE64_ENCODE_FINAL_LENGTH + 1);
	size_t n;

	base64url_encode_init(&ctx);
	n = base64_encode_update(&ctx, out, len, data);
	n += base64_encode_final(&ctx, out + n);
	while (n > 0 && out[n - 1] == '=') /* JWTs drop the padding */
		n--;
	out[n] = '\0';
	return out;
}

static char *base64url_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT), *e;

	e = auth_base64url(s, strlen(s));
	free(s);
	return e;
}

int auth_service_account_jwt(const char *client_email, const char *key_id,
			     const char *key_pem, const char *token_uri, long now,
			     char **jwt, char **cause)
{
	char *header = NULL, *claims = NULL, *signature = NULL, *input = NULL;
	unsigned char *sig = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	size_t sig_len = 0;
	json_t *h, *c;
	BIO *bio;
	int r;

	bio = BIO_new_mem_buf(key_pem, -1);
	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		r = gg_fail(cause, GG_EXIT_API, "the service account key of '%s' is not an RSA "
			    "private key in PEM: download a new JSON key", client_email);
		goto out;
	}
	h = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (key_id != NULL)
		json_object_set_new(h, "kid", json_string(key_id));
	c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", client_email, "scope", SCOPE,
		      "aud", token_uri, "iat", (json_int_t)now, "exp", (json_int_t)now + 3600);
	header = base64url_json(h);
	claims = base64url_json(c);
	json_decref(h);
	json_decref(c);
	xasprintf(&input, "%s.%s", header, claims);
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, (unsigned char *)input, strlen(input)) != 1) {
		r = gg_fail(cause, GG_EXIT_API, "cannot sign with the key of '%s'", client_email);
		goto out;
	}
	sig = xmalloc(sig_len);
	if (EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, strlen(input)) != 1) {
		r = gg_fail(cause, GG_EXIT_API, "cannot sign with the key of '%s'", client_email);
		goto out;
	}
	signature = auth_base64url(sig, sig_len);
	xasprintf(jwt, "%s.%s", input, signature);
	r = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	free(header);
	free(claims);
	free(input);
	free(signature);
	free(sig);
	return r;
}

/* Read a whole small file; NULL with errno set on failure. */
static char *read_file(const char *path)
{
	struct gg_buf b = GG_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (gg_buf_add(&b, chunk, n) != 0)
			break;
	fclose(f);
	return gg_buf_detach(&b, NULL);
}

static int token_from_file(const char *path, struct auth_token *t, char **cause)
{
	char *s = read_file(path);
	size_t n;

	if (s == NULL)
		return gg_fail_errno(cause, GG_EXIT_API, errno, "cannot read access token file '%s'",
				     path);
	n = strcspn(s, "\r\n");
	s[n] = '\0';
	if (!token_valid(s)) {
		free_secret(s);
		return gg_fail(cause, GG_EXIT_API, "access token file '%s' holds no token: "
			       "write one with 'gcloud auth print-access-token > FILE'", path);
	}
	t->value = s;
	xasprintf(&t->source, "access token file '%s'", path);
	xasprintf(&t->fix, "write a fresh token there with 'gcloud auth print-access-token > "
		  "%s'", path);
	return 0;
}

/* --- the cache -------------------------------------------------------------------- */

static char *cache_path(const char *credentials)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char hex[GG_SHA256_HEX_SIZE], *path;

	gg_sha256_hex(credentials, strlen(credentials), hex);
	hex[16] = '\0';
	if (xdg != NULL && xdg[0] == '/')
		xasprintf(&path, "%s/gcloud-gpu/token-%s.json", xdg, hex);
	else
		xasprintf(&path, "%s/.cache/gcloud-gpu/token-%s.json", home ? home : ".", hex);
	return path;
}

static char *cache_read(const char *path)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "access_token"));
	json_int_t expires = json_integer_value(json_object_get(j, "expires_at"));
	char *token = NULL;

	if (t != NULL && token_valid(t) && expires - AUTH_EXPIRY_MARGIN > (json_int_t)time(NULL))
		token = xstrdup(t);
	json_decref(j);
	return token;
}

/* Best effort: a cache that cannot be written only costs a token request next time. */
static void cache_write(const char *path, const char *token, long expires_in)
{
	char *dir = xstrdup(path), *slash, *tmp = NULL, *s;
	json_t *j;
	FILE *f;
	int fd;

	slash = strrchr(dir, '/');
	*slash = '\0';
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		mkdir(dir, 0700); /* ~/.cache itself */
		*slash = '/';
	}
	mkdir(dir, 0700);
	xasprintf(&tmp, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	j = json_pack("{s:s, s:I}", "access_token", token,
		      "expires_at", (json_int_t)time(NULL) + expires_in);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		free_secret(s);
		goto out;
	}
	if (fputs(s, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
	free_secret(s);
out:
	free(tmp);
	free(dir);
}

/* --- application default credentials --------------------------------------------- */

static int token_grant(const char *token_uri, const char *form, const char *source,
		       char **token, long *expires_in, char **cause)
{
	struct http_request rq = { .method = "POST", .url = token_uri, .form = form };
	struct http_response rs = HTTP_RESPONSE_INIT;
	const char *t;
	int r;

	r = http_call(&rq, &rs, cause);
	if (r != 0) {
		gg_fail_wrap(cause, GG_EXIT_API, "cannot get a token for %s from '%s'", source,
			     token_uri);
		goto out;
	}
	t = json_string_value(json_object_get(rs.body, "access_token"));
	if (!token_valid(t)) {
		r = gg_fail(cause, GG_EXIT_API, "the token endpoint '%s' answered no access token "
			    "for %s", token_uri, source);
		goto out;
	}
	*token = xstrdup(t);
	*expires_in = (long)json_integer_value(json_object_get(rs.body, "expires_in"));
	if (*expires_in <= 0)
		*expires_in = 3600;
	r = 0;
out:
	http_response_release(&rs);
	return r;
}

static int gcloud_token(const char *const argv[], const char *what, struct auth_token *t,
			char **cause);

static int adc_token(const char *path, const char *text, struct auth_token *t, char **cause)
{
	static const char *const adc_argv[] = { "gcloud", "auth", "application-default",
						"print-access-token", NULL };
	json_t *j = json_loads(text, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *uri = json_string_value(json_object_get(j, "token_uri"));
	char *form = NULL, *a = NULL, *b = NULL, *c = NULL, *jwt = NULL, *cache = NULL;
	char *what = NULL;
	long expires_in = 0;
	int r;

	if (uri == NULL)
		uri = DEFAULT_TOKEN_URI;
	if (type != NULL && strcmp(type, "authorized_user") != 0 &&
	    strcmp(type, "service_account") != 0) {
		/* external_account, impersonated_service_account and what comes next:
		 * gcloud's own library reads them all, so we ask it rather than redo it. */
		xasprintf(&what, "application default credentials '%s' (type '%s', through "
			  "'gcloud auth application-default print-access-token')", path, type);
		r = gcloud_token(adc_argv, what, t, cause);
		goto out;
	}
	cache = cache_path(text);
	if ((t->value = cache_read(cache)) != NULL) {
		t->cache = cache;
		cache = NULL;
		r = 0;
		goto out;
	}
	if (type != NULL && strcmp(type, "authorized_user") == 0) {
		const char *id = json_string_value(json_object_get(j, "client_id"));
		const char *secret = json_string_value(json_object_get(j, "client_secret"));
		const char *refresh = json_string_value(json_object_get(j, "refresh_token"));

		if (id == NULL || secret == NULL || refresh == NULL) {
			r = gg_fail(cause, GG_EXIT_API, "credentials '%s' lack client_id, "
				    "client_secret or refresh_token: run 'gcloud auth "
				    "application-default login'", path);
			goto out;
		}
		a = http_form_escape(id);
		b = http_form_escape(secret);
		c = http_form_escape(refresh);
		xasprintf(&form, "grant_type=refresh_token&client_id=%s&client_secret=%s"
			  "&refresh_token=%s", a, b, c);
	} else if (type != NULL && strcmp(type, "service_account") == 0) {
		const char *email = json_string_value(json_object_get(j, "client_email"));
		const char *key = json_string_value(json_object_get(j, "private_key"));
		const char *key_id = json_string_value(json_object_get(j, "private_key_id"));

		if (email == NULL || key == NULL) {
			r = gg_fail(cause, GG_EXIT_API, "service account key '%s' lacks "
				    "client_email or private_key: download a new JSON key", path);
			goto out;
		}
		r = auth_service_account_jwt(email, key_id, key, uri, (long)time(NULL), &jwt,
					     cause);
		if (r != 0)
			goto out;
		xasprintf(&form, "grant_type=%s&assertion=%s",
			  "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", jwt);
	} else {
		r = gg_fail(cause, GG_EXIT_API, "credentials '%s' have no type: run 'gcloud "
			    "auth application-default login', or use --access-token-file", path);
		goto out;
	}
	r = token_grant(uri, form, path, &t->value, &expires_in, cause);
	if (r == 0) {
		cache_write(cache, t->value, expires_in);
		t->cache = cache;
		cache = NULL;
	}
out:
	if (r == 0) {
		if (t->source == NULL)
			xasprintf(&t->source, "application default credentials '%s'", path);
		free(t->fix);
		t->fix = xstrdup("run 'gcloud auth application-default login' or check "
				 "GOOGLE_APPLICATION_CREDENTIALS");
	}
	free(what);
	json_decref(j);
	free_secret(form);
	free_secret(a);
	free_secret(b);
	free_secret(c);
	free_secret(jwt);
	free(cache);
	return r;
}

/* --- gcloud itself ----------------------------------------------------------------- */

/* The last non-empty line of text (at most 300 bytes of it), malloc'd; "" when none. */
static char *last_line_of(const struct gg_buf *text)
{
	size_t end = text->len, start;

	while (end > 0 && (text->data[end - 1] == '\n' || text->data[end - 1] == '\r' ||
			   text->data[end - 1] == ' '))
		end--;
	for (start = end; start > 0 && text->data[start - 1] != '\n'; start--)
		;
	if (end - start > 300)
		end = start + 300;
	return xstrndup(text->data + start, end - start);
}

/*
 * Run gcloud (argv, found on PATH) and take the first line it prints as the token;
 * what names the source in messages.  Its stderr is read here (bounded) rather than
 * left on the user's terminal: a failing gcloud prints a dozen lines, of which the
 * last says why.
 */
static int gcloud_token(const char *const argv[], const char *what, struct auth_token *t,
			char **cause)
{
	struct gg_buf out = GG_BUF_INIT, err = GG_BUF_INIT;
	char chunk[1024], *why = NULL;
	int outfd[2], errfd[2], status = 0, r, open_fds = 2;
	ssize_t n;
	pid_t pid;

	if (pipe2(outfd, O_CLOEXEC) != 0)
		return gg_fail_errno(cause, GG_EXIT_API, errno, "cannot run 'gcloud'");
	if (pipe2(errfd, O_CLOEXEC) != 0) {
		close(outfd[0]);
		close(outfd[1]);
		return gg_fail_errno(cause, GG_EXIT_API, errno, "cannot run 'gcloud'");
	}
	pid = fork();
	if (pid < 0) {
		close(outfd[0]);
		close(outfd[1]);
		close(errfd[0]);
		close(errfd[1]);
		return gg_fail_errno(cause, GG_EXIT_API, errno, "cannot run 'gcloud'");
	}
	if (pid == 0) {
		dup2(outfd[1], 1);
		dup2(errfd[1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(outfd[1]);
	close(errfd[1]);
	/* Both pipes to their ends (poll skips a closed one's -1). */
	while (open_fds > 0) {
		struct pollfd p[2] = { { outfd[0], POLLIN, 0 }, { errfd[0], POLLIN, 0 } };
		int i;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			struct gg_buf *b = i == 0 ? &out : &err;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, chunk, sizeof chunk);
			if (n > 0 && b->len < 64 * 1024)
				gg_buf_add(b, chunk, (size_t)n);
			else if (n == 0 || (n < 0 && errno != EINTR)) {
				close(p[i].fd);
				if (i == 0)
					outfd[0] = -1;
				else
					errfd[0] = -1;
				open_fds--;
			}
		}
	}
	if (outfd[0] >= 0)
		close(outfd[0]);
	if (errfd[0] >= 0)
		close(errfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		r = gg_fail(cause, GG_EXIT_API, "no Google credentials found: run 'gcloud auth "
			    "application-default login', or set GOOGLE_APPLICATION_CREDENTIALS, "
			    "or pass --access-token-file");
		goto out;
	}
	gg_buf_addstr(&out, "");
	out.data[strcspn(out.data, "\r\n")] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !token_valid(out.data)) {
		why = last_line_of(&err);
		gg_printable(why, 0);
		r = gg_fail(cause, GG_EXIT_API, "%s failed%s%s: run 'gcloud auth login'", what,
			    why[0] != '\0' ? ": " : "", why);
		goto out;
	}
	t->value = xstrdup(out.data);
	t->source = xstrdup(what);
	t->fix = xstrdup("run 'gcloud auth login'");
	r = 0;
out:
	if (out.alloc > 0)
		memset(out.data, 0, out.len);
	gg_buf_release(&out);
	gg_buf_release(&err);
	free(why);
	return r;
}

int auth_access_token(const struct auth_options *o, struct auth_token *t, char **cause)
{
	static const char *const print_argv[] = { "gcloud", "auth", "print-access-token", NULL };
	const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	char *path = NULL, *text = NULL, *what = NULL;
	int r;

	memset(t, 0, sizeof *t);
	if (o->access_token_flag != NULL)
		return token_from_file(o->access_token_flag, t, cause);
	if (o->impersonate != NULL) {
		xasprintf(&what, "'gcloud auth print-access-token' (impersonating '%s')",
			  o->impersonate);
		r = gcloud_token(print_argv, what, t, cause);
		if (r == 0) {
			free(t->fix);
			xasprintf(&t->fix, "check that your gcloud account may impersonate '%s' "
				  "(roles/iam.serviceAccountTokenCreator)", o->impersonate);
		}
		goto out;
	}
	if (o->access_token_file != NULL)
		return token_from_file(o->access_token_file, t, cause);
	if (env != NULL && env[0] != '\0')
		path = xstrdup(env);
	else
		xasprintf(&path, "%s/application_default_credentials.json", o->config_dir);
	text = read_file(path);
	if (text == NULL && (errno != ENOENT || (env != NULL && env[0] != '\0'))) {
		r = gg_fail_errno(cause, GG_EXIT_API, errno, "cannot read credentials '%s'", path);
		goto out;
	}
	if (text != NULL)
		r = adc_token(path, text, t, cause);
	else
		r = gcloud_token(print_argv, "'gcloud auth print-access-token'", t, cause);
out:
	if (r != 0)
		auth_token_release(t);
	free_secret(text);
	free(path);
	free(what);
	return r;
}

void auth_token_forget(struct auth_token *t)
{
	if (t->cache != NULL)
		unlink(t->cache);
	auth_token_release(t);
}

void auth_token_release(struct auth_token *t)
{
	free_secret(t->value);
	free(t->source);
	free(t->fix);
	free(t->cache);
	memset(t, 0, sizeof *t);
}
