/*
 * target.h: what the user names on the command line, turned into where to connect.
 *
 * A target is either a plain SSH host (`--ssh USER@HOST[:PORT]`, no Google API) or a
 * Compute Engine VM name.  target_resolve turns the options into a struct target with
 * everything ssh.h needs; a VM name goes through target_resolve_gce (target-gce.c),
 * the one hook the Compute Engine code fills: look the instance up, start it when
 * TERMINATED, and set host, user, key, known_hosts file and host key alias.
 *
 * Per target, the last event this machine saw is kept under
 * $XDG_STATE_HOME/gcloud-gpu/targets/, so that `reattach` and `logs --since last`
 * pick up where the user left off.
 */
#ifndef GG_TARGET_H
#define GG_TARGET_H

#include "protocol.h"
#include "ssh.h"

/* The command-line options every command that talks to a VM accepts. */
struct target_args {
	const char *ssh;         /* --ssh USER@HOST[:PORT] */
	const char *vm;          /* the positional TARGET: a VM name */
	const char *identity;    /* --identity FILE */
	const char *known_hosts; /* --known-hosts FILE */
	int accept_new_host_key; /* --accept-new-host-key */
	int connect_timeout;     /* --connect-timeout SECONDS */
	/* A VM name's Compute Engine options (gce.h struct gce_options) */
	const char *project;     /* --project */
	const char *zone;        /* --zone */
	const char *access_token_file; /* --access-token-file */
	int internal_ip;         /* --internal-ip */
};

struct target {
	char *name;              /* stable name for messages and the state file */
	char *cli_arg;           /* how to name it again on the command line */
	char *host;
	char *user;              /* NULL: the local user */
	char *identity;
	char *known_hosts;
	char *host_key_alias;    /* look the host key up under this name (ssh.h) */
	int port;
	int settle_seconds;      /* a VM just started or its key just added: connection
				  * and authentication refusals are waited out this long */
	int managed;             /* a VM gcloud-gpu created (label gcloud-gpu=managed):
				  * idle stop is on by default */
	struct ssh_options ssh;  /* points into the fields above */
};

/*
 * Fill t from a.  0, or GG_EXIT_USAGE (no target, or a malformed one) or whatever the
 * Compute Engine hook returns, with *cause set.  Release t with target_release.
 */
int target_resolve(const struct target_args *a, struct target *t, char **cause);
void target_release(struct target *t);

/* Parse "USER@HOST[:PORT]", "HOST", "[V6ADDR]:PORT" into t's host, user and port. */
int target_parse_ssh(const char *spec, struct target *t, char **cause);

/* The Compute Engine hook (target-gce.c). */
int target_resolve_gce(const struct target_args *a, struct target *t, char **cause);

/* What this machine last saw of a target's event stream. */
struct target_seen {
	long long last_seq;      /* 0: nothing yet */
	char boot_id[64];        /* "" when unknown */
	char plan[GG_SHA256_HEX_SIZE];
};

/* Load it (all zero when none was saved); never fails. */
void target_seen_load(const struct target *t, struct target_seen *s);
/* Save it atomically; a failure only loses the bookmark, so it is not reported. */
void target_seen_save(const struct target *t, const struct target_seen *s);

#endif
