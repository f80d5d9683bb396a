/*
 * cli.h: the gcloud-gpu command table and its exit codes.
 *
 * main.c parses the global options, finds the command (its exact name only: a typo
 * gets "did you mean", never another command), and calls it.  A command returns one
 * of the exit codes below and prints nothing on error itself: it sets *cause to one
 * line, which main prints once, as "gcloud-gpu: <cause>".
 *
 * Adding a command: a cmd-NAME.c with `int cmd_NAME(int, char **, char **)` and its
 * help text `const char cli_help_NAME[]` (declared below), one row in cli_commands
 * (cli.c), its words in completion/ (bash and zsh) and a section in docs/CLI.md and
 * docs/gcloud-gpu.1.  cli_main handles -h/--help (the row's help text, the same as
 * `help NAME`) and -v/--verbose for every command, before the command sees argv.
 */
#ifndef GG_CLI_H
#define GG_CLI_H

#include <stdio.h>

#include <jansson.h>

/* Documented in --help and gcloud-gpu(1); stable once released. */
enum gg_exit {
	GG_EXIT_OK = 0,
	GG_EXIT_ERROR = 1,       /* local error: files, memory, bad payload */
	GG_EXIT_USAGE = 2,       /* bad command line */
	GG_EXIT_API = 3,         /* Google auth or Compute Engine API error */
	GG_EXIT_SSH = 4,         /* cannot connect or authenticate over SSH */
	GG_EXIT_HOSTKEY = 5,     /* host key unknown (non-interactive) or changed */
	GG_EXIT_STEP = 6,        /* a step of the plan failed on the VM */
	GG_EXIT_INTERRUPTED = 7, /* link lost or ^C; work goes on, `reattach` resumes */
	GG_EXIT_REMOTE = 8,      /* the helper on the VM refused or failed */
	GG_EXIT_BUSY = 9,        /* push: another plan runs on the VM (named); nothing applied */
};

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, char **cause);
	const char *about;   /* one line, for the top-level help */
	const char *help;    /* the whole text of `help NAME`, `NAME --help`, `NAME -h` */
};

/* The table, in the order --help lists it; NULL-terminated. */
extern const struct cli_command cli_commands[];

/* Print the top-level usage with the command list to f. */
void cli_usage(FILE *f);

/* Print the help text of the command named name to stdout; GG_EXIT_USAGE if none. */
int cli_help(const char *name, char **cause);

/*
 * -v (1): what is connected to and run; -vv (2): more; -vvv (3): libssh's own log.
 * Set by cli_main from -v/-vv/-vvv/--verbose anywhere before a "--".
 */
extern int cli_verbose;

/* A "gcloud-gpu: debug: ..." line on stderr when cli_verbose >= level. */
void cli_debug(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The noun for a count: one when n is 1, else many ("1 file", "0 files"). */
const char *cli_plural(unsigned long long n, const char *one, const char *many);

/*
 * obj as one compact line of JSON for a terminal (malloc'd; NULL when out of memory):
 * ASCII only, every control character escaped, DEL included, which jansson leaves
 * raw.  What a VM or the API sent may be in obj, keys too; re-encoded this way it
 * cannot drive the terminal that shows --json output.
 */
char *cli_json_text(json_t *obj);

/* Print obj (--json) as one line of cli_json_text on stdout, and release it. */
void cli_json_print(json_t *obj);

/* A byte count for people: "812 B", "1.5 KiB", "4.0 MiB" (into out). */
void cli_bytes(char *out, size_t size, double bytes);

/* The whole program: parse, dispatch, print the error, return the exit code. */
int cli_main(int argc, char **argv);

int cmd_help(int argc, char **argv, char **cause);
int cmd_push(int argc, char **argv, char **cause);
int cmd_logs(int argc, char **argv, char **cause);
int cmd_reattach(int argc, char **argv, char **cause);
int cmd_status(int argc, char **argv, char **cause);
int cmd_tunnel(int argc, char **argv, char **cause);
int cmd_idle_stop(int argc, char **argv, char **cause);
int cmd_create(int argc, char **argv, char **cause);
int cmd_start(int argc, char **argv, char **cause);
int cmd_stop(int argc, char **argv, char **cause);
int cmd_delete(int argc, char **argv, char **cause);
int cmd_ssh_config(int argc, char **argv, char **cause);
int cmd_list(int argc, char **argv, char **cause);
int cmd_ssh(int argc, char **argv, char **cause);

extern const char cli_help_help[], cli_help_push[], cli_help_logs[], cli_help_reattach[],
	cli_help_status[], cli_help_tunnel[], cli_help_ssh[], cli_help_create[],
	cli_help_start[], cli_help_stop[], cli_help_delete[], cli_help_ssh_config[], cli_help_list[],
	cli_help_idle_stop[];

#endif
