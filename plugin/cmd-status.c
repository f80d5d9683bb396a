/*
 * cmd-status.c: `gcloud-gpu status TARGET`: the plan and each step's state (helper
 * `status`), the machine and GPU facts (helper `probe`), whether Jupyter answers
 * on the VM's loopback, and the idle stop (its setting and the time left).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

#define STATUS_HELP                                                                       \
	"usage: gcloud-gpu status (VM | --ssh USER@HOST[:PORT]) [options]\n\n"            \
	"Show the target's plan and each step's state, its GPU, and whether Jupyter\n"      \
	"answers on the VM.\n\n"                                                            \
	"Options:\n"                                                                        \
	"  --json                     one JSON object: {\"status\":..,\"probe\":..,\"jupyter\":..}\n"

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

	ssh_conn_run(r->conn, "curl -s -m 3 -o /dev/null -w '%{http_code}' "
		     "http://127.0.0.1:8888/api 2>/dev/null", NULL, 0, &out, NULL, &status, NULL);
	v = json_boolean(status == 0 && strncmp(out.data, "200", 3) == 0);
	gg_buf_release(&out);
	return v;
}

/*
 * The idle stop as the helper's status reports it (cmd-idle.c): off, or the period,
 * what the last check found and, while the VM is quiet, when it powers off.  The
 * reason is the VM's text: cleaned before it reaches the terminal.
 */
static void print_idle(json_t *idle)
{
	json_int_t period = json_integer_value(json_object_get(idle, "period"));
	json_t *stop_in = json_object_get(idle, "stop_in");
	const char *verdict = json_string_value(json_object_get(idle, "verdict"));
	char *reason = xstrdup(json_string_value(json_object_get(idle, "reason")) != NULL
				       ? json_string_value(json_object_get(idle, "reason")) : "");

	gg_printable(reason, 0);
	if (!json_is_object(idle) || period <= 0) {
		printf("idle     stop off: the VM runs until stopped\n");
	} else {
		printf("idle     stop after %lld min without use%s\n", (long long)(period + 59) / 60,
		       json_is_true(json_object_get(idle, "timer")) ? "" : " (its timer is missing)");
		if (verdict == NULL)
			printf("  not checked yet\n");
		else
			printf("  %-22s %s (checked %lld s ago)\n", "last check", reason,
			       (long long)json_integer_value(json_object_get(idle, "checked_ago")));
		if (json_is_integer(stop_in) && verdict != NULL &&
		    (strcmp(verdict, "waiting") == 0 || strcmp(verdict, "warn") == 0))
			printf("  %-22s in about %lld min, unless someone uses it\n", "powers off",
			       (long long)(json_integer_value(stop_in) > 0
						   ? (json_integer_value(stop_in) + 59) / 60 : 0));
	}
	free(reason);
}

static void print_facts(json_t *obj, const char *indent)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		char *text = json_is_string(v) ? xstrdup(json_string_value(v))
					       : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		printf("%s%-14s %s\n", indent, key, text != NULL ? text : "?");
		free(text);
	}
}

int cmd_status(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct gg_buf status_out = GG_BUF_INIT, probe_out = GG_BUF_INIT;
	struct opt_parser p;
	struct ui *ui = NULL;
	json_t *status = NULL, *probe = NULL, *jupyter = NULL, *steps, *step, *all = NULL;
	const char *arg;
	char *text, *why = NULL;
	enum opt_result res;
	size_t i;
	int id, json = 0, rc;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, status_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_HELP) {
			fputs(STATUS_HELP OPT_TARGET_HELP, stdout);
			return GG_EXIT_OK;
		}
		if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(json ? UI_JSON : UI_PLAIN);
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0 ||
	    (rc = remote_helper(&r, "status", NULL, 0, &status_out, cause)) != 0)
		goto out;
	status = json_loadb(status_out.data, status_out.len, 0, NULL);
	/* Missing machine facts do not hide the plan's state: say why instead. */
	if ((rc = remote_helper(&r, "probe", NULL, 0, &probe_out, &why)) == GG_EXIT_REMOTE)
		probe = json_pack("{s:s}", "error", why);
	else if (rc != 0)
		goto out;
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
		text = json_dumps(all, JSON_COMPACT);
		printf("%s\n", text != NULL ? text : "{}");
		free(text);
		goto done;
	}
	printf("target   %s\n", t.name);
	printf("plan     %s\n", json_string_value(json_object_get(status, "plan")) != NULL
				    ? json_string_value(json_object_get(status, "plan")) : "(none)");
	printf("state    %s\n", json_string_value(json_object_get(status, "state")) != NULL
				    ? json_string_value(json_object_get(status, "state")) : "?");
	steps = json_object_get(status, "steps");
	json_array_foreach(steps, i, step)
		printf("  %-22s %s\n", json_string_value(json_object_get(step, "name")) != NULL
			       ? json_string_value(json_object_get(step, "name")) : "?",
		       json_string_value(json_object_get(step, "state")) != NULL
			       ? json_string_value(json_object_get(step, "state")) : "?");
	printf("machine\n");
	print_facts(probe, "  ");
	printf("jupyter  %s\n", json_is_true(jupyter) ? "answers on 127.0.0.1:8888"
						     : "not answering on 127.0.0.1:8888");
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
