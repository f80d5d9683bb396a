/*
 * cli.c: gcloud-gpu's command table and dispatch.
 *
 * One table, one file per command (cmd-*.c).  cli_main finds the command, runs it,
 * prints its one error line and returns its exit code (cli.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "gce.h"
#include "lookup.h"
#include "protocol.h"

const struct cli_command cli_commands[] = {
	{ "help", cmd_help, "[COMMAND]", "show help for gcloud-gpu or one command" },
	{ "push", cmd_push, "TARGET [--payload DIR] [--idle-stop DURATION|off] [--json]", "set up the target and show its progress" },
	{ "logs", cmd_logs, "TARGET [-f] [--since SEQ|last] [--json]", "show the VM's event log" },
	{ "reattach", cmd_reattach, "TARGET", "pick up a target after a restart or a dropped link" },
	{ "status", cmd_status, "TARGET [--json]", "the plan, each step, the GPU and Jupyter" },
	{ "tunnel", cmd_tunnel, "TARGET [--port N]", "forward a local port to Jupyter on the VM" },
	{ "idle-stop", cmd_idle_stop, "TARGET DURATION|off", "power the VM off after DURATION unused (45m, 2h)" },
	{ "create", cmd_create, "NAME [--gpu TYPE] [--gpu-count N] [--machine-type M] "
	  "[--image-family F] [--disk-gb N] [--spot] " GCE_OPTIONS_USAGE,
	  "create a GPU VM on Compute Engine (quota checked first)" },
	{ "start", cmd_start, "NAME " GCE_OPTIONS_USAGE, "start a stopped VM" },
	{ "stop", cmd_stop, "NAME " GCE_OPTIONS_USAGE, "stop a VM: its GPU is no longer billed" },
	{ "delete", cmd_delete, "NAME [--yes] " GCE_OPTIONS_USAGE, "delete a VM and its disk" },
	{ "ssh-config", cmd_ssh_config, "NAME " GCE_OPTIONS_USAGE " [--internal-ip]",
	  "print an OpenSSH Host block for a VM (key and host keys set up)" },
	{ NULL, NULL, NULL, NULL },
};

void cli_usage(FILE *f)
{
	const struct cli_command *c;

	fprintf(f, "usage: gcloud-gpu [--version] [--help] COMMAND [ARGS]\n\n"
		   "Turn a GPU VM into a working GPU Jupyter server, and keep it that way.\n\n"
		   "Commands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->about);
	fprintf(f, "\nExit codes:\n"
		   "  0 ok   1 local error   2 usage   3 Google auth/API error\n"
		   "  4 SSH connection or authentication failed   5 host key unknown or changed\n"
		   "  6 a step failed on the VM   7 interrupted: the VM goes on, run 'reattach'\n"
		   "  8 the helper on the VM refused or failed\n");
}

/* Exact name, else a unique prefix (lookup.h); an ambiguous prefix lists the candidates. */
static const struct cli_command *find_command(const char *name, char **cause)
{
	char *candidates = NULL;
	long i = gg_lookup(cli_commands, sizeof cli_commands[0],
			   sizeof cli_commands / sizeof cli_commands[0], name, &candidates);

	if (i >= 0)
		return &cli_commands[i];
	if (i == -2)
		gg_fail(cause, GG_EXIT_USAGE, "ambiguous command '%s', could be:%s", name,
			candidates != NULL ? candidates : "");
	else
		gg_fail(cause, GG_EXIT_USAGE, "unknown command '%s' (see gcloud-gpu --help)", name);
	free(candidates);
	return NULL;
}

int cli_main(int argc, char **argv)
{
	const struct cli_command *cmd;
	char *cause = NULL;
	int r;

	if (argc < 2) {
		cli_usage(stderr);
		return GG_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_usage(stdout);
		return GG_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("gcloud-gpu %s (event protocol %d)\n", GG_VERSION, GG_PROTOCOL_VERSION);
		return GG_EXIT_OK;
	}
	cmd = find_command(argv[1], &cause);
	if (cmd == NULL) {
		r = GG_EXIT_USAGE;
	} else {
		r = cmd->run(argc - 1, argv + 1, &cause);
	}
	if (r != GG_EXIT_OK && cause != NULL)
		fprintf(stderr, "gcloud-gpu: %s\n", cause);
	free(cause);
	return r;
}
