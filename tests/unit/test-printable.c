/*
 * test-printable.c: what proto/error.h promises for text from elsewhere:
 * gg_printable leaves valid UTF-8 without any control character (C0, DEL, C1 both
 * UTF-8 encoded and as raw 8-bit bytes), gg_text_repair makes any bytes a JSON string
 * every reader takes back (no NUL, valid UTF-8) and keeps their length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

/* gg_printable of in, compared with want. */
static void printable_is(const char *in, int keep_tabs, const char *want)
{
	char *s = strdup(in);

	assert_non_null(s);
	gg_printable(s, keep_tabs);
	assert_string_equal(s, want);
	free(s);
}

static void test_c0_and_del(void **state)
{
	(void)state;
	printable_is("a\033]0;t\007b\r\nc\177", 0, "a?]0;t?b??c?");
	printable_is("tab\there", 1, "tab\there");
	printable_is("tab\there", 0, "tab?here");
}

static void test_c1_encoded_and_raw(void **state)
{
	(void)state;
	/* U+009B (CSI) and U+0085 (NEL) encoded, then the same as raw 8-bit bytes. */
	printable_is("x\xc2\x9b" "2J\xc2\x85y", 0, "x?2J?y");
	printable_is("x\x9b" "2J\x85y", 0, "x?2J?y");
	/* U+00A0 and later are text, not control. */
	printable_is("caf\xc3\xa9 \xc2\xa0 \xe2\x9c\x93 \xf0\x9f\x98\x80", 0,
		     "caf\xc3\xa9 \xc2\xa0 \xe2\x9c\x93 \xf0\x9f\x98\x80");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* Overlong, surrogate, beyond U+10FFFF, a lead cut short at the end. */
	printable_is("a\xc0\xafz", 0, "a??z");
	printable_is("a\xed\xa0\x80z", 0, "a???z");
	printable_is("a\xf4\x90\x80\x80z", 0, "a????z");
	printable_is("end\xe2\x9c", 0, "end??");
}

static void test_repair_keeps_length_and_controls(void **state)
{
	char s[] = "a\0b\xff\xc2\x9b\033c";

	(void)state;
	gg_text_repair(s, sizeof s - 1);
	assert_memory_equal(s, "a?b?\xc2\x9b\033c", sizeof s - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c0_and_del),
		cmocka_unit_test(test_c1_encoded_and_raw),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_repair_keeps_length_and_controls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
