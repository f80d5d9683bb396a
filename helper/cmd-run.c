/*
 * cmd-run.c: `gcloud-gpu-helper run`, the step runner itself (runner.h).  Internal:
 * apply, resume, ensure and the boot unit start it, detached; a user never needs to.
 */
#include "error.h"
#include "helper.h"
#include "protocol.h"
#include "runner.h"

int cmd_run(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'run' takes no arguments");
	return gg_runner_run(ctx, cause);
}
