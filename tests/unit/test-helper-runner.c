/*
 * test-helper-runner.c: which release files are steps, how fd-3 progress lines are
 * read, and that the journal's seq survives a torn last line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "journal.h"
#include "plan.h"
#include "runner.h"
#include "step.h"
#include "steps.h"

static void test_step_paths(void **state)
{
	assert_true(gg_step_path_valid("steps/10-preflight.sh"));
	assert_true(gg_step_path_valid("steps/99-x.sh"));
	assert_false(gg_step_path_valid("steps/5-short.sh"));
	assert_false(gg_step_path_valid("steps/100-long.sh"));
	assert_false(gg_step_path_valid("steps/10-nested/x.sh"));
	assert_false(gg_step_path_valid("steps/extra/10-x.sh"));
	assert_false(gg_step_path_valid("steps/10-x.py"));
	assert_false(gg_step_path_valid("other/10-x.sh"));
	assert_false(gg_step_path_valid("steps/ab-x.sh"));
}

static void test_progress_lines(void **state)
{
	const char *msg;
	int pct;

	assert_int_equal(gg_parse_progress("progress 42 pulling image", &pct, &msg), 0);
	assert_int_equal(pct, 42);
	assert_string_equal(msg, "pulling image");
	assert_int_equal(gg_parse_progress("progress 12.9%", &pct, &msg), 0);
	assert_int_equal(pct, 12);
	assert_string_equal(msg, "");
	assert_int_equal(gg_parse_progress("progress 250 too much", &pct, &msg), 0);
	assert_int_equal(pct, 100);
	assert_int_equal(gg_parse_progress("progress -5 too little", &pct, &msg), 0);
	assert_int_equal(pct, 0);
	assert_int_equal(gg_parse_progress("progress junk", &pct, &msg), -1);
	assert_int_equal(gg_parse_progress("progress nan x", &pct, &msg), -1);
	assert_int_equal(gg_parse_progress("progress 5x", &pct, &msg), -1);
	assert_int_equal(gg_parse_progress("progres 5", &pct, &msg), -1);
	assert_int_equal(gg_parse_progress("", &pct, &msg), -1);
}

/* The needs a header gives step index i of names, as one string "a,b"; or the error. */
static char names[4][GG_MANIFEST_MAX_COMPONENT + 1] = { "10-a", "20-b", "30-c", "40-d" };

static char *needs_of(const char *header, int index)
{
	static char out[512];
	char *cause = NULL;
	json_t *needs = NULL, *v;
	size_t i;

	out[0] = '\0';
	if (gg_steps_header(header, strlen(header), index, names, 4, &needs, &cause) != 0) {
		snprintf(out, sizeof out, "error: %s", cause);
		free(cause);
		return out;
	}
	json_array_foreach(needs, i, v)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i > 0 ? "," : "",
			 json_string_value(v));
	json_decref(needs);
	return out;
}

static void test_step_headers(void **state)
{
	/* No line: the step before it (none for the first). */
	assert_string_equal(needs_of("#!/bin/sh\necho hi\n", 0), "");
	assert_string_equal(needs_of("#!/bin/sh\n# a comment\n\necho hi\n", 2), "20-b");
	/* Names with spaces or commas, lines adding up, CRLF, `# needs:` alone for none. */
	assert_string_equal(needs_of("#!/bin/bash\n# needs: 10-a, 20-b\n#needs:40-d\n", 2),
			    "10-a,20-b,40-d");
	assert_string_equal(needs_of("#!/bin/bash\r\n# needs: 10-a\r\n", 3), "10-a");
	assert_string_equal(needs_of("#!/bin/bash\n# needs:\n", 3), "");
	/* Only the header counts: a needs line after the first command is a comment. */
	assert_string_equal(needs_of("#!/bin/bash\nset -e\n# needs: 40-d\n", 1), "10-a");
	/* A later step may be needed. */
	assert_string_equal(needs_of("#!/bin/bash\n# needs: 40-d\n", 1), "40-d");
	assert_string_equal(needs_of("echo no interpreter\n", 1),
			    "error: recipe refused: step '20-b' has no '#!' first line; start it with "
			    "one (e.g. '#!/bin/bash'): steps run through their own interpreter");
	assert_string_equal(needs_of("", 0),
			    "error: recipe refused: step '10-a' has no '#!' first line; start it with "
			    "one (e.g. '#!/bin/bash'): steps run through their own interpreter");
	assert_string_equal(needs_of("#!/bin/sh\n# needs: 50-e\n", 1),
			    "error: recipe refused: step '20-b' needs '50-e', which is not a step of the "
			    "recipe; name a step as its file is named, without .sh");
	assert_string_equal(needs_of("#!/bin/sh\n# needs: 20\n", 0),
			    "error: recipe refused: step '10-a' needs '20', which is not a step of the "
			    "recipe; name a step as its file is named, without .sh");
	assert_string_equal(needs_of("#!/bin/sh\n# needs: 30-c\n", 2),
			    "error: recipe refused: step '30-c' needs itself");
}

static void test_journal_seq_survives_a_torn_line(void **state)
{
	char root[] = "/tmp/gg-unit-journal.XXXXXX";
	struct gg_journal j = GG_JOURNAL_INIT;
	char *path, *cause = NULL;
	FILE *f;

	assert_non_null(mkdtemp(root));
	assert_int_equal(gg_journal_open(&j, root, &cause), 0);
	assert_int_equal(j.last_seq, 0);
	assert_int_equal(gg_journal_emit(&j, GG_EVENT_PLAN, json_pack("{s:[]}", "steps"), NULL, &cause), 0);
	assert_int_equal(gg_journal_emit(&j, GG_EVENT_DONE, NULL, NULL, &cause), 0);
	gg_journal_close(&j);
	assert_int_equal(gg_journal_last_seq(root), 2);

	path = gg_path_join(root, "events.jsonl");
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("{\"seq\":3,\"ty", f); /* a power cut mid-write */
	fclose(f);
	assert_int_equal(gg_journal_last_seq(root), 2);
	assert_int_equal(gg_journal_open(&j, root, &cause), 0);
	assert_int_equal(j.last_seq, 2);
	assert_int_equal(gg_journal_emit(&j, GG_EVENT_DONE, NULL, NULL, &cause), 0);
	assert_int_equal(j.last_seq, 3);
	gg_journal_close(&j);
	assert_int_equal(gg_journal_last_seq(root), 3);

	free(path);
	free(cause);
	assert_int_equal(gg_remove_tree(root, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_paths),
		cmocka_unit_test(test_progress_lines),
		cmocka_unit_test(test_step_headers),
		cmocka_unit_test(test_journal_seq_survives_a_torn_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
