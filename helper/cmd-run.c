/*
 * cmd-run.c: `gcloud-gpu-helper run`, the step runner itself (runner.h).  Internal:
 * apply, resume, ensure and the boot unit start it, detached; a user never needs to.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "helper.h"
#include "protocol.h"
#include "runner.h"

int cmd_run(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	int lock_fd = -1;

	if (argc == 3 && strcmp(argv[1], "--lock-fd") == 0)
		lock_fd = atoi(argv[2]);
	else if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'run' takes no arguments");
	return gg_runner_run(ctx, lock_fd, cause);
}
