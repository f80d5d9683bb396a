/*
 * cmd-follow.c: `gcloud-gpu-helper follow [--from SEQ] [--no-wait]`, the event log
 * as a stream (follow.h); what a client runs again after a dropped link.
 */
#include <stdio.h>

#include "error.h"
#include "follow.h"
#include "helper.h"
#include "protocol.h"

int cmd_follow(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	long long from = 1;
	int no_wait, r;

	if ((r = gg_follow_options(argc, argv, 1, &from, &no_wait, cause)) != 0)
		return r;
	return gg_follow(ctx, from, no_wait, stdout, cause);
}
