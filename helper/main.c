/*
 * main.c: gcloud-gpu-helper's entry point.  It runs as root on the VM, driven by the
 * gcloud-gpu CLI over SSH exec channels: find the command, set up the context, run it,
 * print its one error line, exit with its code (protocol.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "helper.h"
#include "lookup.h"
#include "protocol.h"

static const struct helper_command commands[] = {
	{ "probe", cmd_probe, "", "print machine facts (OS, disk, Secure Boot, GPUs) as JSON" },
	{ "version", cmd_version, "", "print the helper and protocol versions as JSON" },
	{ "have", cmd_have, "< MANIFEST", "store the manifest; print the blobs missing and their offsets" },
	{ "recv", cmd_recv, "[--manifest N] < TAR", "store blobs <sha256>[.<offset>], verified (--manifest: have first)" },
	{ "unpack", cmd_unpack, "ARCHIVE DEST", "extract an untrusted tar(.zst) safely into DEST" },
	{ "apply", cmd_apply, "MANIFEST-SHA256", "verify, lay out the release, start the runner, follow it" },
	{ "follow", cmd_follow, "[--from SEQ] [--no-wait]", "stream the events until the plan ends" },
	{ "resume", cmd_resume, "[--from SEQ]", "start the runner again if the plan is unfinished; follow" },
	{ "ensure", cmd_ensure, "[--from SEQ]", "run the last plan again (every check); follow" },
	{ "status", cmd_status, "", "the plan, each step's state, boot id, last seq as JSON" },
	{ "run", cmd_run, "", "(internal) the step runner that apply starts detached" },
	{ "idle-set", cmd_idle_set, "SECONDS|off [--if-unset]", "power off after SECONDS idle (a timer checks every minute)" },
	{ "idle-check", cmd_idle_check, "", "(the timer's) is the VM idle? log it; warn, power off" },
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: gcloud-gpu-helper COMMAND [ARGS]\n\n"
		   "The VM side of gcloud-gpu: runs as root, driven over SSH by the gcloud-gpu CLI.\n"
		   "Commands:\n");
	for (i = 0; i < COMMAND_COUNT; i++)
		fprintf(f, "  %-10s %-24s %s\n", commands[i].name, commands[i].usage,
			commands[i].about);
	fprintf(f, "\nEnvironment:\n"
		   "  %-24s state root (default %s)\n"
		   "  %-24s boot id file (default %s)\n"
		   "  %-24s tests: run this with sh -c instead of rebooting\n"
		   "  %-24s tests: write the boot unit here (default /etc/systemd/system)\n"
		   "  %-24s tests: seconds the VM may take to go down after the reboot command\n"
		   "  %-24s tests: idle-check runs this with sh -c instead of powering off\n"
		   "\nExit codes: 0 ok, 1 plan failed, 2 usage, 3 input refused, 4 system error,\n"
		   "5 busy, 6 follow detached before the plan ended.\n",
		GG_ENV_ROOT, GG_DEFAULT_ROOT, GG_ENV_BOOT_ID_FILE, GG_DEFAULT_BOOT_ID_FILE,
		"GCLOUD_GPU_REBOOT_COMMAND", "GCLOUD_GPU_UNIT_DIR", "GCLOUD_GPU_REBOOT_WAIT",
		"GCLOUD_GPU_POWEROFF_COMMAND");
}

/* The exact name only (lookup.h): the CLI always names its commands in full. */
static const struct helper_command *find_command(const char *name, char **cause)
{
	char *suggestions = NULL;
	long i = gg_lookup(commands, sizeof commands[0], COMMAND_COUNT, name, &suggestions);

	if (i >= 0)
		return &commands[i];
	if (suggestions != NULL)
		gg_fail(cause, GG_HELPER_USAGE, "unknown command '%s' (did you mean %s?)", name,
			suggestions);
	else
		gg_fail(cause, GG_HELPER_USAGE, "unknown command '%s' (see --help)", name);
	free(suggestions);
	return NULL;
}

/*
 * A relative path in the environment variable var is made absolute against the working
 * directory, once, before anything uses it: the runner later leaves that directory
 * (chdir "/"), and a step or the reboot unit gets the variable passed on.  Tests give
 * each loopback "VM" a root relative to the directory its sshd's shell starts in.
 */
static void absolute_env(const char *var)
{
	const char *v = getenv(var);
	char cwd[PATH_MAX], *abs;

	if (v == NULL || v[0] == '\0' || v[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return;
	if (asprintf(&abs, "%s/%s", cwd, v) < 0)
		return;
	setenv(var, abs, 1);
	free(abs);
}

int main(int argc, char **argv)
{
	static char self[PATH_MAX];
	struct helper_context ctx;
	const struct helper_command *cmd;
	char *cause = NULL;
	const char *env;
	ssize_t n;
	int r;

	if (argc < 2) {
		usage(stderr);
		return GG_HELPER_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return GG_HELPER_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("gcloud-gpu-helper %s (protocol %d)\n", GG_VERSION, GG_PROTOCOL_VERSION);
		return GG_HELPER_OK;
	}
	cmd = find_command(argv[1], &cause);
	if (cmd == NULL) {
		fprintf(stderr, "gcloud-gpu-helper: %s\n", cause);
		free(cause);
		return GG_HELPER_USAGE;
	}

	absolute_env(GG_ENV_ROOT);
	absolute_env(GG_ENV_BOOT_ID_FILE);
	env = getenv(GG_ENV_ROOT);
	ctx.root = env != NULL && env[0] != '\0' ? env : GG_DEFAULT_ROOT;
	env = getenv(GG_ENV_BOOT_ID_FILE);
	ctx.boot_id_file = env != NULL && env[0] != '\0' ? env : GG_DEFAULT_BOOT_ID_FILE;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	ctx.self = self;

	r = cmd->run(&ctx, argc - 1, argv + 1, &cause);
	if (r != GG_HELPER_OK && cause != NULL)
		fprintf(stderr, "gcloud-gpu-helper: %s\n", cause);
	free(cause);
	return r;
}
