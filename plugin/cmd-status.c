/*
 * cmd-status.c: `gcloud-gpu status TARGET`: the plan and each step's state (helper
 * `status`), the machine and GPU facts (helper `probe`), whether Jupyter answers
 * on the VM's loopback, and the idle stop (its setting and the time left).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "fleet.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_status[] =
	"usage: gcloud-gpu status (VM | --ssh USER@HOST[:PORT]) [options]\n\n"
	"Show the target's plan and each step's state, its GPU, and whether Jupyter\n"
	"answers on the VM.\n\n"
	"Options:\n"
	"  --json                     one JSON object: {\"status\":..,\"probe\":..,\"jupyter\":..}\n"
	OPT_TARGET_HELP
	FLEET_HELP;

enum { OPT_JSON = OPT_COMMAND };

static const struct opt_spec status_options[] = {
	OPT_TARGET_SPECS,
	{ "json", 0, 0, OPT_JSON },
	{ NULL, 0, 0, 0 },
};

/* Does something answer HTTP on the VM's 127.0.0.1:8888?  Asked with the VM's curl. */
static json_t *jupyter_answers(struct remote *r)
{
	struct gg_buf out = GG_BUF_INIT;
	int status = -1;
	json_t *v;

	remote_run(r, "curl -s -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:8888/api "
		   "2>/dev/null", NULL, 0, 16, &out, NULL, &status, NULL);
	v = json_boolean(status == 0 && strncmp(out.data, "200", 3) == 0);
	gg_buf_release(&out);
	return v;
}

/* A string member of obj, or fallback. */
static const char *text_of(json_t *obj, const char *key, const char *fallback)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL && v[0] != '\0' ? v : fallback;
}

/* print_clean's one-line form: what the VM sent never drives the terminal. */
static void say(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *label, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) >= 0) {
		gg_printable(text, 0);
		printf("%-9s %s\n", label, text);
	}
	va_end(ap);
	free(text);
}

/* The plan's state in words, with the step it stands at. */
static void print_plan(json_t *status, const char *cli_arg)
{
	const char *state = text_of(status, "state", "idle"), *at = NULL, *mark;
	json_t *steps = json_object_get(status, "steps"), *step;
	size_t i, done = 0;

	json_array_foreach(steps, i, step) {
		const char *st = text_of(step, "state", "?");

		if (strcmp(st, "done") == 0 || strcmp(st, "skipped") == 0)
			done++;
		else if (at == NULL && strcmp(st, "pending") != 0)
			at = text_of(step, "name", "?");
	}
	if (strcmp(state, "idle") == 0 || json_object_get(status, "plan") == NULL ||
	    json_is_null(json_object_get(status, "plan")))
		say("plan", "nothing pushed yet: run 'gcloud-gpu push %s'", cli_arg);
	else if (strcmp(state, "done") == 0)
		say("plan", "done: all %zu %s in place", json_array_size(steps),
		    cli_plural(json_array_size(steps), "step", "steps"));
	else if (strcmp(state, "failed") == 0)
		say("plan", "failed%s%s (%zu of %zu steps done): see 'gcloud-gpu logs %s'",
		    at != NULL ? " at step " : "", at != NULL ? at : "", done,
		    json_array_size(steps), cli_arg);
	else if (strcmp(state, "rebooting") == 0)
		say("plan", "the VM reboots for the driver (%zu of %zu steps done): 'gcloud-gpu "
		    "reattach %s' follows it", done, json_array_size(steps), cli_arg);
	else
		say("plan", "running%s%s (%zu of %zu steps done): 'gcloud-gpu logs %s -f' shows it",
		    at != NULL ? " step " : "", at != NULL ? at : "", done, json_array_size(steps),
		    cli_arg);
	json_array_foreach(steps, i, step) {
		const char *st = text_of(step, "state", "?");

		mark = strcmp(st, "done") == 0 ? "+" : strcmp(st, "skipped") == 0 ? "=" :
		       strcmp(st, "failed") == 0 ? "x" : strcmp(st, "running") == 0 ? ">" : ".";
		say("", "%s %-22s %s", mark, text_of(step, "name", "?"),
		    strcmp(st, "skipped") == 0 ? "already in place" :
		    strcmp(st, "pending") == 0 ? "not run yet" : st);
	}
}

/*
 * The idle stop as the helper's status reports it (helper/cmd-idle.c): off, or the
 * period, what the last check found and, while the VM is quiet, when it powers off.
 * The reason is the VM's text: say() cleans it before it reaches the terminal.
 */
static void print_idle(json_t *idle)
{
	json_int_t period = json_integer_value(json_object_get(idle, "period"));
	json_t *stop_in = json_object_get(idle, "stop_in");
	const char *verdict = json_string_value(json_object_get(idle, "verdict"));

	if (!json_is_object(idle) || period <= 0) {
		say("idle", "stop off: the VM runs until stopped");
		return;
	}
	say("idle", "stop after %lld min without use%s", (long long)(period + 59) / 60,
	    json_is_true(json_object_get(idle, "timer")) ? "" : " (its timer is missing)");
	if (verdict == NULL)
		say("", "not checked yet");
	else
		say("", "%-22s %s (checked %lld s ago)", "last check", text_of(idle, "reason", ""),
		    (long long)json_integer_value(json_object_get(idle, "checked_ago")));
	if (json_is_integer(stop_in) && verdict != NULL &&
	    (strcmp(verdict, "waiting") == 0 || strcmp(verdict, "warn") == 0))
		say("", "%-22s in about %lld min, unless someone uses it", "powers off",
		    (long long)(json_integer_value(stop_in) > 0
					? (json_integer_value(stop_in) + 59) / 60 : 0));
}

