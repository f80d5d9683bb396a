/*
 * cli.c: gcloud-gpu's command table and dispatch.
 *
 * One table, one file per command (cmd-*.c).  cli_main takes the options every
 * command shares (-h/--help, -v/--verbose), finds the command by its exact name,
 * runs it (or, given several targets, the fleet driver that runs it once per target:
 * fleet.h), prints its one error line and returns its exit code (cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "fleet.h"
#include "lookup.h"
#include "protocol.h"
#include "xmalloc.h"

/* Keep docs/CLI.md, docs/gcloud-gpu.1 and completion/ in step with this table. */
const struct cli_command cli_commands[] = {
	{ "help", cmd_help, "show help for gcloud-gpu or one command", cli_help_help },
	{ "create", cmd_create, "create a GPU VM on Compute Engine (quota checked first)",
	  cli_help_create },
	{ "push", cmd_push, "set up the target (driver, Docker, Jupyter) and show its progress",
	  cli_help_push },
	{ "tunnel", cmd_tunnel, "forward a local port to Jupyter on the VM", cli_help_tunnel },
	{ "status", cmd_status, "the plan, each step, the GPU and Jupyter, in words",
	  cli_help_status },
	{ "idle-stop", cmd_idle_stop, "power the VM off after DURATION unused (45m, 2h, off)",
	  cli_help_idle_stop },
	{ "logs", cmd_logs, "show the VM's event log and the steps' output", cli_help_logs },
	{ "reattach", cmd_reattach, "pick up a target after a restart or a dropped link",
	  cli_help_reattach },
	{ "ssh", cmd_ssh, "a shell (or one command) on the target, same keys and host keys",
	  cli_help_ssh },
	{ "start", cmd_start, "start a stopped VM", cli_help_start },
	{ "stop", cmd_stop, "stop a VM: its GPU is no longer billed", cli_help_stop },
	{ "delete", cmd_delete, "delete a VM and its disks (asks first)", cli_help_delete },
	{ "list", cmd_list, "the VMs gcloud-gpu created: status, GPU, address, plan, idle stop",
	  cli_help_list },
	{ "ssh-config", cmd_ssh_config, "print an OpenSSH Host block for a VM",
	  cli_help_ssh_config },
	{ NULL, NULL, NULL, NULL },
};

int cli_verbose;

const char cli_help_help[] =
	"usage: gcloud-gpu help [COMMAND]\n\n"
	"Show the getting-started help and the list of commands, or the whole help of one\n"
	"command (the same text as 'gcloud-gpu COMMAND --help' and 'COMMAND -h').\n";

void cli_usage(FILE *f)
{
	const struct cli_command *c;

	fprintf(f, "usage: gcloud-gpu [-v|-vvv] [--version] [--help] COMMAND [ARGS]\n\n"
		   "Turn a GPU VM into a working GPU Jupyter server, and keep it that way.\n\n"
		   "Getting started on Compute Engine (gcloud installed, 'gcloud init' done):\n"
		   "  gcloud-gpu create my-vm     a VM with a GPU (quota checked first)\n"
		   "  gcloud-gpu push my-vm       NVIDIA driver, cuDNN, Docker, Jupyter: all of it\n"
		   "  gcloud-gpu tunnel my-vm     then open the http://127.0.0.1:8888/?token=... it prints\n\n"
		   "Any Ubuntu or Debian machine with an NVIDIA GPU that you reach over SSH:\n"
		   "  gcloud-gpu push --ssh user@host      (also ssh://user@host:port, -p PORT, -i KEY,\n"
		   "  gcloud-gpu tunnel --ssh user@host     and Host aliases of ~/.ssh/config)\n\n"
		   "Commands:\n");
	for (c = cli_commands; c->name != NULL; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->about);
	fprintf(f, "\nOptions of every command:\n"
		   "  -h, --help       this command's help (the same as 'gcloud-gpu help COMMAND')\n"
		   "  -v, --verbose    say what is connected to and run; -vvv adds libssh's log\n"
		   "\nExit codes:\n"
		   "  0 ok   1 local error (files, bad recipe)   2 usage   3 Google auth/API error\n"
		   "  4 SSH connection or authentication failed   5 host key unknown or changed\n"
		   "  6 a step failed on the VM   7 interrupted: the message says what to run next\n"
		   "  8 the helper on the VM refused or failed\n"
		   "  9 another plan runs on the VM: nothing applied, 'reattach' then push again\n"
		   "\nMore: 'gcloud-gpu help COMMAND', 'man gcloud-gpu', docs/CLI.md.\n");
}

int cli_help(const char *name, char **cause)
{
	const struct cli_command *c;

	for (c = cli_commands; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			fputs(c->help, stdout);
			return GG_EXIT_OK;
		}
	}
	return gg_fail(cause, GG_EXIT_USAGE, "no command '%s' (see gcloud-gpu --help)", name);
}

