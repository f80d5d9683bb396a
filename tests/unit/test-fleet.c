/*
 * test-fleet.c: the many-target driver's decisions (fleet.h): which command lines it
 * takes, which exit code is worst, and the label and filter rules of gce-fleet.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "fleet.h"
#include "gce-fleet.h"

static void test_worst(void **state)
{
	(void)state;
	assert_int_equal(fleet_worst(GG_EXIT_OK, GG_EXIT_OK), GG_EXIT_OK);
	assert_int_equal(fleet_worst(GG_EXIT_OK, GG_EXIT_STEP), GG_EXIT_STEP);
	assert_int_equal(fleet_worst(GG_EXIT_STEP, GG_EXIT_OK), GG_EXIT_STEP);
	/* Interrupted (resumable) is the mildest failure. */
	assert_int_equal(fleet_worst(GG_EXIT_INTERRUPTED, GG_EXIT_SSH), GG_EXIT_SSH);
	assert_int_equal(fleet_worst(GG_EXIT_STEP, GG_EXIT_INTERRUPTED), GG_EXIT_STEP);
	assert_int_equal(fleet_worst(GG_EXIT_OK, GG_EXIT_INTERRUPTED), GG_EXIT_INTERRUPTED);
	assert_int_equal(fleet_worst(GG_EXIT_SSH, GG_EXIT_STEP), GG_EXIT_STEP);
	assert_int_equal(fleet_worst(GG_EXIT_REMOTE, GG_EXIT_STEP), GG_EXIT_REMOTE);
}

static int wanted(const char *command, const char *line)
{
	char *copy = strdup(line), *argv[16], *tok;
	int argc = 0, r;

	for (tok = strtok(copy, " "); tok != NULL && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	r = fleet_wanted(command, argc, argv);
	free(copy);
	return r;
}

static void test_wanted(void **state)
{
	(void)state;
	assert_false(wanted("push", "push vm1"));
	assert_false(wanted("push", "push --ssh a@b -i key --payload dir"));
	assert_true(wanted("push", "push vm1 vm2"));
	assert_true(wanted("push", "pu vm1 vm2"));
	assert_true(wanted("push", "push --ssh a@b --ssh c@d"));
	assert_true(wanted("stop", "stop --filter labels.class=ml"));
	assert_true(wanted("status", "status vm1 --parallel 2"));
	/* Option values are not targets. */
	assert_false(wanted("push", "push vm1 --payload dir --timeout 60 --zone z"));
	/* Commands that take one target only, and lines the command itself refuses. */
	assert_false(wanted("logs", "logs vm1 vm2"));
	assert_false(wanted("tunnel", "tunnel vm1 vm2"));
	assert_false(wanted("push", "push vm1 vm2 --no-such-option"));
	/* idle-stop's last argument is its DURATION, not a VM. */
	assert_false(wanted("idle-stop", "idle-stop vm1 45m"));
	assert_true(wanted("idle-stop", "idle-stop vm1 vm2 45m"));
	assert_true(wanted("idle-stop", "idle-stop --filter labels.class=ml 45m"));
}

static void test_labels(void **state)
{
	char *f;

	(void)state;
	assert_true(gce_label_valid("class", 1));
	assert_true(gce_label_valid("ml_2024-a", 0));
	assert_true(gce_label_valid("", 0));
	assert_false(gce_label_valid("", 1));
	assert_false(gce_label_valid("Class", 1));
	assert_false(gce_label_valid("1class", 1));
	assert_false(gce_label_valid("a b", 0));
	assert_false(gce_label_valid("a=b", 0));
	assert_false(gce_label_valid("0123456789012345678901234567890123456789012345678901234567890123", 0));
	f = gce_managed_filter(NULL);
	assert_string_equal(f, "labels.gcloud-gpu=managed");
	free(f);
	f = gce_managed_filter("labels.class=ml");
	assert_string_equal(f, "labels.gcloud-gpu=managed AND (labels.class=ml)");
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worst),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
