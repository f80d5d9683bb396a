/*
 * test-event.c: events survive a round trip, and the decoder refuses what the CLI
 * cannot render (it reads lines that crossed the network from a remote machine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "event.h"

static void test_round_trip(void **state)
{
	struct gg_buf line = GG_BUF_INIT;
	struct gg_event ev;
	char *cause = NULL;
	json_t *obj;

	obj = gg_event_new(7, GG_EVENT_PROGRESS);
	assert_non_null(obj);
	json_object_set_new(obj, "step", json_string("20-nvidia-driver"));
	json_object_set_new(obj, "pct", json_integer(40));
	json_object_set_new(obj, "msg", json_string("unpacking\nnvidia-driver"));
	assert_int_equal(gg_event_format(obj, &line), 0);
	json_decref(obj);

	/* One event is one line, even with a newline inside a message. */
	assert_ptr_equal(strchr(line.data, '\n'), line.data + line.len - 1);
	assert_int_equal(gg_event_parse(line.data, line.len, &ev, &cause), 0);
	assert_int_equal(ev.seq, 7);
	assert_int_equal(ev.type, GG_EVENT_PROGRESS);
	assert_string_equal(ev.step, "20-nvidia-driver");
	assert_int_equal(ev.pct, 40);
	assert_string_equal(ev.msg, "unpacking\nnvidia-driver");
	assert_non_null(ev.time);
	assert_int_equal(strlen(ev.time), 24);
	gg_event_release(&ev);
	gg_buf_release(&line);
}

static void test_type_names_are_a_bijection(void **state)
{
	int i;

	for (i = 0; i < GG_EVENT_TYPE_COUNT; i++)
		assert_int_equal(gg_event_type_from_name(gg_event_type_name(i)), i);
	assert_int_equal(gg_event_type_from_name("reboot-now"), -1);
}

static void expect_refused(const char *line, const char *needle)
{
	struct gg_event ev;
	char *cause = NULL;

	assert_int_equal(gg_event_parse(line, strlen(line), &ev, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, needle);
	assert_null(ev.obj);
	free(cause);
}

static void test_refuses_bad_events(void **state)
{
	expect_refused("not json", "not valid JSON");
	expect_refused("[1,2]", "not a JSON object");
	expect_refused("{\"type\":\"done\",\"time\":\"t\"}", "seq");
	expect_refused("{\"seq\":-1,\"type\":\"hello\",\"time\":\"t\",\"proto\":1}", "seq");
	expect_refused("{\"seq\":0,\"type\":\"done\",\"time\":\"t\"}", "seq");
	expect_refused("{\"seq\":1,\"type\":\"explode\",\"time\":\"t\"}", "unknown event type");
	expect_refused("{\"seq\":1,\"type\":\"done\"}", "time");
	expect_refused("{\"seq\":1,\"type\":\"done\",\"time\":\"t\",\"msg\":5}", "'msg'");
	expect_refused("{\"seq\":1,\"type\":\"progress\",\"time\":\"t\",\"step\":\"a\",\"pct\":101}",
		       "pct");
	expect_refused("{\"seq\":1,\"type\":\"step-start\",\"time\":\"t\"}", "no step");
	expect_refused("{\"seq\":1,\"type\":\"hello\",\"time\":\"t\"}", "protocol version");
	expect_refused("{\"seq\":1,\"seq\":2,\"type\":\"done\",\"time\":\"t\"}", "not valid JSON");
}

static void test_refuses_overlong_line(void **state)
{
	size_t n = GG_EVENT_MAX_LINE + 10;
	char *line = malloc(n + 1);
	struct gg_event ev;
	char *cause = NULL;

	memset(line, ' ', n);
	line[n] = '\0';
	assert_int_equal(gg_event_parse(line, n, &ev, &cause), -1);
	assert_non_null(strstr(cause, "too long"));
	free(cause);
	free(line);
}

static void test_hello_has_seq_zero(void **state)
{
	const char *line = "{\"seq\":0,\"type\":\"hello\",\"time\":\"t\",\"proto\":1}";
	struct gg_event ev;

	assert_int_equal(gg_event_parse(line, strlen(line), &ev, NULL), 0);
	assert_int_equal(ev.seq, 0);
	gg_event_release(&ev);
}

static void test_keeps_unknown_fields(void **state)
{
	const char *line = "{\"seq\":3,\"type\":\"done\",\"time\":\"t\",\"future\":[1]}\n";
	struct gg_event ev;
	char *cause = NULL;

	assert_int_equal(gg_event_parse(line, strlen(line), &ev, &cause), 0);
	assert_non_null(json_object_get(ev.obj, "future"));
	gg_event_release(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_type_names_are_a_bijection),
		cmocka_unit_test(test_refuses_bad_events),
		cmocka_unit_test(test_refuses_overlong_line),
		cmocka_unit_test(test_hello_has_seq_zero),
		cmocka_unit_test(test_keeps_unknown_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
