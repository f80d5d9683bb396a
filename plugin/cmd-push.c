/*
 * cmd-push.c: `gcloud-gpu push TARGET`, the whole flow: manifest the payload, connect,
 * bootstrap the helper, upload only the blobs the VM lacks (resuming a cut upload),
 * `apply`, and render the plan's events until it ends, reconnecting when the link
 * drops or the VM reboots.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "error.h"
#include "fleet.h"
#include "hash.h"
#include "idle-stop.h"
#include "opts.h"
#include "pack.h"
#include "protocol.h"
#include "recipe.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_push[] =
	"usage: gcloud-gpu push (VM | --ssh USER@HOST[:PORT]) [options]\n\n"
	"Make the target a GPU Jupyter server: upload the recipe (only what the VM lacks),\n"
	"run it there, and show its progress until it ends.  A dropped link or a reboot\n"
	"on the way is waited out; ^C stops showing, not the work (then: reattach).\n\n"
	"Options:\n"
	"  --payload DIR              the recipe to push (default: the one shipped); it is\n"
	"                             checked here first (steps/NN-name.sh, executable, #!)\n"
	"  --dry-run                  say what would be sent and run; change nothing\n"
	"  --json                     print the VM's events as JSON lines, unchanged\n"
	"  --timeout SECONDS          give up following after this long (default 7200)\n"
	"  --idle-stop DURATION|off   power the VM off after DURATION unused (45m, 2h;\n"
	"                             default: 60m on a VM made by 'gcloud-gpu create',\n"
	"                             off elsewhere; see 'gcloud-gpu idle-stop')\n\n"
	"On a terminal the step list stays on screen at the end: a check mark (+) done,\n"
	"= already in place, x failed, . not run, with each step's time.\n"
	OPT_TARGET_HELP
	FLEET_HELP;

enum { OPT_PAYLOAD = OPT_COMMAND, OPT_JSON, OPT_TIMEOUT, OPT_DRY_RUN, OPT_IDLE_STOP };

static const struct opt_spec push_options[] = {
	OPT_TARGET_SPECS,
	{ "payload", 0, 1, OPT_PAYLOAD },
	{ "dry-run", 0, 0, OPT_DRY_RUN },
	{ "json", 0, 0, OPT_JSON },
	{ "timeout", 0, 1, OPT_TIMEOUT },
	{ "idle-stop", 0, 1, OPT_IDLE_STOP },
	{ NULL, 0, 0, 0 },
};

/* `have`'s answer (text): which blobs the VM lacks (malloc'd) and the manifest's sha. */
static int parse_have(struct remote *r, const char *text, size_t len, struct pack_blob **blobs,
		      size_t *count, char sha[GG_SHA256_HEX_SIZE], char **cause)
{
	json_t *root = json_loadb(text, len, 0, NULL), *missing, *v;
	const char *s;
	size_t i;
	int rc = 0;

	*blobs = NULL;
	*count = 0;
	missing = json_object_get(root, "missing");
	s = json_string_value(json_object_get(root, "manifest"));
	if (s == NULL || !gg_sha256_hex_valid(s) || !json_is_array(missing)) {
		rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' answered 'have' with '%.*s'",
			     r->target->name, (int)(len < 200 ? len : 200), text);
		goto out;
	}
	memcpy(sha, s, GG_SHA256_HEX_SIZE);
	*blobs = xcalloc(json_array_size(missing) + 1, sizeof **blobs);
	json_array_foreach(missing, i, v) {
		struct pack_blob *b = &(*blobs)[i];
		json_int_t size = json_integer_value(json_object_get(v, "size"));
		json_int_t offset = json_integer_value(json_object_get(v, "offset"));

		s = json_string_value(json_object_get(v, "sha256"));
		if (s == NULL || !gg_sha256_hex_valid(s) || size < 0 || offset < 0 || offset > size) {
			rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' named a bad missing blob",
				     r->target->name);
			goto out;
		}
		memcpy(b->sha256, s, GG_SHA256_HEX_SIZE);
		b->size = (uint64_t)size;
		b->offset = (uint64_t)offset;
		(*count)++;
	}
out:
	json_decref(root);
	return rc;
}

struct upload {
	struct remote *r;
	struct ssh_exec *x;
};

static int upload_write(void *ctx, const void *data, size_t len, char **cause)
{
	struct upload *u = ctx;

	if (remote_interrupted)
		return gg_fail(cause, GG_EXIT_INTERRUPTED, "interrupted while uploading");
	return ssh_exec_write(u->x, data, len, cause);
}

static void upload_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct upload *u = ctx;

	ui_upload(u->r->ui, done, total);
	fleet_upload_progress(done, total);
}

