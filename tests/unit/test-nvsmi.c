/*
 * test-nvsmi.c: what nvidia-smi prints is read right, and what it prints when it
 * cannot answer (no driver, no device, a hang, garbage) becomes one clear error.
 *
 * The H200 line and the two H200 files in tests/fixtures/nvidia-smi were captured on
 * a real machine.  The T4, L4, A100, V100 and K80 lines are NOT captured: they are
 * constructed from NVIDIA's documented --query-gpu format (nvidia-smi --help-query-gpu:
 * name, pci.device_id "PCI vendor device id, in hex", driver_version, memory.total in
 * MiB with nounits, compute_cap "Major DOT Minor") with those GPUs' published PCI ids,
 * memory sizes and compute capabilities.  The same shapes also check that the driver
 * flavour chosen from the PCI id and from the compute capability agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nvsmi.h"
#include "probe.h"

#define H200_LINE "NVIDIA H200, 0x233510DE, 580.159.04, 143771, 9.0\n"

struct shape {
	const char *line;
	const char *name;
	unsigned device;
	const char *driver;
	long long memory_mib;
	int cc_major, cc_minor;
	enum gg_flavour flavour;
};

static const struct shape shapes[] = {
	/* captured on the real H200 machine */
	{ H200_LINE, "NVIDIA H200", 0x2335, "580.159.04", 143771, 9, 0, GG_FLAVOUR_OPEN },
	/* constructed from the documented format, not captured */
	{ "Tesla T4, 0x1EB810DE, 535.104.05, 15360, 7.5\n",
	  "Tesla T4", 0x1eb8, "535.104.05", 15360, 7, 5, GG_FLAVOUR_OPEN },
	{ "NVIDIA L4, 0x27B810DE, 550.54.15, 23034, 8.9\n",
	  "NVIDIA L4", 0x27b8, "550.54.15", 23034, 8, 9, GG_FLAVOUR_OPEN },
	{ "NVIDIA A100-SXM4-40GB, 0x20B010DE, 535.104.05, 40960, 8.0\n",
	  "NVIDIA A100-SXM4-40GB", 0x20b0, "535.104.05", 40960, 8, 0, GG_FLAVOUR_OPEN },
	{ "Tesla V100-SXM2-16GB, 0x1DB110DE, 535.104.05, 16384, 7.0\n",
	  "Tesla V100-SXM2-16GB", 0x1db1, "535.104.05", 16384, 7, 0, GG_FLAVOUR_PROPRIETARY },
	{ "Tesla K80, 0x102D10DE, 470.223.02, 11441, 3.7\n",
	  "Tesla K80", 0x102d, "470.223.02", 11441, 3, 7, GG_FLAVOUR_UNSUPPORTED },
};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static char *read_fixture(const char *name)
{
	char path[4096];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof path, "%s/tests/fixtures/nvidia-smi/%s", GG_TEST_SOURCE_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void test_every_shape_parses(void **state)
{
	size_t i;

	for (i = 0; i < SHAPE_COUNT; i++) {
		struct gg_nvsmi smi = GG_NVSMI_INIT;
		char *cause = NULL;
		const struct gg_nvsmi_gpu *g;

		assert_int_equal(gg_nvsmi_parse_query(shapes[i].line, &smi, &cause), 0);
		assert_null(cause);
		assert_int_equal(smi.count, 1);
		g = &smi.gpus[0];
		assert_string_equal(g->name, shapes[i].name);
		assert_int_equal(g->pci_device_id, shapes[i].device);
		assert_int_equal(g->pci_vendor_id, 0x10de);
		assert_string_equal(g->driver_version, shapes[i].driver);
		assert_true(g->memory_mib == shapes[i].memory_mib);
		assert_int_equal(g->cc_major, shapes[i].cc_major);
		assert_int_equal(g->cc_minor, shapes[i].cc_minor);
		gg_nvsmi_release(&smi);
	}
}

static void test_flavour_from_id_and_compute_cap_agree(void **state)
{
	size_t i;

	for (i = 0; i < SHAPE_COUNT; i++) {
		assert_int_equal(gg_flavour_for_pci_id(shapes[i].device), shapes[i].flavour);
		assert_int_equal(gg_flavour_for_compute_cap(shapes[i].cc_major,
							    shapes[i].cc_minor),
				 shapes[i].flavour);
	}
	/* The edges: Turing's first id and 7.5, Maxwell's first id and 5.0. */
	assert_int_equal(gg_flavour_for_pci_id(0x1e00), GG_FLAVOUR_OPEN);
	assert_int_equal(gg_flavour_for_pci_id(0x1dff), GG_FLAVOUR_PROPRIETARY);
	assert_int_equal(gg_flavour_for_pci_id(0x1340), GG_FLAVOUR_PROPRIETARY);
	assert_int_equal(gg_flavour_for_pci_id(0x133f), GG_FLAVOUR_UNSUPPORTED);
	assert_int_equal(gg_flavour_for_compute_cap(7, 2), GG_FLAVOUR_PROPRIETARY);
	assert_int_equal(gg_flavour_for_compute_cap(5, 0), GG_FLAVOUR_PROPRIETARY);
	assert_int_equal(gg_flavour_for_compute_cap(10, 0), GG_FLAVOUR_OPEN);
	assert_int_equal(gg_flavour_for_compute_cap(-1, -1), GG_FLAVOUR_NONE);
	/* A machine takes its most restrictive GPU's flavour. */
	assert_int_equal(gg_flavour_worst(GG_FLAVOUR_OPEN, GG_FLAVOUR_PROPRIETARY),
			 GG_FLAVOUR_PROPRIETARY);
	assert_int_equal(gg_flavour_worst(GG_FLAVOUR_NONE, GG_FLAVOUR_OPEN), GG_FLAVOUR_OPEN);
	assert_string_equal(gg_flavour_name(GG_FLAVOUR_UNSUPPORTED), "unsupported");
}

static void test_several_gpus_crlf_and_unknown_values(void **state)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *cause = NULL;

	assert_int_equal(gg_nvsmi_parse_query(
		"NVIDIA A100-SXM4-40GB, 0x20B010DE, 535.104.05, 40960, 8.0\r\n"
		"\n"
		"NVIDIA A100-SXM4-40GB, 0x20B010DE, 535.104.05, [N/A], [Not Supported]\r\n\n",
		&smi, &cause), 0);
	assert_int_equal(smi.count, 2);
	assert_true(smi.gpus[1].memory_mib == -1);
	assert_int_equal(smi.gpus[1].cc_major, -1);
	assert_string_equal(smi.gpus[1].name, "NVIDIA A100-SXM4-40GB");
	gg_nvsmi_release(&smi);
}

