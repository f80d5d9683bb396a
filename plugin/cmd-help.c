/*
 * cmd-help.c: `gcloud-gpu help [COMMAND]`, the same text as --help.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"

int cmd_help(int argc, char **argv, char **cause)
{
	const struct cli_command *c;

	if (argc > 2)
		return gg_fail(cause, GG_EXIT_USAGE, "'help' takes at most one command name");
	if (argc == 2) {
		for (c = cli_commands; c->name != NULL; c++) {
			if (strcmp(c->name, argv[1]) == 0) {
				printf("usage: gcloud-gpu %s %s\n\n%s\n", c->name, c->usage, c->about);
				return GG_EXIT_OK;
			}
		}
		return gg_fail(cause, GG_EXIT_USAGE, "no command '%s' (see gcloud-gpu --help)",
			       argv[1]);
	}
	cli_usage(stdout);
	return GG_EXIT_OK;
}
