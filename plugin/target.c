/*
 * target.c: target names and the last-seen bookmark of target.h.
 */
#include "target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "event.h"
#include "hash.h"
#include "xdg.h"
#include "xmalloc.h"

int target_parse_ssh(const char *given, struct target *t, char **cause)
{
	int url = strncmp(given, "ssh://", 6) == 0;
	char *spec = xstrdup(url ? given + 6 : given);
	const char *at, *host, *end, *colon;
	char *stop;
	long port = 0;
	int r = GG_EXIT_USAGE;

	/* A URL may end with "/" (ssh://host/); it names no path. */
	if (url && spec[0] != '\0' && spec[strlen(spec) - 1] == '/')
		spec[strlen(spec) - 1] = '\0';
	at = strrchr(spec, '@');
	host = at != NULL ? at + 1 : spec;
	if (at == spec) {
		gg_fail(cause, r, "empty user name in '%s'", given);
		goto out;
	}
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (end == NULL || end == host + 1) {
			gg_fail(cause, r, "unclosed '[' in '%s'", given);
			goto out;
		}
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL) {
			gg_fail(cause, r, "unexpected text after ']' in '%s'", given);
			goto out;
		}
		host++;
	} else {
		colon = strchr(host, ':');
		end = colon != NULL ? colon : host + strlen(host);
	}
	if (end == host) {
		gg_fail(cause, r, "no host in '%s' (expected USER@HOST[:PORT])", given);
		goto out;
	}
	if (colon != NULL) {
		port = strtol(colon + 1, &stop, 10);
		if (colon[1] == '\0' || *stop != '\0' || port < 1 || port > 65535) {
			gg_fail(cause, r, "bad port in '%s' (1 to 65535)", given);
			goto out;
		}
	}
	free(t->host);
	free(t->user);
	t->host = xmalloc((size_t)(end - host) + 1);
	memcpy(t->host, host, (size_t)(end - host));
	t->host[end - host] = '\0';
	t->user = NULL;
	if (at != NULL) {
		t->user = xmalloc((size_t)(at - spec) + 1);
		memcpy(t->user, spec, (size_t)(at - spec));
		t->user[at - spec] = '\0';
	}
	t->port = (int)port;
	r = 0;
out:
	free(spec);
	return r;
}

void target_cli_word(struct gg_buf *b, const char *word)
{
	const char *p;

	if (b->len > 0)
		gg_buf_addch(b, ' ');
	if (word[0] != '\0' && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789@%+=:,./_-[]") == strlen(word)) {
		gg_buf_addstr(b, word);
		return;
	}
	gg_buf_addch(b, '"');
	for (p = word; *p != '\0'; p++) {
		if (strchr("\"\\$`", *p) != NULL)
			gg_buf_addch(b, '\\');
		gg_buf_addch(b, *p);
	}
	gg_buf_addch(b, '"');
}

/* An option and its value, for cli_arg. */
static void cli_option(struct gg_buf *b, const char *option, const char *value)
{
	if (value == NULL)
		return;
	target_cli_word(b, option);
	target_cli_word(b, value);
}

/*
 * How to name the target again: every option that reached it, so that a hint works
 * as printed (a reattach without the user's -i would wait for a key it never gets).
 * Not --accept-new-host-key: the key is in the known hosts file by then.
 */
static char *cli_arg(const struct target_args *a)
{
	struct gg_buf b = GG_BUF_INIT;
	char number[16];

	if (a->ssh != NULL)
		cli_option(&b, "--ssh", a->ssh);
	else
		target_cli_word(&b, a->vm);
	if (a->port > 0) {
		snprintf(number, sizeof number, "%d", a->port);
		cli_option(&b, "-p", number);
	}
	cli_option(&b, "-i", a->identity);
	cli_option(&b, "--known-hosts", a->known_hosts);
	if (a->connect_timeout > 0) {
		snprintf(number, sizeof number, "%d", a->connect_timeout);
		cli_option(&b, "--connect-timeout", number);
	}
	cli_option(&b, "--project", a->project);
	cli_option(&b, "--zone", a->zone);
	cli_option(&b, "--access-token-file", a->access_token_file);
	if (a->internal_ip)
		target_cli_word(&b, "--internal-ip");
	return gg_buf_detach(&b, NULL);
}

