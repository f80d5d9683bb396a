/*
 * opts.h: command-line option parsing for the commands, one table per command.
 *
 * As curl's tool_getparam does, the parser returns what it found as an enum and never
 * prints or exits: the command decides.  It knows long options (`--name`,
 * `--name=VALUE`, `--name VALUE`), short ones (`-f`, `-p 8080`, `-p8080`), `--` and
 * positional arguments in any order.
 *
 *   struct opt_parser p; opt_init(&p, argc, argv);   // argv[0] is the command name
 *   while ((res = opt_next(&p, table, &id, &arg, cause)) != OPT_END) {
 *       if (res == OPT_ERROR) return GG_EXIT_USAGE;
 *       if (res == OPT_ARGUMENT) ... positional arg ...
 *       else switch (id) ...
 *   }
 *
 * The options every command that talks to a VM shares are in OPT_TARGET_SPECS, and
 * opt_target() applies one to a struct target_args.
 */
#ifndef GG_OPTS_H
#define GG_OPTS_H

#include "target.h"

enum opt_result {
	OPT_OPTION,   /* *id is the option's id; *arg its value when it takes one */
	OPT_ARGUMENT, /* *arg is a positional argument */
	OPT_END,
	OPT_ERROR,    /* *cause says why */
};

struct opt_spec {
	const char *name;  /* long name without "--" */
	char short_name;   /* 0: none */
	int takes_value;
	int id;
};

/* Ids of the shared options; a command's own ids start at OPT_COMMAND. */
enum opt_id {
	OPT_SSH = 1,
	OPT_SSH_PORT,
	OPT_IDENTITY,
	OPT_KNOWN_HOSTS,
	OPT_ACCEPT_NEW,
	OPT_CONNECT_TIMEOUT,
	OPT_PROJECT,
	OPT_ZONE,
	OPT_ACCESS_TOKEN_FILE,
	OPT_INTERNAL_IP,
	OPT_COMMAND = 100,
};

#define OPT_TARGET_SPECS                                                   \
	{ "ssh", 0, 1, OPT_SSH },                                          \
	{ "ssh-port", 'p', 1, OPT_SSH_PORT },                              \
	{ "identity", 'i', 1, OPT_IDENTITY },                              \
	{ "known-hosts", 0, 1, OPT_KNOWN_HOSTS },                          \
	{ "accept-new-host-key", 0, 0, OPT_ACCEPT_NEW },                   \
	{ "connect-timeout", 0, 1, OPT_CONNECT_TIMEOUT },                  \
	{ "project", 0, 1, OPT_PROJECT },                                  \
	{ "zone", 0, 1, OPT_ZONE },                                        \
	{ "access-token-file", 0, 1, OPT_ACCESS_TOKEN_FILE },              \
	{ "internal-ip", 0, 0, OPT_INTERNAL_IP }

/* The help text of the shared options, for the commands' --help. */
#define OPT_TARGET_HELP                                                                  \
	"\nTarget:\n"                                                                    \
	"  VM                         a Compute Engine VM name\n"                        \
	"  --ssh [USER@]HOST[:PORT]   any SSH host instead of a VM; also\n"               \
	"                             ssh://USER@HOST:PORT, or a Host of ~/.ssh/config\n" \
	"  -p, --ssh-port PORT        the SSH port (default 22, or ~/.ssh/config's)\n"    \
	"  -i, --identity FILE        private key (default: the agent, then ~/.ssh/id_*;\n" \
	"                             a VM: ~/.ssh/google_compute_engine)\n"            \
	"  --known-hosts FILE         known hosts (default ~/.ssh/known_hosts; for a VM:\n" \
	"                             what it publishes, in google_compute_known_hosts)\n" \
	"  --accept-new-host-key      trust a host seen for the first time\n"            \
	"  --connect-timeout SECONDS  give up connecting after this long (default 15)\n" \
	"  --project PROJECT          the VM's project (default: gcloud's core/project)\n" \
	"  --zone ZONE                the VM's zone (default: gcloud's compute/zone)\n"  \
	"  --access-token-file FILE   Google access token (default: gcloud's login)\n" \
	"  --internal-ip              connect to the VM's VPC address (from inside)\n"

/* The help text of the Compute Engine options of create, start, stop, delete... */
#define OPT_GCE_HELP                                                                     \
	"\nCompute Engine:\n"                                                              \
	"  --project PROJECT          the VM's project (default: gcloud's core/project)\n" \
	"  --zone ZONE                the VM's zone (default: gcloud's compute/zone)\n"  \
	"  --access-token-file FILE   Google access token (default: gcloud's login)\n"

struct opt_parser {
	int argc;
	char **argv;
	int index;          /* next argv element */
	const char *short_rest; /* inside a group of short options ("-fv") */
	int only_arguments; /* after "--" */
};

void opt_init(struct opt_parser *p, int argc, char **argv);

enum opt_result opt_next(struct opt_parser *p, const struct opt_spec *table, int *id,
			 const char **arg, char **cause);

/*
 * Apply a shared target option (OPT_SSH ... OPT_INTERNAL_IP) or, for
 * OPT_ARGUMENT, take the VM name.  0, or GG_EXIT_USAGE with *cause set.
 */
int opt_target(struct target_args *a, enum opt_result res, int id, const char *arg,
	       char **cause);

/*
 * Take every `flag` (a whole word, "--json") out of argv before a "--", for the
 * commands whose own parser does not know it (the Compute Engine ones).  1 when
 * it was there.
 */
int opt_take_flag(int *argc, char **argv, const char *flag);

/* Parse a non-negative integer option value.  0, or GG_EXIT_USAGE with *cause set. */
int opt_number(const char *name, const char *arg, long max, long *out, char **cause);

/*
 * An idle-stop period: "off" (0), or numbers with their units from the largest down,
 * as gcloud writes durations: "90m", "2h", "1d", "1h30m" (and "s", which the tests'
 * short periods use), from OPT_IDLE_MIN_S to OPT_IDLE_MAX_S.  With
 * GCLOUD_GPU_TEST_HOOKS=1 shorter periods pass (the helper checks again on the VM).
 * 0, or GG_EXIT_USAGE with *cause set.
 */
#define OPT_IDLE_MIN_S (10 * 60)
#define OPT_IDLE_MAX_S (7 * 24 * 3600)
int opt_idle_period(const char *arg, long *seconds, char **cause);

#endif
