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
#include "gce-fleet.h"
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
	t->is_gce = 1;
	t->gce_project = a->project != NULL ? xstrdup(a->project) : NULL;
	t->gce_zone = a->zone != NULL ? xstrdup(a->zone) : NULL;
	t->gce_token_file = a->access_token_file != NULL ? xstrdup(a->access_token_file) : NULL;
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

void target_record_label(const struct target *t, const char *key, const char *value)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	char *cause = NULL;
	struct gce g;

	if (!t->is_gce)
		return;
	o.project = t->gce_project;
	o.zone = t->gce_zone;
	o.access_token_file = t->gce_token_file;
	if (gce_open(&g, &o, &cause) != 0 || gce_label_set(&g, t->name, key, value, &cause) != 0)
		fprintf(stderr, "gcloud-gpu: note: %s ('gcloud-gpu list' shows it as before)\n",
			cause != NULL ? cause : "cannot record the label");
	gce_close(&g);
	free(cause);
}

void target_record_plan(const struct target *t, int exit_code)
{
	const char *state = exit_code == GG_EXIT_OK ? "done" : exit_code == GG_EXIT_STEP ? "failed"
			    : exit_code == GG_EXIT_INTERRUPTED ? "running" : NULL;

	if (state != NULL)
		target_record_label(t, GCE_LABEL_PLAN, state);
}
