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

#include "buf.h"
#include "protocol.h"
#include "ssh.h"

/* The command-line options every command that talks to a VM accepts. */
struct target_args {
	const char *ssh;         /* --ssh [ssh://][USER@]HOST[:PORT], or a ~/.ssh/config Host */
	int port;                /* -p/--ssh-port; 0: not given */
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
	char *cli_arg;           /* how to name it again on the command line: every option
				  * that reached it (-i, --known-hosts, --project...), so a
				  * hint "run 'gcloud-gpu tunnel <cli_arg>'" works as printed */
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
	/* A Compute Engine VM (is_gce): its --project, --zone and --access-token-file as
	 * given (NULL: gcloud's), for target_record_label. */
	int is_gce;
	char *gce_project, *gce_zone, *gce_token_file;
};

/*
 * Fill t from a.  0, or GG_EXIT_USAGE (no target, or a malformed one) or whatever the
 * Compute Engine hook returns, with *cause set.  Release t with target_release.
 */
int target_resolve(const struct target_args *a, struct target *t, char **cause);
void target_release(struct target *t);

/*
 * Parse "USER@HOST[:PORT]", "HOST", "[V6ADDR]:PORT", each also as an ssh:// URL
 * ("ssh://USER@HOST:PORT/"), into t's host, user and port (0 when none is given).
 */
int target_parse_ssh(const char *spec, struct target *t, char **cause);

/* Append word to b for a command line a user pastes: as is, or in double quotes. */
void target_cli_word(struct gg_buf *b, const char *word);

/* The Compute Engine hook (target-gce.c). */
int target_resolve_gce(const struct target_args *a, struct target *t, char **cause);

/*
 * Record key=value as a label of a Compute Engine target, for `list` to show without
 * connecting (gce-fleet.h); nothing for an --ssh target.  Losing it costs only that
 * column, so a failure is a note on stderr, never an error.
 */
void target_record_label(const struct target *t, const char *key, const char *value);

/*
 * The plan's state as a followed plan ended with exit code (cli.h) recorded as the
 * GCE_LABEL_PLAN label: 0 "done", GG_EXIT_STEP "failed", GG_EXIT_INTERRUPTED "running"
 * (it goes on without us); other codes say nothing about the plan and record nothing.
 */
void target_record_plan(const struct target *t, int exit_code);

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