static void expect_refused(const char *text, const char *in_message)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *cause = NULL;

	assert_int_not_equal(gg_nvsmi_parse_query(text, &smi, &cause), 0);
	assert_non_null(cause);
	if (strstr(cause, in_message) == NULL)
		fail_msg("expected '%s' in: %s", in_message, cause);
	assert_int_equal(smi.count, 0);
	free(cause);
}

static void test_malformed_output_is_refused_with_the_line(void **state)
{
	expect_refused("No devices were found\n",
		       "line 1 (expected 5 comma-separated fields): 'No devices were found'");
	expect_refused(H200_LINE "NVIDIA H200, 2335, 580.159.04, 143771, 9.0\n",
		       "line 2 (pci.device_id");
	expect_refused("NVIDIA H200, 0x233510DE, N/A, 143771, 9.0\n", "driver_version");
	expect_refused("NVIDIA H200, 0x233510DE, 580.159.04, 140 GiB, 9.0\n", "memory.total");
	expect_refused("NVIDIA H200, 0x233510DE, 580.159.04, 143771, 9\n", "compute_cap");
	expect_refused("NVIDIA H200, 0x233510DE, 580.159.04, 143771, nine.0\n", "compute_cap");
	expect_refused("NVIDIA H200, 0x233510DE, 580.159.04, 143771, 9.0, extra\n",
		       "more than 5 fields");
	expect_refused(", 0x233510DE, 580.159.04, 143771, 9.0\n", "no GPU name");
	expect_refused("\n\n", "listed no GPU");
	expect_refused("", "listed no GPU");
}

