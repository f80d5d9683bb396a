/*
 * cmd-version.c: `gcloud-gpu-helper version`, the first thing the CLI asks a VM.
 * One JSON object so the CLI can decide whether this helper speaks its protocol.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "error.h"
#include "helper.h"
#include "protocol.h"

int cmd_version(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	json_t *obj;
	char *text;

	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'version' takes no arguments");
	obj = json_pack("{s:s, s:i}", "version", GG_VERSION, "proto", GG_PROTOCOL_VERSION);
	text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	printf("%s\n", text);
	free(text);
	return GG_HELPER_OK;
}
