/*
 * test-lookup.c: a command is found by its exact name only; a prefix or a typo finds
 * nothing but gets the names it may have meant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lookup.h"

struct entry {
	const char *name;
	int id;
};

static const struct entry table[] = {
	{ "push", 1 }, { "ssh", 2 }, { "ssh-config", 3 }, { "delete", 4 }, { "status", 5 },
	{ NULL, 0 },
};

static long find(const char *name, char **suggestions)
{
	return gg_lookup(table, sizeof table[0], sizeof table / sizeof table[0], name, suggestions);
}

static void test_exact(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(find("ssh", &s), 1);
	assert_null(s);
	assert_int_equal(find("ssh-config", &s), 2);
	assert_null(s);
}

static void test_prefix_is_no_command(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(find("d", &s), -1);
	assert_string_equal(s, "'delete'");
	free(s);
	assert_int_equal(find("ssh-conf", &s), -1);
	assert_string_equal(s, "'ssh-config'");
	free(s);
	assert_int_equal(find("s", &s), -1);
	assert_string_equal(s, "'ssh' or 'ssh-config' or 'status'");
	free(s);
}

static void test_typo_and_nothing_close(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(find("psuh", &s), -1);
	assert_string_equal(s, "'push' or 'ssh'");
	free(s);
	assert_int_equal(find("delte", &s), -1);
	assert_string_equal(s, "'delete'");
	free(s);
	assert_int_equal(find("frobnicate", &s), -1);
	assert_null(s);
	assert_int_equal(find("", &s), -1);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_prefix_is_no_command),
		cmocka_unit_test(test_typo_and_nothing_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
