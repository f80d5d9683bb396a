/*
 * test-cli-opts.c: the CLI's option parser, SSH target parsing and shell quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cli.h"
#include "opts.h"
#include "ssh.h"
#include "target.h"

enum { T_FOLLOW = OPT_COMMAND, T_PORT };

static const struct opt_spec table[] = {
	OPT_TARGET_SPECS,
	{ "follow", 'f', 0, T_FOLLOW },
	{ "port", 'p', 1, T_PORT },
	{ NULL, 0, 0, 0 },
};

static void test_options(void **state)
{
	char *argv[] = { "logs", "-f", "vm1", "--port=80", "-p8080", "--ssh", "me@h", "--", "-x", NULL };
	struct opt_parser p;
	const char *arg;
	char *cause = NULL;
	int id;

	(void)state;
	opt_init(&p, 9, argv);
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_OPTION);
	assert_int_equal(id, T_FOLLOW);
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_ARGUMENT);
	assert_string_equal(arg, "vm1");
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_OPTION);
	assert_string_equal(arg, "80");
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_OPTION);
	assert_string_equal(arg, "8080");
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_OPTION);
	assert_int_equal(id, OPT_SSH);
	assert_string_equal(arg, "me@h");
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_ARGUMENT);
	assert_string_equal(arg, "-x");
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_END);
	assert_null(cause);
}

static void test_option_errors(void **state)
{
	char *argv1[] = { "push", "--nope", NULL }, *argv2[] = { "push", "--port", NULL };
	char *argv3[] = { "push", "--follow=1", NULL };
	struct opt_parser p;
	const char *arg;
	char *cause = NULL;
	int id;

	(void)state;
	opt_init(&p, 2, argv1);
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_ERROR);
	assert_string_equal(cause, "unknown option '--nope'");
	opt_init(&p, 2, argv2);
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_ERROR);
	assert_string_equal(cause, "option '--port' needs a value");
	opt_init(&p, 2, argv3);
	assert_int_equal(opt_next(&p, table, &id, &arg, &cause), OPT_ERROR);
	assert_string_equal(cause, "option '--follow' takes no value");
	free(cause);
}

static void test_ssh_targets(void **state)
{
	struct target t;
	char *cause = NULL;

	(void)state;
	memset(&t, 0, sizeof t);
	assert_int_equal(target_parse_ssh("alice@example.com:2222", &t, &cause), 0);
	assert_string_equal(t.user, "alice");
	assert_string_equal(t.host, "example.com");
	assert_int_equal(t.port, 2222);
	assert_int_equal(target_parse_ssh("10.0.0.5", &t, &cause), 0);
	assert_null(t.user);
	/* No port given: 0, so that ~/.ssh/config's Port (or 22) applies. */
	assert_int_equal(t.port, 0);
	/* An ssh:// URL, with or without its trailing slash. */
	assert_int_equal(target_parse_ssh("ssh://carol@vm.example:2201/", &t, &cause), 0);
	assert_string_equal(t.user, "carol");
	assert_string_equal(t.host, "vm.example");
	assert_int_equal(t.port, 2201);
	assert_int_equal(target_parse_ssh("root@[::1]:22022", &t, &cause), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 22022);
	assert_int_equal(target_parse_ssh("me@host:0", &t, &cause), GG_EXIT_USAGE);
	assert_int_equal(target_parse_ssh("me@", &t, &cause), GG_EXIT_USAGE);
	assert_int_equal(target_parse_ssh("@host", &t, &cause), GG_EXIT_USAGE);
	assert_int_equal(target_parse_ssh("[::1", &t, &cause), GG_EXIT_USAGE);
	target_release(&t);
	free(cause);
}

