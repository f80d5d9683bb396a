/*
 * test-buf.c: the growable buffer keeps its NUL, grows, consumes and detaches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void test_empty_is_terminated(void **state)
{
	struct gg_buf b = GG_BUF_INIT;

	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	gg_buf_release(&b);
}

static void test_add_and_format(void **state)
{
	struct gg_buf b = GG_BUF_INIT;
	int i;

	assert_int_equal(gg_buf_addstr(&b, "seq="), 0);
	assert_int_equal(gg_buf_addf(&b, "%d", 42), 0);
	assert_string_equal(b.data, "seq=42");
	for (i = 0; i < 1000; i++)
		assert_int_equal(gg_buf_addch(&b, 'x'), 0);
	assert_int_equal(b.len, 1006);
	assert_int_equal(b.data[b.len], '\0');
	gg_buf_release(&b);
	assert_int_equal(b.len, 0);
}

static void test_consume_keeps_rest(void **state)
{
	struct gg_buf b = GG_BUF_INIT;

	gg_buf_addstr(&b, "line one\nline two");
	gg_buf_consume(&b, 9);
	assert_string_equal(b.data, "line two");
	gg_buf_consume(&b, 100);
	assert_string_equal(b.data, "");
	gg_buf_release(&b);
}

static void test_detach_hands_over(void **state)
{
	struct gg_buf b = GG_BUF_INIT;
	size_t len;
	char *s;

	s = gg_buf_detach(&b, &len);
	assert_string_equal(s, "");
	free(s);
	gg_buf_addstr(&b, "hello");
	s = gg_buf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_string_equal(s, "hello");
	assert_int_equal(b.len, 0);
	free(s);
}

static void test_grow_refuses_overflow(void **state)
{
	struct gg_buf b = GG_BUF_INIT;

	gg_buf_addstr(&b, "abc");
	assert_int_equal(gg_buf_grow(&b, SIZE_MAX - 2), -1);
	assert_string_equal(b.data, "abc");
	gg_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_terminated),
		cmocka_unit_test(test_add_and_format),
		cmocka_unit_test(test_consume_keeps_rest),
		cmocka_unit_test(test_detach_hands_over),
		cmocka_unit_test(test_grow_refuses_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