/* Whether recv's "stored" list names every blob that was sent. */
static int stored_all(json_t *stored, const struct pack_blob *blobs, size_t count)
{
	size_t i, j;
	json_t *v;

	for (i = 0; i < count; i++) {
		json_array_foreach(stored, j, v)
			if (strcmp(json_string_value(v) != NULL ? json_string_value(v) : "",
				   blobs[i].sha256) == 0)
				break;
		if (j == json_array_size(stored))
			return 0;
	}
	return 1;
}

/*
 * The most bytes `have` or `recv` may answer for a manifest of count files: a line
 * per missing or stored blob (a sha256, a size and an offset) and the manifest's sha.
 */
static size_t answer_max(size_t count)
{
	return 4096 + count * 256;
}

/* What one round of the upload found and did. */
struct round {
	struct pack_blob *blobs;        /* what `have` said the VM lacks (malloc'd) */
	size_t count;
	uint64_t bytes;                 /* payload bytes the helper says it received */
	int complete;                   /* it stored every blob asked for */
	int busy;                       /* another upload of a blob was still in progress */
};

/*
 * One round over one exec channel, `recv --manifest N`: the manifest goes first and
 * the helper answers as `have` does (the blobs missing, and how much of a cut one it
 * holds); then the stream of those blobs, and its answer.  The stream starts only once
 * the helper runs (remote_start), so what the link carried before a cut is on the VM,
 * not in sshd's buffers.
 */
static int upload_round(struct remote *r, const char *dir, const struct gg_manifest *m,
			const struct gg_buf *manifest, char sha[GG_SHA256_HEX_SIZE],
			struct round *rd, char **cause)
{
	struct upload u = { r, NULL };
	struct gg_buf out = GG_BUF_INIT, err = GG_BUF_INIT;
	char *args = NULL, *nl;
	json_t *root = NULL;
	uint64_t kept = 0, total = 0;
	size_t i, first;
	int rc, status;

	free(rd->blobs);
	memset(rd, 0, sizeof *rd);
	xasprintf(&args, "recv --manifest %zu", manifest->len);
	if ((rc = remote_start(r, args, &u.x, &out, cause)) != 0 ||
	    (rc = ssh_exec_write(u.x, manifest->data, manifest->len, cause)) != 0)
		goto out;
	if ((rc = remote_read(r, u.x, &out, answer_max(m->count), 1, "the answer to 'have'",
			      cause)) != 0)
		goto out;
	nl = memchr(out.data, '\n', out.len);
	if (nl == NULL)
		goto finish; /* the helper refused the manifest: its exit status says why */
	first = (size_t)(nl - out.data) + 1;
	if ((rc = parse_have(r, out.data, first, &rd->blobs, &rd->count, sha, cause)) != 0)
		goto out;
	for (i = 0; i < rd->count; i++) {
		kept += rd->blobs[i].offset;
		total += rd->blobs[i].size;
	}
	if (kept > 0) {
		char k[32], t[32];

		cli_bytes(k, sizeof k, (double)kept);
		cli_bytes(t, sizeof t, (double)total);
		ui_note(r->ui, "resuming the upload: %llu of its %llu bytes (%s of %s) are on %s "
			"already", (unsigned long long)kept, (unsigned long long)total, k, t,
			r->target->name);
	}
	if (rd->count > 0 &&
	    (rc = pack_stream(dir, m, rd->blobs, rd->count, upload_write, upload_progress, &u,
			      cause)) != 0)
		goto out;
	if ((rc = ssh_exec_close_stdin(u.x, cause)) != 0)
		goto out;
	if ((rc = remote_read(r, u.x, &out, answer_max(m->count) * 2, 0, "the answer to 'recv'",
			      cause)) != 0)
		goto out;
finish:
	rc = ssh_exec_finish(u.x, &status, &err, cause);
	u.x = NULL;
	if (rc != 0)
		goto out;
	if (status != 0) {
		rd->busy = status == GG_HELPER_BUSY;
		rc = remote_helper_failed(r, "the upload", status, err.data, cause);
		goto out;
	}
	nl = memchr(out.data, '\n', out.len);
	root = nl != NULL ? json_loadb(nl + 1, out.len - (size_t)(nl + 1 - out.data), 0, NULL) : NULL;
	if (!json_is_integer(json_object_get(root, "bytes"))) {
		rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' answered 'recv' with '%.200s'",
			     r->target->name, out.data);
		goto out;
	}
	rd->bytes = (uint64_t)json_integer_value(json_object_get(root, "bytes"));
	rd->complete = json_is_array(json_object_get(root, "stored")) &&
		       stored_all(json_object_get(root, "stored"), rd->blobs, rd->count);
	rc = 0;
