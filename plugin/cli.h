/*
 * cli.h: the gcloud-gpu command table and its exit codes.
 *
 * main.c parses the global options, finds the command (a unique prefix is accepted,
 * ambiguous prefixes are listed), and calls it.  A command returns one of the exit
 * codes below and prints nothing on error itself: it sets *cause to one line, which
 * main prints once, as "gcloud-gpu: <cause>".
 */
#ifndef GG_CLI_H
#define GG_CLI_H

#include <stdio.h>

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
};

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, char **cause);
	const char *usage;
	const char *about;
};

/* The table, in the order --help lists it; NULL-terminated. */
extern const struct cli_command cli_commands[];

/* Print the top-level usage with the command list to f. */
void cli_usage(FILE *f);

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

#endif
