/*
 * cmd-unpack.c: `gcloud-gpu-helper unpack ARCHIVE DEST`, secure extraction of an
 * untrusted archive (unpack.h), callable alone so that it can be tested alone.
 */
#include <stdio.h>

#include "error.h"
#include "helper.h"
#include "protocol.h"
#include "unpack.h"

int cmd_unpack(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	if (argc != 3)
		return gg_fail(cause, GG_HELPER_USAGE, "usage: unpack ARCHIVE DEST");
	return gg_unpack(argv[1], argv[2], cause);
}