out:
	ssh_exec_abort(u.x);
	json_decref(root);
	gg_buf_release(&out);
	gg_buf_release(&err);
	free(args);
	return rc;
}

/* Upload until the VM has every blob, resuming after a dropped link. */
static int upload(struct remote *r, const char *dir, struct gg_manifest *m,
		  const struct gg_buf *manifest, char sha[GG_SHA256_HEX_SIZE],
		  double deadline, char **cause)
{
	struct round rd = { 0 };
	uint64_t sent = 0;
	size_t blobs_sent = 0;
	int rc, rounds = 0;

	for (;;) {
		rc = upload_round(r, dir, m, manifest, sha, &rd, cause);
		if (rc == 0) {
			sent += rd.bytes;
			blobs_sent += rd.count;
			/* Asked and stored all: done.  Otherwise `have` says again what is left. */
			if (rd.count == 0 || rd.complete)
				break;
			if (++rounds > 3) {
				rc = gg_fail(cause, GG_EXIT_REMOTE, "the helper on '%s' still lacks %zu blobs "
					     "after they were sent", r->target->name, rd.count);
				break;
			}
			continue;
		}
		/* The recv cut off with the old link has not let go yet: ask again soon. */
		if (rd.busy && ++rounds <= 3) {
			free(*cause);
			*cause = NULL;
			sleep(1);
			continue;
		}
		if (rc != GG_EXIT_SSH)
			break;
		if ((rc = remote_reconnect(r, deadline, cause)) != 0)
			break;
		rounds = 0;
	}
	if (rc == 0) {
		char size[32];

		cli_bytes(size, sizeof size, (double)sent);
		ui_note(r->ui, "sent %llu payload bytes (%s) in %zu %s (%zu %s in the payload)",
			(unsigned long long)sent, size, blobs_sent, cli_plural(blobs_sent, "file", "files"),
			m->count, cli_plural(m->count, "file", "files"));
	}
	free(rd.blobs);
	return rc;
}

/*
 * --dry-run: ask the VM which files it lacks (`have`: it stores only the manifest)
 * and say what a push would send and run, without sending or running anything.
 */
static int dry_run(struct remote *r, const struct gg_manifest *m, const struct gg_buf *manifest,
		   size_t steps, int json, char **cause)
{
	struct gg_buf out = GG_BUF_INIT;
	struct pack_blob *blobs = NULL;
	json_t *send = NULL, *run = NULL;
	char sha[GG_SHA256_HEX_SIZE], size[32];
	uint64_t bytes = 0;
	size_t count = 0, i, j;
	int rc;

	if ((rc = remote_helper(r, "have", manifest->data, manifest->len, answer_max(m->count),
				&out, cause)) != 0 ||
	    (rc = parse_have(r, out.data, out.len, &blobs, &count, sha, cause)) != 0)
		goto out;
	send = json_array();
	run = json_array();
	for (i = 0; i < m->count; i++) {
		const struct gg_manifest_entry *e = &m->files[i];
		const char *name = strrchr(e->path, '/') != NULL ? strrchr(e->path, '/') + 1 : e->path;

		if (strncmp(e->path, "steps/", 6) == 0 && strchr(e->path + 6, '/') == NULL &&
		    name[0] >= '0' && name[0] <= '9')
			json_array_append_new(run, json_string(e->path + 6));
		for (j = 0; j < count; j++)
			if (memcmp(blobs[j].sha256, e->sha256, GG_SHA256_HEX_SIZE) == 0)
				break;
		if (j == count)
			continue;
		json_array_append_new(send, json_pack("{s:s, s:I}", "path", e->path, "size",
						      (json_int_t)(e->size - blobs[j].offset)));
		bytes += e->size - blobs[j].offset;
	}
	if (json) {
		cli_json_print(json_pack("{s:s, s:O, s:I, s:O}", "target", r->target->name, "send",
					 send, "bytes", (json_int_t)bytes, "steps", run));
		goto out;
	}
	cli_bytes(size, sizeof size, (double)bytes);
	printf("dry run: nothing was sent or run on %s\n", r->target->name);
	printf("would send %zu %s (%s) of %zu:\n", json_array_size(send),
	       cli_plural(json_array_size(send), "file", "files"), size, m->count);
	for (i = 0; i < json_array_size(send); i++)
		printf("  %s\n", json_string_value(json_object_get(json_array_get(send, i), "path")));
	printf("would run %zu %s, each only when its check says it is not in place:\n", steps,
	       cli_plural(steps, "step", "steps"));
	for (i = 0; i < json_array_size(run); i++)
		printf("  %s\n", json_string_value(json_array_get(run, i)));
out:
	json_decref(send);
	json_decref(run);
	free(blobs);
	gg_buf_release(&out);
	return rc;
}

