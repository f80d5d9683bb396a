/*
 * cmd-recv.c: `gcloud-gpu-helper recv [--manifest BYTES]`, the upload: a tar stream
 * (zstd-compressed or not) of blobs on stdin, each stored only once it verifies
 * (store.h).  With --manifest, stdin starts with that many bytes of manifest, answered
 * first as `have` answers it (one line), so that a push asks what is missing and sends
 * it over one exec channel instead of two; when nothing is missing no stream follows
 * and the answer is at once {"stored":[],"bytes":0}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "follow.h"
#include "helper.h"
#include "store.h"

/* Read exactly len bytes of fd 0 into out; the upload stream follows them. */
static int read_manifest(size_t len, struct gg_buf *out, char **cause)
{
	char chunk[64 * 1024];
	ssize_t n;

	while (out->len < len) {
		size_t want = len - out->len < sizeof chunk ? len - out->len : sizeof chunk;

		n = read(0, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot read the manifest");
		if (n == 0)
			return gg_fail(cause, GG_HELPER_REFUSED, "the manifest ended after %zu of its %zu bytes",
				       out->len, len);
		if (gg_buf_add(out, chunk, (size_t)n) != 0)
			return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	return 0;
}

int cmd_recv(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	struct gg_buf text = GG_BUF_INIT;
	json_t *result = NULL;
	char *end;
	long long len;
	int r;

	if (argc == 3 && strcmp(argv[1], "--manifest") == 0) {
		errno = 0;
		len = strtoll(argv[2], &end, 10);
		if (errno != 0 || end == argv[2] || *end != '\0' || len < 1 ||
		    len > GG_STORE_MAX_MANIFEST)
			return gg_fail(cause, GG_HELPER_USAGE, "'recv --manifest' takes a byte count "
				       "from 1 to %d, not '%s'", GG_STORE_MAX_MANIFEST, argv[2]);
	} else if (argc != 1) {
		return gg_fail(cause, GG_HELPER_USAGE, "usage: recv [--manifest BYTES] < [MANIFEST] TAR");
	} else {
		len = 0;
	}
	umask(077);
	if (len > 0 &&
	    ((r = read_manifest((size_t)len, &text, cause)) != 0 ||
	     (r = gg_store_have(ctx->root, text.data, text.len, &result, cause)) != 0 ||
	     (r = gg_print_json(result, cause)) != 0))
		goto out;
	/* Nothing missing: no stream follows, and nothing was stored. */
	if (len > 0 && json_array_size(json_object_get(result, "missing")) == 0) {
		json_decref(result);
		result = json_pack("{s:[], s:i}", "stored", "bytes", 0);
		r = result != NULL ? gg_print_json(result, cause)
				   : gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	json_decref(result);
	result = NULL;
	if ((r = gg_store_recv(ctx->root, 0, &result, cause)) == 0)
		r = gg_print_json(result, cause);
out:
	json_decref(result);
	gg_buf_release(&text);
	return r;
}
