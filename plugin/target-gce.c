/*
 * target-gce.c: where a Compute Engine VM name becomes an SSH target.
 *
 * gce_resolve_target (gce.h) does the Compute Engine part: instances.get, start a
 * TERMINATED VM, its address, ~/.ssh/google_compute_engine in the ssh-keys metadata,
 * and the host keys it publishes written to ~/.ssh/google_compute_known_hosts under
 * compute.<id>.  This file turns that into a struct target: the host key is looked up
 * under that alias (ssh.h connects its own socket for it), and a VM that was just
 * started or just given the key gets a while for sshd to come up and for the guest
 * agent to install the key, as `gcloud compute ssh` waits for both.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "error.h"
#include "gce.h"
#include "target.h"
#include "xmalloc.h"

/*
 * How long refused connections and authentications are retried (with backoff, by
 * remote_open) after a start or a new key: a booting VM's sshd and the guest agent
 * usually need well under a minute.
 */
#define SETTLE_SECONDS 120

/* Take ownership of a string of the Compute Engine target. */
static char *take(char **field)
{
	char *s = *field;

	*field = NULL;
	return s;
}

/* The VM name and the flags that name it again, for hints such as "run reattach X". */
static char *cli_arg(const struct target_args *a)
{
	char *s = xstrdup(a->vm), *more;

	if (a->project != NULL) {
		xasprintf(&more, "%s --project %s", s, a->project);
		free(s);
		s = more;
	}
	if (a->zone != NULL) {
		xasprintf(&more, "%s --zone %s", s, a->zone);
		free(s);
		s = more;
	}
	if (a->internal_ip) {
		xasprintf(&more, "%s --internal-ip", s);
		free(s);
		s = more;
	}
	return s;
}

int target_resolve_gce(const struct target_args *a, struct target *t, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gce_target g;
	int r;

	o.project = a->project;
	o.zone = a->zone;
	o.access_token_file = a->access_token_file;
	o.internal_ip = a->internal_ip;
	if ((r = gce_resolve_target(a->vm, &o, &g, cause)) != 0)
		return r;
	t->name = xstrdup(a->vm);
	t->cli_arg = cli_arg(a);
	t->host = take(&g.host);
	t->port = g.port;
	t->user = take(&g.user);
	/* -i and --known-hosts given on the command line win, as for any target. */
	if (t->identity == NULL)
		t->identity = take(&g.identity);
	if (t->known_hosts == NULL && g.known_hosts != NULL) {
		t->known_hosts = take(&g.known_hosts);
		t->host_key_alias = take(&g.host_key_alias);
	}
	if (g.key_added)
		fprintf(stderr, "gcloud-gpu: the key was just added to '%s': waiting up to %d s "
			"for its guest agent to install it\n", a->vm, SETTLE_SECONDS);
	t->managed = g.managed;
	if (g.key_added || g.started)
		t->settle_seconds = SETTLE_SECONDS;
	gce_target_release(&g);
	return 0;
}
