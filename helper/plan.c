/*
 * plan.c: a plan's steps from its manifest, and its record in state.json (see plan.h).
 */
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "event.h"
#include "fsutil.h"
#include "protocol.h"
#include "release.h"
#include "step.h"
#include "steps.h"

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

int gg_plan_log_end(struct gg_journal *j, json_t *state, char **cause)
{
	json_t *end = json_object_get(state, "end");
	const char *type = json_string_value(json_object_get(end, "type"));
	json_t *fields;

	if (type == NULL || json_integer_value(json_object_get(end, "seq")) <= j->last_seq)
		return 0;
	fields = json_object();
	if (fields == NULL || json_object_update(fields, end) != 0) {
		json_decref(fields);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	json_object_del(fields, "seq");
	json_object_del(fields, "type");
	return gg_journal_emit(j, strcmp(type, "done") == 0 ? GG_EVENT_DONE : GG_EVENT_FAILED, fields,
			       NULL, cause);
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
	json_object_del(state, "end");
	json_object_set_new(state, "state", json_string("running"));
	return plan_announce(root, j, state, plan_seq, cause);
}

/* The steps of manifest m, in path order: their names into names[] (*count of them). */
static int plan_steps(const struct gg_manifest *m, char names[][GG_MANIFEST_MAX_COMPONENT + 1],
		      size_t *count, char **cause)
{
	size_t i, len;

	*count = 0;
	for (i = 0; i < m->count; i++) {
		if (!gg_step_path_valid(m->files[i].path))
			continue;
		if (*count == GG_STEPS_MAX)
			return gg_fail(cause, GG_HELPER_REFUSED, "recipe refused: more than %d steps",
				       GG_STEPS_MAX);
		len = strlen(m->files[i].path) - strlen("steps/") - strlen(STEP_SUFFIX);
		snprintf(names[*count], GG_MANIFEST_MAX_COMPONENT + 1, "%.*s", (int)len,
			 m->files[i].path + strlen("steps/"));
		(*count)++;
	}
	return 0;
}

/* The head of a step (the release's own file, never a link) into b. */
static int read_head(const char *path, const char *step, struct gg_buf *b, char **cause)
{
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd < 0)
		return gg_fail_errno(cause, GG_HELPER_REFUSED, errno,
				     "recipe refused: cannot read step '%s'", step);
	while (b->len < GG_STEPS_HEADER_MAX) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot read step '%s'", step);
			break;
		}
		if (n == 0)
			break;
		if (gg_buf_add(b, chunk, (size_t)n) != 0) {
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			break;
		}
	}
	close(fd);
	return r;
}

int gg_plan_start(const char *root, struct gg_journal *j, const char *sha256,
		  const struct gg_manifest *m, long long *plan_seq, char **cause)
{
	static char names[GG_STEPS_MAX][GG_MANIFEST_MAX_COMPONENT + 1];
	struct gg_buf head = GG_BUF_INIT;
	char *release = NULL, *path = NULL;
	json_t *state = NULL, *steps, *needs;
	size_t i, count;
	int r = GG_HELPER_SYSTEM;

	steps = json_array();
	state = json_pack("{s:s, s:s, s:I, s:o}", "plan", sha256, "state", "running", "plan_seq",
			  (json_int_t)(j->last_seq + 1), "steps", steps);
	release = gg_release_path(root, sha256);
	if (state == NULL || release == NULL) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if ((r = plan_steps(m, names, &count, cause)) != 0)
		goto out;
	for (i = 0; i < count; i++) {
		free(path);
		path = NULL;
		if (asprintf(&path, "%s/steps/%s%s", release, names[i], STEP_SUFFIX) < 0) {
			path = NULL;
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			goto out;
		}
		gg_buf_reset(&head);
		if ((r = read_head(path, names[i], &head, cause)) != 0)
			goto out;
		if (gg_steps_header(head.data != NULL ? head.data : "", head.len, (int)i, names,
				    count, &needs, cause) != 0) {
			r = GG_HELPER_REFUSED;
			goto out;
		}
		if (json_array_append_new(steps, json_pack("{s:s, s:s, s:o}", "name", names[i],
							   "state", "pending", "needs", needs)) != 0) {
			r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
			goto out;
		}
	}
	if (gg_steps_acyclic(steps, cause) != 0) {
		r = GG_HELPER_REFUSED;
		goto out;
	}
	r = plan_announce(root, j, state, plan_seq, cause);
out:
	gg_buf_release(&head);
	free(path);
	free(release);
	json_decref(state);
	return r;
}