static void test_cuda_version_from_header_and_q(void **state)
{
	char *header = read_fixture("h200-nvidia-smi.txt");
	char *q = read_fixture("h200-nvidia-smi-q.txt");
	char *version = NULL, *cause = NULL;

	assert_int_equal(gg_nvsmi_parse_cuda_version(header, &version, &cause), 0);
	assert_string_equal(version, "13.0");
	free(version);
	assert_int_equal(gg_nvsmi_parse_cuda_version(q, &version, &cause), 0);
	assert_string_equal(version, "13.0");
	free(version);
	assert_int_not_equal(gg_nvsmi_parse_cuda_version(
		"| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: N/A |",
		&version, &cause), 0);
	assert_string_equal(cause, "'nvidia-smi' printed no CUDA version");
	free(cause);
	free(header);
	free(q);
}

/* ------------------------------------------------------------ running a stand-in */

static char dir[] = "/tmp/gg-test-nvsmi.XXXXXX";

/* Write the stand-in program dir/NAME that runs BODY (a POSIX shell script). */
static char *stand_in(const char *name, const char *body)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void expect_run_fails(const char *program, int timeout_ms, const char *message)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *cause = NULL;

	assert_int_not_equal(gg_nvsmi_run(program, timeout_ms, &smi, &cause), 0);
	assert_non_null(cause);
	if (strstr(cause, message) == NULL)
		fail_msg("expected '%s' in: %s", message, cause);
	assert_int_equal(smi.count, 0);
	free(cause);
}

static void test_run_reads_both_outputs(void **state)
{
	struct gg_nvsmi smi = GG_NVSMI_INIT;
	char *cause = NULL, *body = NULL, *program;

	assert_true(asprintf(&body,
		"case \"$1\" in\n"
		"--query-gpu=" GG_NVSMI_QUERY ") [ \"$2\" = --format=csv,noheader,nounits ] &&"
		" printf '%%s' '" H200_LINE "' ;;\n"
		"'') cat '%s/tests/fixtures/nvidia-smi/h200-nvidia-smi.txt' ;;\n"
		"*) echo \"unexpected arguments: $*\" >&2; exit 2 ;;\n"
		"esac", GG_TEST_SOURCE_DIR) > 0);
	program = stand_in("good", body);
	assert_int_equal(gg_nvsmi_run(program, 5000, &smi, &cause), 0);
	assert_null(cause);
	assert_int_equal(smi.count, 1);
	assert_int_equal(smi.gpus[0].pci_device_id, 0x2335);
	assert_non_null(smi.cuda_version);
	assert_string_equal(smi.cuda_version, "13.0");
	gg_nvsmi_release(&smi);
	free(program);
	free(body);
}

static void test_run_failures_say_why(void **state)
{
	char *program, *missing = NULL;

	assert_true(asprintf(&missing, "%s/no-such-nvidia-smi", dir) > 0);
	expect_run_fails(missing, 5000,
			 "not found on PATH (is the NVIDIA driver installed?)");
	free(missing);

	program = stand_in("no-devices", "echo 'No devices were found'; exit 6");
	expect_run_fails(program, 5000, "failed (exit 6): No devices were found");
	free(program);

	program = stand_in("no-driver",
		"echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
		"driver. Make sure that the latest NVIDIA driver is installed and running.\"\n"
		"exit 9");
	expect_run_fails(program, 5000,
			 "failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate");
	free(program);

	program = stand_in("silent", "exit 3");
	expect_run_fails(program, 5000, "failed (exit 3): it printed nothing");
	free(program);

	program = stand_in("garbage", "echo 'Segmentation fault, core dumped'");
	expect_run_fails(program, 5000, "unexpected 'nvidia-smi' output on line 1");
	free(program);

	/* A hung driver: killed at the timeout, with whatever it started. */
	program = stand_in("hangs", "sleep 30 & sleep 30");
	expect_run_fails(program, 300, "did not finish within 1 s: killed it");
	free(program);
}

static int make_dir(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
	char *cmd = NULL;
	int r;

	if (asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		return -1;
	r = system(cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_shape_parses),
		cmocka_unit_test(test_flavour_from_id_and_compute_cap_agree),
		cmocka_unit_test(test_several_gpus_crlf_and_unknown_values),
		cmocka_unit_test(test_malformed_output_is_refused_with_the_line),
		cmocka_unit_test(test_cuda_version_from_header_and_q),
		cmocka_unit_test(test_run_reads_both_outputs),
		cmocka_unit_test(test_run_failures_say_why),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