int cmd_push(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct gg_buf manifest = GG_BUF_INIT;
	struct pack_stats stats;
	struct remote r = { 0 };
	struct opt_parser p;
	struct ui *ui = NULL;
	const char *payload_arg = NULL, *arg;
	char *payload = NULL, sha[GG_SHA256_HEX_SIZE], *apply = NULL;
	long timeout = 7200, idle_stop = -1;
	double deadline;
	enum opt_result res;
	int id, json = 0, dry = 0, rc;
	size_t steps = 0;
	char size[32];

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, push_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_PAYLOAD)
			payload_arg = arg;
		else if (res == OPT_OPTION && id == OPT_JSON)
			json = 1;
		else if (res == OPT_OPTION && id == OPT_DRY_RUN)
			dry = 1;
		else if (res == OPT_OPTION && id == OPT_TIMEOUT) {
			if (opt_number("timeout", arg, 30L * 24 * 3600, &timeout, cause) != 0)
				return GG_EXIT_USAGE;
		} else if (res == OPT_OPTION && id == OPT_IDLE_STOP) {
			if (opt_idle_period(arg, &idle_stop, cause) != 0)
				return GG_EXIT_USAGE;
		} else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	/* The recipe first: a mistake in it fails before anything connects or starts. */
	payload = payload_arg != NULL ? xstrdup(payload_arg) : pack_default_dir();
	if ((rc = fleet_manifest(payload, &m, &stats, cause)) != 0 ||
	    (rc = recipe_check(payload, &steps, cause)) != 0) {
		free(payload);
		gg_manifest_release(&m);
		return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0) {
		free(payload);
		gg_manifest_release(&m);
		return rc;
	}
	deadline = timeout > 0 ? gg_clock_monotonic() + (double)timeout : 0;
	ui = ui_new(ui_mode_detect(json));
	remote_catch_interrupt();
	if (gg_manifest_format(&m, &manifest, cause) != 0) {
		rc = GG_EXIT_ERROR;
		goto out;
	}
	cli_bytes(size, sizeof size, (double)stats.bytes);
	ui_note(ui, "payload %s: %zu %s, %s, %zu %s (%zu hashed)", payload, stats.files,
		cli_plural(stats.files, "file", "files"), size, steps, cli_plural(steps, "step", "steps"),
		stats.hashed);
	if ((rc = remote_open(&r, &t, ui, 0, cause)) != 0)
		goto out;
	if (dry) {
		rc = dry_run(&r, &m, &manifest, steps, json, cause);
		goto out;
	}
	/* The first connect fails fast; reconnects on the way wait until the deadline. */
	r.deadline = deadline;
	/*
	 * Idle stop before the plan: a push that fails half-way leaves a VM that costs
	 * as much as a working one.  While the plan runs, the check counts it as use.
	 */
	if (idle_stop >= 0 && (rc = idle_stop_apply(&r, idle_stop, 0, cause)) != 0)
		goto out;
	if (idle_stop < 0)
		idle_stop_default(&r);
	if ((rc = upload(&r, payload, &m, &manifest, sha, deadline, cause)) != 0) {
		/* Nothing was started yet: reattach would find nothing; the push goes on. */
		if (rc == GG_EXIT_INTERRUPTED) {
			free(*cause);
			*cause = NULL;
			gg_fail(cause, rc, "interrupted during the upload: nothing runs on %s yet; run "
				"'gcloud-gpu push %s%s%s' again, it goes on from what arrived", t.name,
				t.cli_arg, payload_arg != NULL ? " --payload " : "",
				payload_arg != NULL ? payload_arg : "");
		}
		goto out;
	}
	memcpy(r.seen.plan, sha, sizeof r.seen.plan);
	r.floor = 0;
	xasprintf(&apply, "apply %s", sha);
	rc = remote_follow(&r, apply, "resume", deadline, cause);
	target_record_plan(&t, rc);
	if (rc != 0)
		goto out;
	/* "ready" only when the plan's last step says so, not at any end of the stream. */
	if (!ui_plan_complete(ui)) {
		rc = gg_fail(cause, GG_EXIT_STEP, "the plan on %s ended before its last step was done: "
			     "see 'gcloud-gpu logs %s'", t.name, t.cli_arg);
		goto out;
	}
	ui_note(ui, "%s is ready: run 'gcloud-gpu tunnel %s' to reach Jupyter", t.name, t.cli_arg);
out:
	if (rc != 0 && ui != NULL)
		ui_clear(ui);
	remote_close(&r);
	ui_free(ui);
	gg_manifest_release(&m);
	gg_buf_release(&manifest);
	target_release(&t);
	free(payload);
	free(apply);
	return rc;
}
