/*
 * cmd-status.c: `gcloud-gpu-helper status`, where the plan stands, as one JSON
 * object: plan, state, steps, boot_id (now), last_seq, plan_seq, and idle (the idle
 * stop's setting and its last check, cmd-idle.c).
 */
#include <stdio.h>

#include <jansson.h>

#include "error.h"
#include "follow.h"
#include "fsutil.h"
#include "helper.h"
#include "protocol.h"
#include "journal.h"

int cmd_status(struct helper_context *ctx, int argc, char **argv, char **cause)
{
	json_t *state = NULL, *out = NULL, *v;
	char boot_id[64];
	int r;

	if (argc != 1)
		return gg_fail(cause, GG_HELPER_USAGE, "'status' takes no arguments");
	if ((r = gg_state_load(ctx->root, &state, cause)) != 0)
		return r;
	gg_read_boot_id(ctx->boot_id_file, boot_id);
	v = json_object_get(state, "steps");
	out = json_pack("{s:O?, s:s, s:o, s:s, s:I, s:I, s:o?}",
			"plan", json_object_get(state, "plan"),
			"state", json_string_value(json_object_get(state, "state")) != NULL ?
				 json_string_value(json_object_get(state, "state")) : "idle",
			"steps", v != NULL ? json_incref(v) : json_array(),
			"boot_id", boot_id,
			"last_seq", (json_int_t)gg_journal_last_seq(ctx->root),
			"plan_seq", (json_int_t)json_integer_value(json_object_get(state, "plan_seq")),
			"idle", gg_idle_status(ctx->root));
	r = out != NULL ? gg_print_json(out, cause) :
			  gg_fail(cause, GG_HELPER_SYSTEM, "state.json is damaged");
	json_decref(out);
	json_decref(state);
	return r;
}
