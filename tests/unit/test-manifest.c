/*
 * test-manifest.c: manifests are canonical (same payload, same bytes, same release
 * name) and the parser refuses every path that could escape a release directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "manifest.h"

#define SUM_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SUM_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_canonical_whatever_the_order(void **state)
{
	struct gg_manifest m1 = GG_MANIFEST_INIT, m2 = GG_MANIFEST_INIT;
	struct gg_buf t1 = GG_BUF_INIT, t2 = GG_BUF_INIT;

	assert_int_equal(gg_manifest_add(&m1, "steps/10-a.sh", 0700, 3, SUM_A, NULL), 0);
	assert_int_equal(gg_manifest_add(&m1, "Dockerfile", 0600, 9, SUM_B, NULL), 0);
	assert_int_equal(gg_manifest_add(&m2, "Dockerfile", 0644, 9, SUM_B, NULL), 0);
	assert_int_equal(gg_manifest_add(&m2, "steps/10-a.sh", 0755, 3, SUM_A, NULL), 0);
	assert_int_equal(gg_manifest_format(&m1, &t1, NULL), 0);
	assert_int_equal(gg_manifest_format(&m2, &t2, NULL), 0);
	assert_string_equal(t1.data, t2.data);
	assert_string_equal(t1.data,
		"{\"files\":[{\"mode\":420,\"path\":\"Dockerfile\",\"sha256\":\"" SUM_B
		"\",\"size\":9},{\"mode\":493,\"path\":\"steps/10-a.sh\",\"sha256\":\"" SUM_A
		"\",\"size\":3}],\"format\":1}");
	gg_manifest_release(&m1);
	gg_manifest_release(&m2);
	gg_buf_release(&t1);
	gg_buf_release(&t2);
}

static void test_parse_round_trip(void **state)
{
	struct gg_manifest m = GG_MANIFEST_INIT, back = GG_MANIFEST_INIT;
	struct gg_buf text = GG_BUF_INIT;
	char *cause = NULL;

	gg_manifest_add(&m, "debs/cudnn.deb", 0644, 1ULL << 33, SUM_A, NULL);
	gg_manifest_format(&m, &text, NULL);
	assert_int_equal(gg_manifest_parse(text.data, text.len, &back, &cause), 0);
	assert_int_equal(back.count, 1);
	assert_string_equal(back.files[0].path, "debs/cudnn.deb");
	assert_true(back.files[0].size == 1ULL << 33);
	assert_int_equal(back.files[0].mode, 0644);
	gg_manifest_release(&m);
	gg_manifest_release(&back);
	gg_buf_release(&text);
}

static void expect_path_refused(const char *path)
{
	char *cause = NULL;

	if (gg_manifest_path_check(path, &cause) == 0)
		fail_msg("path '%s' was accepted", path);
	assert_non_null(cause);
	free(cause);
}

static void test_refuses_escaping_paths(void **state)
{
	char long_component[300];

	expect_path_refused("");
	expect_path_refused("/etc/passwd");
	expect_path_refused("../x");
	expect_path_refused("a/../../x");
	expect_path_refused("a/./b");
	expect_path_refused("a//b");
	expect_path_refused("a/");
	expect_path_refused("a\\..\\b");
	expect_path_refused("a\nb");
	memset(long_component, 'x', sizeof long_component - 1);
	long_component[sizeof long_component - 1] = '\0';
	expect_path_refused(long_component);
	assert_int_equal(gg_manifest_path_check("steps/..hidden/x.sh", NULL), 0);
}

static void expect_parse_refused(const char *text, const char *needle)
{
	struct gg_manifest m = GG_MANIFEST_INIT;
	char *cause = NULL;

	assert_int_equal(gg_manifest_parse(text, strlen(text), &m, &cause), -1);
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(null)", needle);
	assert_int_equal(m.count, 0);
	free(cause);
}

static void test_parse_refuses_bad_manifests(void **state)
{
	expect_parse_refused("{", "not valid JSON");
	expect_parse_refused("{\"format\":2,\"files\":[]}", "format");
	expect_parse_refused("{\"format\":1}", "'files'");
	expect_parse_refused("{\"format\":1,\"files\":[{\"path\":\"a\"}]}", "lacks");
	expect_parse_refused("{\"format\":1,\"files\":[{\"path\":\"a\",\"mode\":2541,\"size\":1,"
			     "\"sha256\":\"" SUM_A "\"}]}", "mode");
	expect_parse_refused("{\"format\":1,\"files\":[{\"path\":\"a\",\"mode\":420,\"size\":-1,"
			     "\"sha256\":\"" SUM_A "\"}]}", "negative");
	expect_parse_refused("{\"format\":1,\"files\":[{\"path\":\"a\",\"mode\":420,\"size\":1,"
			     "\"sha256\":\"ABC\"}]}", "sha256");
	expect_parse_refused("{\"format\":1,\"files\":[{\"path\":\"../a\",\"mode\":420,\"size\":1,"
			     "\"sha256\":\"" SUM_A "\"}]}", "'..'");
	expect_parse_refused("{\"format\":1,\"files\":["
			     "{\"path\":\"a\",\"mode\":420,\"size\":1,\"sha256\":\"" SUM_A "\"},"
			     "{\"path\":\"a\",\"mode\":420,\"size\":1,\"sha256\":\"" SUM_B "\"}]}",
			     "twice");
	expect_parse_refused("{\"format\":1,\"files\":["
			     "{\"path\":\"a\",\"mode\":420,\"size\":1,\"sha256\":\"" SUM_A "\"},"
			     "{\"path\":\"a-b\",\"mode\":420,\"size\":1,\"sha256\":\"" SUM_A "\"},"
			     "{\"path\":\"a/b\",\"mode\":420,\"size\":1,\"sha256\":\"" SUM_B "\"}]}",
			     "both a file and a directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_whatever_the_order),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_refuses_escaping_paths),
		cmocka_unit_test(test_parse_refuses_bad_manifests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
