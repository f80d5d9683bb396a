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

int target_parse_ssh(const char *spec, struct target *t, char **cause)
{
	const char *at = strrchr(spec, '@'), *host = at != NULL ? at + 1 : spec, *end, *colon;
	char *stop;
	long port = 22;

	if (at == spec)
		return gg_fail(cause, GG_EXIT_USAGE, "empty user name in '%s'", spec);
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (end == NULL || end == host + 1)
			return gg_fail(cause, GG_EXIT_USAGE, "unclosed '[' in '%s'", spec);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return gg_fail(cause, GG_EXIT_USAGE, "unexpected text after ']' in '%s'", spec);
		host++;
	} else {
		colon = strchr(host, ':');
		end = colon != NULL ? colon : host + strlen(host);
	}
	if (end == host)
		return gg_fail(cause, GG_EXIT_USAGE, "no host in '%s' (expected USER@HOST[:PORT])", spec);
	if (colon != NULL) {
		port = strtol(colon + 1, &stop, 10);
		if (colon[1] == '\0' || *stop != '\0' || port < 1 || port > 65535)
			return gg_fail(cause, GG_EXIT_USAGE, "bad port in '%s' (1 to 65535)", spec);
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
	if (a->identity != NULL)
		t->identity = xstrdup(a->identity);
	if (a->known_hosts != NULL)
		t->known_hosts = xstrdup(a->known_hosts);
	if (a->ssh != NULL) {
		if ((r = target_parse_ssh(a->ssh, t, cause)) != 0)
			goto fail;
		if (t->user != NULL)
			xasprintf(&t->name, "%s@%s:%d", t->user, t->host, t->port);
		else
			xasprintf(&t->name, "%s:%d", t->host, t->port);
		xasprintf(&t->cli_arg, "--ssh %s", a->ssh);
	} else {
		if ((r = target_resolve_gce(a, t, cause)) != 0)
			goto fail;
		if (t->cli_arg == NULL)
			t->cli_arg = xstrdup(a->vm);
	}
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
