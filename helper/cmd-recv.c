/*
 * cmd-recv.c: `gcloud-gpu-helper recv`, the second half of an upload: a tar+zstd
 * stream of blobs on stdin, each stored only once it verifies (store.h).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "follow.h"
#include "helper.h"
#include "store.h"

int cmd_recv(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	json_t *result = NULL;
	int r;

	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'recv' takes no arguments (the stream is read from stdin)");
	umask(077);
	if ((r = gg_store_recv(ctx->root, 0, &result, cause)) == 0)
		r = gg_print_json(result, cause);
	json_decref(result);
	return r;
}