/* The machine and its GPU in words, from the helper's probe (helper/probe.h). */
static void print_machine(json_t *probe)
{
	json_t *disk = json_object_get(probe, "disk"), *smi = json_object_get(probe, "nvidia_smi");
	json_t *gpus = json_object_get(smi, "gpus"), *gpu, *dev;
	char free_s[32], total_s[32];
	size_t i, nvidia = 0;

	if (json_object_get(probe, "error") != NULL) {
		say("machine", "unknown: %s", text_of(probe, "error", "?"));
		return;
	}
	say("machine", "%s, kernel %s%s", text_of(json_object_get(probe, "os"), "pretty_name", "unknown OS"),
	    text_of(json_object_get(probe, "kernel"), "release", "?"),
	    json_is_true(json_object_get(probe, "systemd")) ? ", systemd" : ", no systemd");
	if (json_is_integer(json_object_get(disk, "free_bytes"))) {
		cli_bytes(free_s, sizeof free_s, (double)json_integer_value(json_object_get(disk, "free_bytes")));
		cli_bytes(total_s, sizeof total_s, (double)json_integer_value(json_object_get(disk, "total_bytes")));
		say("disk", "%s free of %s (%s)", free_s, total_s, text_of(disk, "path", "?"));
	}
	if (json_is_true(json_object_get(smi, "ok")) && json_array_size(gpus) > 0) {
		json_array_foreach(gpus, i, gpu)
			say(i == 0 ? "gpu" : "", "%s, %lld MiB, driver %s, CUDA %s", text_of(gpu, "name", "?"),
			    (long long)json_integer_value(json_object_get(gpu, "memory_total_mib")),
			    text_of(gpu, "driver_version", "?"), text_of(smi, "cuda_version", "?"));
		return;
	}
	json_array_foreach(json_object_get(json_object_get(probe, "pci"), "devices"), i, dev)
		if (json_is_true(json_object_get(dev, "gpu")))
			nvidia++;
	if (nvidia > 0)
		say("gpu", "%zu NVIDIA %s on the PCI bus, no working driver yet (nvidia-smi: %s)",
		    nvidia, cli_plural(nvidia, "GPU", "GPUs"), text_of(smi, "error", "not found"));
	else
		say("gpu", "no NVIDIA GPU found on this machine");
}

int cmd_status(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct gg_buf status_out = GG_BUF_INIT, probe_out = GG_BUF_INIT;
	struct opt_parser p;
	struct ui *ui = NULL;
	json_t *status = NULL, *probe = NULL, *jupyter = NULL, *all = NULL;
	const char *arg;
	char *why = NULL;
	enum opt_result res;
	int id, json = 0, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, status_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(json ? UI_JSON : UI_PLAIN);
	/* A VM that answers slowly or without end is left with ^C. */
	remote_catch_interrupt();
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0)
		goto out;
	/* Reading uploads no helper to a VM that never had a push. */
	r.no_upload = 1;
	if ((rc = remote_helper(&r, "status", NULL, 0, REMOTE_ANSWER_MAX, &status_out, cause)) != 0) {
		if (r.never_pushed) {
			free(*cause);
			*cause = NULL;
			if (json) {
				all = json_pack("{s:s, s:n}", "target", t.name, "status");
				ui_json(ui, all);
			} else
				say("plan", "nothing pushed to %s yet: run 'gcloud-gpu push %s'", t.name,
				    t.cli_arg);
			rc = 0;
		}
		goto out;
	}
	status = json_loadb(status_out.data, status_out.len, 0, NULL);
	/* Missing machine facts do not hide the plan's state: say why instead. */
	if ((rc = remote_helper(&r, "probe", NULL, 0, REMOTE_ANSWER_MAX, &probe_out, &why)) == GG_EXIT_REMOTE)
		probe = json_pack("{s:s}", "error", why);
	else if (rc != 0) {
		/* The link broke or ^C: that is the command's failure, said as such. */
		gg_fail(cause, rc, "%s", why != NULL ? why : "cannot read the machine facts");
		goto out;
	}
	else
		probe = json_loadb(probe_out.data, probe_out.len, 0, NULL);
	if (!json_is_object(status) || !json_is_object(probe)) {
		rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' answered 'status' or 'probe' "
			     "with something that is not a JSON object", t.name);
		goto out;
	}
	jupyter = jupyter_answers(&r);
	if (json) {
		all = json_pack("{s:O, s:O, s:O}", "status", status, "probe", probe, "jupyter", jupyter);
		ui_json(ui, all);
		goto done;
	}
	say("target", "%s", t.name);
	print_plan(status, t.cli_arg);
	print_machine(probe);
	if (json_is_true(jupyter))
		say("jupyter", "answers on the VM's 127.0.0.1:8888: run 'gcloud-gpu tunnel %s'",
		    t.cli_arg);
	else
		say("jupyter", "not answering on the VM's 127.0.0.1:8888");
	print_idle(json_object_get(status, "idle"));
done:
	rc = 0;
out:
	remote_close(&r);
	ui_free(ui);
	free(why);
	json_decref(all);
	json_decref(status);
	json_decref(probe);
	json_decref(jupyter);
	gg_buf_release(&status_out);
	gg_buf_release(&probe_out);
	target_release(&t);
	return rc;
}
