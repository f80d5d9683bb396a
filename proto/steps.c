/*
 * steps.c: a recipe's steps, their `# needs:` lines and the order they make (steps.h).
 */
#include "steps.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "error.h"

static int step_index(char names[][GG_MANIFEST_MAX_COMPONENT + 1], size_t count, const char *name,
		      size_t len)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * The names on one `# needs:` line (after the colon), spaces or commas between them,
 * appended to needs.  0, or -1 naming the step and the unknown name.
 */
static int needs_line(const char *step, const char *text, size_t len,
		      char names[][GG_MANIFEST_MAX_COMPONENT + 1], size_t count, json_t *needs,
		      char **cause)
{
	size_t at = 0, end;
	int k;

	while (at < len) {
		while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == ','))
			at++;
		end = at;
		while (end < len && text[end] != ' ' && text[end] != '\t' && text[end] != ',')
			end++;
		if (end == at)
			break;
		k = step_index(names, count, text + at, end - at);
		if (k < 0)
			return gg_fail(cause, -1,
				       "recipe refused: step '%s' needs '%.*s', which is not a step of "
				       "the recipe; name a step as its file is named, without .sh",
				       step, (int)(end - at) > 64 ? 64 : (int)(end - at), text + at);
		if (strcmp(names[k], step) == 0)
			return gg_fail(cause, -1, "recipe refused: step '%s' needs itself",
				       step);
		json_array_append_new(needs, json_string(names[k]));
		at = end;
	}
	return 0;
}

int gg_steps_header(const char *text, size_t len, int index,
		    char names[][GG_MANIFEST_MAX_COMPONENT + 1], size_t count, json_t **needs,
		    char **cause)
{
	const char *step = names[index], *line = text, *nl, *p, *end = text + len;
	int declared = 0, r;

	*needs = json_array();
	if (*needs == NULL)
		return gg_fail(cause, -1, "out of memory");
	if (len < 2 || text[0] != '#' || text[1] != '!') {
		r = gg_fail(cause, -1,
			    "recipe refused: step '%s' has no '#!' first line; start it with one "
			    "(e.g. '#!/bin/bash'): steps run through their own interpreter", step);
		goto fail;
	}
	/* The header: the comment and blank lines after the `#!` line, up to the first other. */
	nl = memchr(text, '\n', len);
	for (line = nl != NULL ? nl + 1 : end; line < end; line = nl < end ? nl + 1 : end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		p = line;
		while (p < nl && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == nl)
			continue;
		if (*p != '#')
			break;
		p++;
		while (p < nl && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(nl - p) < 6 || strncmp(p, "needs:", 6) != 0)
			continue;
		declared = 1;
		p += 6;
		if ((r = needs_line(step, p, (size_t)(nl - p) - (nl > p && nl[-1] == '\r'), names,
				    count, *needs, cause)) != 0)
			goto fail;
	}
	/* Without a `# needs:` line a step needs the one before it: today's order. */
	if (!declared && index > 0)
		json_array_append_new(*needs, json_string(names[index - 1]));
	return 0;
fail:
	json_decref(*needs);
	*needs = NULL;
	return r;
}

int gg_steps_acyclic(json_t *steps, char **cause)
{
	size_t n = json_array_size(steps), i, k, left = n;
	unsigned char started[GG_STEPS_MAX] = { 0 };
	struct gg_buf circle = GG_BUF_INIT;
	json_t *step, *need;
	int progress = 1, r;

	if (n > GG_STEPS_MAX)
		return gg_fail(cause, -1, "recipe refused: more than %d steps", GG_STEPS_MAX);
	/* Take away, round after round, the steps whose needs are all taken: Kahn's order. */
	while (left > 0 && progress) {
		progress = 0;
		json_array_foreach(steps, i, step) {
			int ready = !started[i];

			json_array_foreach(json_object_get(step, "needs"), k, need) {
				size_t j;

				for (j = 0; j < n; j++)
					if (json_equal(json_object_get(json_array_get(steps, j), "name"), need))
						break;
				if (j < n && !started[j])
					ready = 0;
			}
			if (ready) {
				started[i] = 1;
				left--;
				progress = 1;
			}
		}
	}
	if (left == 0)
		return 0;
	json_array_foreach(steps, i, step)
		if (!started[i])
			gg_buf_addf(&circle, "%s'%s'", circle.len > 0 ? ", " : "",
				    json_string_value(json_object_get(step, "name")));
	r = gg_fail(cause, -1,
		    "recipe refused: the '# needs:' lines of steps %s go in a circle; "
		    "let one of them need none of the others",
		    circle.data != NULL ? circle.data : "");
	gg_buf_release(&circle);
	return r;
}

