/*
 * plan.c: a plan's steps from its manifest, and its record in state.json (see plan.h).
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "event.h"
#include "protocol.h"
#include "step.h"

#define STEP_SUFFIX ".sh"

int gg_plan_unfinished(json_t *state)
{
	const char *s = json_string_value(json_object_get(state, "state"));

	return s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "rebooting") == 0);
}

int gg_plan_save(const char *root, json_t *state, const char *plan_state, const char *boot_id,
		 char **cause)
{
	json_object_set_new(state, "state", json_string(plan_state));
	json_object_set_new(state, "boot_id", json_string(boot_id));
	return gg_state_save(root, state, cause);
}

/* The plan's steps saved, then its `plan` event (see gg_plan_start). */
static int plan_announce(const char *root, struct gg_journal *j, json_t *state,
			 long long *plan_seq, char **cause)
{
	json_t *names = json_array(), *step;
	size_t i;
	int r;

	if (names == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	json_array_foreach(json_object_get(state, "steps"), i, step)
		json_array_append(names, json_object_get(step, "name"));
	if (json_object_set_new(state, "plan_seq", json_integer(j->last_seq + 1)) != 0) {
		json_decref(names);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	/* State first: a follower that reads it finds the plan_seq of the coming event. */
	if ((r = gg_state_save(root, state, cause)) != 0) {
		json_decref(names);
		return r;
	}
	return gg_journal_emit(j, GG_EVENT_PLAN,
			       json_pack("{s:o, s:O}", "steps", names, "plan",
					 json_object_get(state, "plan")),
			       plan_seq, cause);
}

int gg_plan_continue(const char *root, struct gg_journal *j, json_t *state, long long *plan_seq,
		     char **cause)
{
	json_object_del(state, "reboot_boot_id");
	json_object_del(state, "reboot_step");
	json_object_del(state, "reboot_asked");
	json_object_del(state, "reboot_failed");
	json_object_set_new(state, "state", json_string("running"));
	return plan_announce(root, j, state, plan_seq, cause);
}

int gg_plan_start(const char *root, struct gg_journal *j, const char *sha256,
		  const struct gg_manifest *m, long long *plan_seq, char **cause)
{
	json_t *state = NULL, *steps;
	char name[GG_MANIFEST_MAX_COMPONENT + 1];
	size_t i, len;
	int r = GG_HELPER_SYSTEM;

	steps = json_array();
	state = json_pack("{s:s, s:s, s:I, s:o}", "plan", sha256, "state", "running", "plan_seq",
			  (json_int_t)(j->last_seq + 1), "steps", steps);
	if (state == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	for (i = 0; i < m->count; i++) {
		if (!gg_step_path_valid(m->files[i].path))
			continue;
		len = strlen(m->files[i].path) - strlen("steps/") - strlen(STEP_SUFFIX);
		snprintf(name, sizeof name, "%.*s", (int)len, m->files[i].path + strlen("steps/"));
		if (json_array_append_new(steps, json_pack("{s:s, s:s}", "name", name, "state",
							   "pending")) != 0) {
			gg_fail(cause, r, "out of memory");
			goto out;
		}
	}
	r = plan_announce(root, j, state, plan_seq, cause);
out:
	json_decref(state);
	return r;
}
