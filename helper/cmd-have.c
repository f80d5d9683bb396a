/*
 * cmd-have.c: `gcloud-gpu-helper have`, the first half of an upload: the manifest
 * comes in on stdin, the blobs the VM lacks (and how much of each it already holds)
 * go out as JSON.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "follow.h"
#include "fsutil.h"
#include "helper.h"
#include "store.h"

int cmd_have(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	struct gg_buf text = GG_BUF_INIT;
	json_t *result = NULL;
	int r;

	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'have' takes no arguments (the manifest is read from stdin)");
	umask(077);
	if ((r = gg_read_fd(0, "the manifest", GG_STORE_MAX_MANIFEST, &text, cause)) == 0 &&
	    (r = gg_store_have(ctx->root, text.data, text.len, &result, cause)) == 0)
		r = gg_print_json(result, cause);
	json_decref(result);
	gg_buf_release(&text);
	return r;
}
