/*
 * cmd-probe.c: `gcloud-gpu-helper probe`, the machine facts of probe.h as one JSON
 * object on stdout.  The CLI asks it before a push (GPU present? which driver? Secure
 * Boot?), and tests/gpu/run.sh compares it with nvidia-smi on real hardware.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "error.h"
#include "helper.h"
#include "nvsmi.h"
#include "probe.h"
#include "protocol.h"

int cmd_probe(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	struct gg_probe_options options;
	const char *sysroot = getenv(GG_ENV_SYSROOT);
	json_t *facts = NULL;
	char *text = NULL;
	int r;

	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'probe' takes no arguments");
	options.sysroot = sysroot != NULL ? sysroot : "";
	options.state_root = ctx->root;
	options.nvidia_smi = "nvidia-smi";
	options.timeout_ms = GG_NVSMI_TIMEOUT_MS;
	r = gg_probe(&options, &facts, cause);
	if (r != 0)
		goto out;
	text = json_dumps(facts, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
		goto out;
	}
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		r = gg_fail(cause, GG_HELPER_SYSTEM, "cannot write to stdout");
		goto out;
	}
	r = GG_HELPER_OK;
out:
	free(text);
	json_decref(facts);
	return r;
}
