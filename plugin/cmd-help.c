/*
 * cmd-help.c: `gcloud-gpu help [COMMAND]`: the top-level help, or a command's own
 * text (cli_help: the same one --help and -h print).
 */
#include <stdio.h>

#include "cli.h"
#include "error.h"

int cmd_help(int argc, char **argv, char **cause)
{
	if (argc > 2)
		return gg_fail(cause, GG_EXIT_USAGE, "'help' takes at most one command name");
	if (argc == 2)
		return cli_help(argv[1], cause);
	cli_usage(stdout);
	return GG_EXIT_OK;
}
