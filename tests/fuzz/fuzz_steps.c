/*
 * fuzz_steps.c: a recipe's step heads and the order their `# needs:` lines make
 * (proto/steps.h), which the root helper reads from a payload anyone with SSH access
 * may have sent, and the CLI from a recipe on disk.
 *
 * The input is the heads of five steps (10-a ... 50-e), separated by form feeds.
 * Asserted: a refusal has a printable one-line cause and no needs; accepted needs are
 * steps of the recipe, never the step itself, and a step without a `# needs:` line
 * needs the one before it; the order check refuses exactly when the needs go in a
 * circle, which the harness finds again on its own (a depth-first search).
 */
#include <string.h>

#include "fuzz.h"
#include "steps.h"

#define STEPS 5

static char names[STEPS][GG_MANIFEST_MAX_COMPONENT + 1] = { "10-a", "20-b", "30-c", "40-d",
							     "50-e" };

static int index_of(const char *name)
{
	int i;

	for (i = 0; i < STEPS; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Whether a circle is reachable from step i (0 unseen, 1 on the path, 2 done). */
static int circle_from(int need[STEPS][STEPS], int state[STEPS], int i)
{
	int k;

	if (state[i] == 1)
		return 1;
	if (state[i] == 2)
		return 0;
	state[i] = 1;
	for (k = 0; k < STEPS; k++)
		if (need[i][k] && circle_from(need, state, k))
			return 1;
	state[i] = 2;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *ff;
	int need[STEPS][STEPS] = { { 0 } }, state[STEPS] = { 0 }, i, k, circle = 0, all = 1;
	json_t *steps = json_array(), *needs, *v;
	char *cause = NULL;
	size_t n, j;

	FUZZ_ASSERT(steps != NULL);
	for (i = 0; i < STEPS; i++) {
		ff = memchr(p, '\f', (size_t)(end - p));
		n = ff != NULL ? (size_t)(ff - p) : (size_t)(end - p);
		needs = NULL;
		if (gg_steps_header(p, n, i, names, STEPS, &needs, &cause) != 0) {
			FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
			FUZZ_ASSERT(needs == NULL);
			free(cause);
			cause = NULL;
			all = 0;
		} else {
			FUZZ_ASSERT(json_is_array(needs));
			json_array_foreach(needs, j, v) {
				k = index_of(json_string_value(v));
				FUZZ_ASSERT(k >= 0 && k != i);
				need[i][k] = 1;
			}
			/* No `needs:` at all: the step before it, and only that one. */
			if (memmem(p, n, "needs:", 6) == NULL)
				FUZZ_ASSERT(json_array_size(needs) == (i > 0 ? 1u : 0u) &&
					    (i == 0 || need[i][i - 1]));
			json_array_append_new(steps, json_pack("{s:s, s:o}", "name", names[i],
							       "needs", needs));
		}
		p = ff != NULL ? ff + 1 : end;
	}
	if (all) {
		for (i = 0; i < STEPS && !circle; i++)
			circle = circle_from(need, state, i);
		if (gg_steps_acyclic(steps, &cause) != 0) {
			FUZZ_ASSERT(circle);
			FUZZ_ASSERT(cause != NULL && fuzz_cause_is_printable(cause));
			free(cause);
		} else {
			FUZZ_ASSERT(!circle);
		}
	}
	json_decref(steps);
	return 0;
}