/* "-i key.pub" names the public half; say which file to give instead. */
static int check_identity(const char *identity, char **cause)
{
	size_t len = strlen(identity);
	char line[16] = "";
	FILE *f;

	if (len > 4 && strcmp(identity + len - 4, ".pub") == 0)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' is the public half of a key: give the "
			       "private key with -i '%.*s'", identity, (int)(len - 4), identity);
	f = fopen(identity, "r");
	if (f != NULL) {
		if (fgets(line, sizeof line, f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	if (strncmp(line, "ssh-", 4) == 0 || strncmp(line, "ecdsa-", 6) == 0 ||
	    strncmp(line, "sk-", 3) == 0)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' is a public key: give the private key "
			       "(the file without .pub) with -i", identity);
	return 0;
}

int target_resolve(const struct target_args *a, struct target *t, char **cause)
{
	int r;

	memset(t, 0, sizeof *t);
	if (a->ssh != NULL && a->vm != NULL)
		return gg_fail(cause, GG_EXIT_USAGE, "name either a VM or --ssh USER@HOST, not both");
	if (a->ssh == NULL && a->vm == NULL)
		return gg_fail(cause, GG_EXIT_USAGE, "no target: name a VM or give --ssh USER@HOST[:PORT]");
	if (a->ssh != NULL && (a->project != NULL || a->zone != NULL ||
			       a->access_token_file != NULL || a->internal_ip))
		return gg_fail(cause, GG_EXIT_USAGE, "--project, --zone, --access-token-file and "
			       "--internal-ip are for a VM name, not --ssh");
	if (a->identity != NULL && (r = check_identity(a->identity, cause)) != 0)
		return r;
	if (a->identity != NULL)
		t->identity = xstrdup(a->identity);
	if (a->known_hosts != NULL)
		t->known_hosts = xstrdup(a->known_hosts);
	if (a->ssh != NULL) {
		if ((r = target_parse_ssh(a->ssh, t, cause)) != 0)
			goto fail;
		if (a->port > 0)
			t->port = a->port;
		/* ~/.ssh/config may give HostName, User, Port, IdentityFile (ssh.c reads it). */
		t->ssh.read_config = 1;
		if (t->user != NULL)
			xasprintf(&t->name, "%s@%s:%d", t->user, t->host, t->port > 0 ? t->port : 22);
		else
			xasprintf(&t->name, "%s:%d", t->host, t->port > 0 ? t->port : 22);
	} else {
		if ((r = target_resolve_gce(a, t, cause)) != 0)
			goto fail;
		if (a->port > 0)
			t->port = a->port;
	}
	t->cli_arg = cli_arg(a);
	t->ssh.host = t->host;
	t->ssh.port = t->port;
	t->ssh.user = t->user;
	t->ssh.identity = t->identity;
	t->ssh.known_hosts = t->known_hosts;
	t->ssh.host_key_alias = t->host_key_alias;
	t->ssh.accept_new_host_key = a->accept_new_host_key;
	t->ssh.connect_timeout = a->connect_timeout;
	return 0;
fail:
	target_release(t);
	return r;
}

void target_release(struct target *t)
{
	free(t->name);
	free(t->cli_arg);
	free(t->host);
	free(t->user);
	free(t->identity);
	free(t->known_hosts);
	free(t->host_key_alias);
	free(t->gce_project);
	free(t->gce_zone);
	free(t->gce_token_file);
	memset(t, 0, sizeof *t);
}

/* targets/<name with anything but [A-Za-z0-9._-] as '_'>.json */
static char *seen_path(const struct target *t, int create)
{
	char *name, *p, *path;

	xasprintf(&name, "targets/%s.json", t->name);
	for (p = name + strlen("targets/"); *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '@')
			*p = '_';
	path = xdg_path(XDG_STATE, name, create);
	free(name);
	return path;
}

void target_seen_load(const struct target *t, struct target_seen *s)
{
	char *path = seen_path(t, 0);
	json_t *root = json_load_file(path, 0, NULL);
	const char *v;

	memset(s, 0, sizeof *s);
	if (json_is_object(root)) {
		s->last_seq = json_integer_value(json_object_get(root, "last_seq"));
		v = json_string_value(json_object_get(root, "boot_id"));
		if (v != NULL)
			snprintf(s->boot_id, sizeof s->boot_id, "%s", v);
		v = json_string_value(json_object_get(root, "plan"));
		if (v != NULL && gg_sha256_hex_valid(v))
			snprintf(s->plan, sizeof s->plan, "%s", v);
	}
	/* A bookmark saved before seqs were bounded cannot be believed either. */
	if (s->last_seq < 0 || s->last_seq > GG_EVENT_MAX_SEQ)
		s->last_seq = 0;
	json_decref(root);
	free(path);
}

void target_seen_save(const struct target *t, const struct target_seen *s)
{
	char *path = seen_path(t, 1), *tmp;
	json_t *root = json_pack("{s:I, s:s, s:s}", "last_seq", (json_int_t)s->last_seq,
				 "boot_id", s->boot_id, "plan", s->plan);

	xasprintf(&tmp, "%s.%ld.tmp", path, (long)getpid());
	if (root != NULL && json_dump_file(root, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
	unlink(tmp);
	json_decref(root);
	free(tmp);
	free(path);
}