static void test_resolve(void **state)
{
	struct target_args a = { 0 };
	struct target t;
	char *cause = NULL;

	(void)state;
	assert_int_equal(target_resolve(&a, &t, &cause), GG_EXIT_USAGE);
	a.ssh = "bob@h:2200";
	a.identity = "/k";
	assert_int_equal(target_resolve(&a, &t, &cause), 0);
	assert_string_equal(t.name, "bob@h:2200");
	/* The hint names the target with every option that reached it. */
	assert_string_equal(t.cli_arg, "--ssh bob@h:2200 -i /k");
	assert_string_equal(t.ssh.identity, "/k");
	assert_int_equal(t.ssh.port, 2200);
	target_release(&t);
	a.identity = "/my keys/id";
	a.known_hosts = "/kh";
	a.port = 2222;
	assert_int_equal(target_resolve(&a, &t, &cause), 0);
	assert_string_equal(t.cli_arg, "--ssh bob@h:2200 -p 2222 -i \"/my keys/id\" --known-hosts /kh");
	assert_int_equal(t.ssh.port, 2222);
	target_release(&t);
	a.identity = "/k.pub";
	assert_int_equal(target_resolve(&a, &t, &cause), GG_EXIT_USAGE);
	assert_non_null(strstr(cause, "public half"));
	a.identity = NULL;
	a.vm = "my-vm";
	assert_int_equal(target_resolve(&a, &t, &cause), GG_EXIT_USAGE);
	free(cause);
}

/* The Compute Engine options of a VM target land in target_args. */
static void test_gce_options(void **state)
{
	char *argv[] = { "push", "my-vm", "--project", "p1", "--zone=us-east1-b",
			 "--access-token-file", "/tok", "--internal-ip", NULL };
	struct target_args a = { 0 };
	struct target t;
	struct opt_parser p;
	enum opt_result res;
	const char *arg;
	char *cause = NULL;
	int id;

	(void)state;
	opt_init(&p, 8, argv);
	while ((res = opt_next(&p, table, &id, &arg, &cause)) != OPT_END) {
		assert_int_not_equal(res, OPT_ERROR);
		assert_int_equal(opt_target(&a, res, id, arg, &cause), 0);
	}
	assert_string_equal(a.vm, "my-vm");
	assert_string_equal(a.project, "p1");
	assert_string_equal(a.zone, "us-east1-b");
	assert_string_equal(a.access_token_file, "/tok");
	assert_int_equal(a.internal_ip, 1);
	assert_null(a.ssh);
	a.vm = NULL;
	a.ssh = "me@h";
	assert_int_equal(target_resolve(&a, &t, &cause), GG_EXIT_USAGE);
	assert_non_null(strstr(cause, "are for a VM name"));
	free(cause);
}

static void test_shell_quote(void **state)
{
	struct gg_buf b = GG_BUF_INIT;

	(void)state;
	ssh_shell_quote(&b, "it's a $test");
	assert_string_equal(b.data, "'it'\\''s a $test'");
	gg_buf_release(&b);
}

/* Idle-stop periods: gcloud's duration form, 10m to 7d, and nothing else. */
static void test_idle_period(void **state)
{
	static const struct {
		const char *arg;
		long seconds; /* -1: refused */
	} cases[] = {
		{ "off", 0 }, { "10m", 600 }, { "45m", 2700 }, { "2h", 7200 }, { "1d", 86400 },
		{ "7d", 604800 }, { "1h30m", 5400 }, { "1d12h", 129600 }, { "600s", 600 },
		{ "1h0m", 3600 }, { "0h10m", 600 },
		{ "9m", -1 }, { "599s", -1 }, { "7d1s", -1 }, { "8d", -1 }, { "0", -1 },
		{ "45", -1 }, { "45M", -1 }, { "m", -1 }, { "", -1 }, { "30m1h", -1 },
		{ "1h1h", -1 }, { "1h ", -1 }, { " 1h", -1 }, { "+1h", -1 }, { "1.5h", -1 },
		{ "99999999999999999999m", -1 }, { "9223372036854775807s", -1 }, { "OFF", -1 },
	};
	size_t i;

	(void)state;
	unsetenv("GCLOUD_GPU_TEST_HOOKS");
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *cause = NULL;
		long seconds = -2;
		int rc = opt_idle_period(cases[i].arg, &seconds, &cause);

		if (cases[i].seconds < 0) {
			assert_int_equal(rc, GG_EXIT_USAGE);
			assert_non_null(cause);
			free(cause);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(seconds, cases[i].seconds);
			assert_null(cause);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_ssh_targets),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_gce_options),
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_idle_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