void cli_debug(int level, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	if (cli_verbose < level)
		return;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) >= 0) {
		gg_printable(text, 1);
		fprintf(stderr, "gcloud-gpu: debug: %s\n", text);
	}
	va_end(ap);
	free(text);
}

const char *cli_plural(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

char *cli_json_text(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY), *out;
	size_t dels = 0, i, o = 0;

	if (text == NULL)
		return NULL;
	for (i = 0; text[i] != '\0'; i++)
		dels += text[i] == 0x7f;
	if (dels == 0)
		return text;
	/* A raw DEL can only stand inside a string: \u007f there means the same. */
	out = xmalloc(i + 5 * dels + 1);
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] == 0x7f) {
			memcpy(out + o, "\\u007f", 6);
			o += 6;
		} else {
			out[o++] = text[i];
		}
	}
	out[o] = '\0';
	free(text);
	return out;
}

void cli_json_print(json_t *obj)
{
	char *text = obj != NULL ? cli_json_text(obj) : NULL;

	printf("%s\n", text != NULL ? text : "{}");
	free(text);
	json_decref(obj);
}

void cli_bytes(char *out, size_t size, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

/* Exact name only (lookup.h); a typo gets the names it may have meant. */
static const struct cli_command *find_command(const char *name, char **cause)
{
	char *suggestions = NULL;
	long i = gg_lookup(cli_commands, sizeof cli_commands[0],
			   sizeof cli_commands / sizeof cli_commands[0], name, &suggestions);

	if (i >= 0)
		return &cli_commands[i];
	if (suggestions != NULL)
		gg_fail(cause, GG_EXIT_USAGE, "unknown command '%s': did you mean %s? (see "
			"gcloud-gpu --help)", name, suggestions);
	else
		gg_fail(cause, GG_EXIT_USAGE, "unknown command '%s' (see gcloud-gpu --help)", name);
	free(suggestions);
	return NULL;
}

/*
 * Every command keeps files under HOME (the hash cache, each target's bookmark, the
 * SSH key, gcloud's configuration and the token cache): without it they would land in
 * /tmp or the current directory, where other users may read or plant them.  Only help
 * goes without.
 */
static int home_required(char **cause)
{
	const char *home = getenv("HOME");

	if (home == NULL || home[0] != '/')
		return gg_fail(cause, GG_EXIT_ERROR, "HOME is not set to an absolute path: gcloud-gpu "
			       "keeps its cache, state and SSH key under it; set HOME and run again");
	return 0;
}

/* -v, -vv, -vvv or --verbose: how many v's; 0 for anything else. */
static int verbose_flag(const char *a)
{
	size_t n;

	if (strcmp(a, "--verbose") == 0)
		return 1;
	if (a[0] != '-' || a[1] != 'v')
		return 0;
	n = strspn(a + 1, "v");
	return a[1 + n] == '\0' ? (int)n : 0;
}

int cli_main(int argc, char **argv)
{
	const struct cli_command *cmd;
	char *cause = NULL, **args = xcalloc((size_t)argc + 1, sizeof *args);
	int i, n = 0, r, help = 0, dashdash = 0;

	/* The shared options, anywhere before "--", are taken out of what the command sees. */
	for (i = 0; i < argc; i++) {
		int v = dashdash || i == 0 ? 0 : verbose_flag(argv[i]);

		if (v > 0) {
			cli_verbose += v;
			continue;
		}
		if (!dashdash && i > 0 && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
			help = 1;
			continue;
		}
		if (strcmp(argv[i], "--") == 0 && n > 1)
			dashdash = 1;
		args[n++] = argv[i];
	}
	if (n < 2 || strcmp(args[1], "--version") == 0) {
		if (n >= 2) {
			printf("gcloud-gpu %s (event protocol %d)\n", GG_VERSION, GG_PROTOCOL_VERSION);
			r = GG_EXIT_OK;
		} else {
			cli_usage(help ? stdout : stderr);
			r = help ? GG_EXIT_OK : GG_EXIT_USAGE;
		}
		goto out;
	}
	cmd = find_command(args[1], &cause);
	if (cmd == NULL)
		r = GG_EXIT_USAGE;
	else if (help)
		r = cmd == &cli_commands[0] && n > 2 ? cli_help(args[2], &cause) : cli_help(cmd->name, &cause);
	else if (cmd == &cli_commands[0] || (r = home_required(&cause)) == 0)
		/* Several targets (fleet.h): one child per target, each this command. */
		r = fleet_wanted(cmd->name, n - 1, args + 1) ? fleet_main(cmd->name, n - 1, args + 1, &cause)
							     : cmd->run(n - 1, args + 1, &cause);
out:
	if (r != GG_EXIT_OK && cause != NULL)
		fprintf(stderr, "gcloud-gpu: %s\n", cause);
	free(cause);
	free(args);
	return r;
}
