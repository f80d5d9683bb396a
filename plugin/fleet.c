/*
 * fleet.c: the driver of fleet.h: one command over many targets, one child process
 * per target, at most --parallel of them at once.
 *
 * Why processes and not threads or an event loop over libssh sessions: a child is the
 * single-target command itself, so each target gets exactly what one push gets (its
 * reconnect loop, its reboot detection, its resumed upload, its ^C handling, its
 * bookmark under $XDG_STATE_HOME) with no second implementation, and the blocking
 * libssh calls and process-wide state (remote_interrupted, the SIGPIPE disposition,
 * getopt's globals) never meet another target's.  A crash or a hung link stays in
 * its own process.  The parent is a poll() loop over the children's stdout and stderr
 * pipes: it renders, it never talks SSH itself.  The costs are one exec per target
 * (milliseconds) and one SSH connection per target, which one push needs anyway.
 *
 * Children that stream the VM's events (push, reattach) or answer one JSON object
 * (status) run with --json, so the parent reads structured lines; the others (start,
 * stop, delete) print plain lines, and their last line is their result (with the
 * fleet's --json, their one JSON object, which the parent passes on with its target).
 */
#include "fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "error.h"
#include "event.h"
#include "gce.h"
#include "gce-fleet.h"
#include "opts.h"
#include "remote.h"
#include "ui.h"
#include "xmalloc.h"

/* What a fleet command's children print on stdout. */
enum child_output {
	CHILD_EVENTS,  /* --json: the VM's events, one JSON object a line */
	CHILD_OBJECT,  /* --json: one JSON object (status) */
	CHILD_TEXT,    /* plain lines, the last the result; --json: one JSON object */
};

/*
 * The commands the fleet runs.  A new one is one line here, and its own options in
 * fleet_options.  `trailing` positional arguments at the end are the command's (the
 * DURATION of `idle-stop VM... DURATION`), given to every child; the others are VMs.
 */
static const struct fleet_command {
	const char *name;
	enum child_output output;
	int trailing;
	int connects;   /* it reaches the VM over SSH (not only the API) */
} fleet_commands[] = {
	{ "push", CHILD_EVENTS, 0, 1 },
	{ "reattach", CHILD_EVENTS, 0, 1 },
	{ "status", CHILD_OBJECT, 0, 1 },
	{ "start", CHILD_TEXT, 0, 0 },
	{ "stop", CHILD_TEXT, 0, 0 },
	{ "delete", CHILD_TEXT, 0, 0 },
	{ "idle-stop", CHILD_TEXT, 1, 1 },
	{ NULL, 0, 0, 0 },
};

enum {
	FLEET_OPT_FILTER = OPT_COMMAND + 50,
	FLEET_OPT_PARALLEL,
	FLEET_OPT_JSON,
	FLEET_OPT_YES,
	FLEET_OPT_PAYLOAD,
	/*
	 * A command's own options (with their value if any): passed on as written.  Each
	 * has its own id, which is how the name to pass on is found again.
	 */
	FLEET_OPT_TIMEOUT,
	FLEET_OPT_DRY_RUN,
	FLEET_OPT_IDLE_STOP,
};

/*
 * Every option of every fleet command, so that the command line can be split into
 * targets and the options passed on to each child; the child checks them again.
 */
static const struct opt_spec fleet_options[] = {
	OPT_TARGET_SPECS,
	{ "filter", 0, 1, FLEET_OPT_FILTER },
	{ "parallel", 0, 1, FLEET_OPT_PARALLEL },
	{ "json", 0, 0, FLEET_OPT_JSON },
	{ "yes", 'y', 0, FLEET_OPT_YES },
	{ "payload", 0, 1, FLEET_OPT_PAYLOAD },
	{ "timeout", 0, 1, FLEET_OPT_TIMEOUT },
	{ "dry-run", 0, 0, FLEET_OPT_DRY_RUN },
	{ "idle-stop", 0, 1, FLEET_OPT_IDLE_STOP },
	{ NULL, 0, 0, 0 },
};

enum phase { WAITING, RUNNING, ENDED };

/* A child's upload progress line (fleet_upload_progress). */
#define UPLOAD_PREFIX "uploading "

/* One target and the child that works on it. */
struct member {
	char *name;           /* as shown: the VM name or the --ssh spec */
	char **argv;          /* the child's own arguments: the target */
	int argc;
	pid_t pid;
	int fd[2];            /* stdout, stderr; -1 when closed */
	struct gg_buf pending[2];
	enum phase phase;
	int code;
	char state[24];       /* connecting, uploading, running, rebooting, done... */
	char *step;
	int step_index, steps, pct;
	char *detail;         /* the last message worth a glance */
	char *why;            /* the child's last error line */
	double started, ended;
};

struct fleet {
	const struct fleet_command *cmd;
	struct member *members;
	size_t count;
	char **shared;        /* options passed on to every child */
	size_t nshared;
	char **positional;    /* the positional arguments: VMs, then the command's own */
	size_t npositional;
	int parallel;
	enum ui_mode mode;
	int block_lines;
	int dirty;            /* a row changed since the last draw */
	double last_draw;
	char *manifest_dir;   /* the private directory of the shared manifest */
	int identity_given;   /* -i: the VMs' children do not use google_compute_engine */
	struct ui *json_out;  /* --json: every line written through ui_json (ASCII) */
};

static const struct fleet_command *find_fleet_command(const char *name)
{
	const struct fleet_command *c;

	for (c = fleet_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int fleet_worst(int a, int b)
{
	if (a == GG_EXIT_OK || b == GG_EXIT_OK)
		return a == GG_EXIT_OK ? b : a;
	if (a == GG_EXIT_INTERRUPTED || b == GG_EXIT_INTERRUPTED)
		return a == GG_EXIT_INTERRUPTED ? b : a;
	return a > b ? a : b;
}

int fleet_wanted(const char *command, int argc, char **argv)
{
	struct opt_parser p;
	enum opt_result res;
	const struct fleet_command *c = find_fleet_command(command);
	const char *arg;
	char *cause = NULL;
	int id, targets = 0, wanted = 0;

	if (argc < 1 || c == NULL)
		return 0;
	targets = -c->trailing;
	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, fleet_options, &id, &arg, &cause)) != OPT_END) {
		if (res == OPT_ERROR) {
			free(cause);
			return 0;
		}
		if (res == OPT_ARGUMENT || id == OPT_SSH)
			targets++;
		else if (id == FLEET_OPT_FILTER || id == FLEET_OPT_PARALLEL)
			wanted = 1;
	}
	return wanted || targets > 1;
}

static void add_arg(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static void free_args(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * A new member for target name, or NULL when it is one already (a VM named and also
 * matched by the filter): two children on one VM would only contend for its runner.
 */
static struct member *add_member(struct fleet *f, const char *name)
{
	struct member *m;
	char *shown = xstrdup(name); /* shown cleaned; the child gets the name as it was */
	size_t i;

	gg_printable(shown, 0);
	for (i = 0; i < f->count; i++) {
		if (strcmp(f->members[i].name, shown) == 0) {
			free(shown);
			return NULL;
		}
	}

	f->members = xrealloc(f->members, (f->count + 1) * sizeof *f->members);
	m = &f->members[f->count++];
	memset(m, 0, sizeof *m);
	m->name = shown;
	m->fd[0] = m->fd[1] = -1;
	m->pct = -1;
	snprintf(m->state, sizeof m->state, "waiting");
	return m;
}

static void member_arg(struct member *m, const char *s)
{
	size_t n = (size_t)m->argc;

	add_arg(&m->argv, &n, s);
	m->argc = (int)n;
}

/*
 * --filter: the matching instances that gcloud-gpu created, each a member named NAME
 * with --zone ZONE when no --zone was given (aggregatedList spans every zone).
 */
static int add_filtered(struct fleet *f, const struct gce_options *o, const char *filter,
			char **cause)
{
	json_t *list = NULL, *inst;
	char *managed = gce_managed_filter(filter);
	struct gce g;
	size_t i;
	int r;

	if ((r = gce_open(&g, o, cause)) != 0 ||
	    (r = gce_instances_list(&g, o->zone, managed, &list, cause)) != 0)
		goto out;
	if (json_array_size(list) == 0) {
		r = gg_fail(cause, GG_EXIT_USAGE, "no VM that gcloud-gpu created in project '%s' "
			    "matches the filter '%s' (see 'gcloud-gpu list')", g.project, filter);
		goto out;
	}
	json_array_foreach(list, i, inst) {
		const char *name = json_string_value(json_object_get(inst, "name"));
		const char *zone = gce_instance_zone(inst);
		struct member *m;

		if (name == NULL || zone == NULL)
			continue;
		m = add_member(f, name);
		if (m == NULL)
			continue;
		member_arg(m, name);
		if (o->zone == NULL) {
			member_arg(m, "--zone");
			member_arg(m, zone);
		}
	}
out:
	json_decref(list);
	free(managed);
	gce_close(&g);
	return r;
}

/* The payload's manifest, made once, in a private directory the children read. */
static int share_manifest(struct fleet *f, const char *payload_arg, char **cause)
{
	struct gg_manifest m = GG_MANIFEST_INIT;
	struct gg_buf text = GG_BUF_INIT;
	struct pack_stats stats;
	char *dir = NULL, *path = NULL, resolved[PATH_MAX], tmpl[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	FILE *out;
	int r;

	dir = payload_arg != NULL ? xstrdup(payload_arg) : pack_default_dir();
	if (realpath(dir, resolved) == NULL) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot open the payload '%s'", dir);
		goto out;
	}
	if ((r = pack_manifest(resolved, &m, &stats, cause)) != 0)
		goto out;
	if (gg_manifest_format(&m, &text, cause) != 0) {
		r = GG_EXIT_ERROR;
		goto out;
	}
	snprintf(tmpl, sizeof tmpl, "%s/gcloud-gpu-fleet.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot make a directory in '%s'",
				  tmp != NULL && tmp[0] ? tmp : "/tmp");
		goto out;
	}
	f->manifest_dir = xstrdup(tmpl);
	xasprintf(&path, "%s/manifest.json", tmpl);
	out = fopen(path, "w");
	if (out == NULL || fwrite(text.data, 1, text.len, out) != text.len || fclose(out) != 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot write '%s'", path);
		goto out;
	}
	setenv(FLEET_ENV_MANIFEST, path, 1);
	add_arg(&f->shared, &f->nshared, "--payload");
	add_arg(&f->shared, &f->nshared, resolved);
	fprintf(f->mode == UI_JSON ? stderr : stdout, "payload %s: %zu files, %llu bytes (%zu "
		"hashed), packed once for %zu targets\n", resolved, stats.files,
		(unsigned long long)stats.bytes, stats.hashed, f->count);
	fflush(NULL);
	r = 0;
out:
	gg_manifest_release(&m);
	gg_buf_release(&text);
	free(dir);
	free(path);
	return r;
}

int fleet_manifest(const char *dir, struct gg_manifest *m, struct pack_stats *stats,
		   char **cause)
{
	const char *path = getenv(FLEET_ENV_MANIFEST);
	struct gg_buf text = GG_BUF_INIT;
	char buf[65536];
	size_t i, n;
	FILE *in;
	int r = 0;

	if (path == NULL || path[0] == '\0')
		return pack_manifest(dir, m, stats, cause);
	in = fopen(path, "r");
	if (in == NULL)
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot read the shared manifest '%s'",
				     path);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		gg_buf_add(&text, buf, n);
	if (ferror(in) || gg_manifest_parse(text.data, text.len, m, cause) != 0)
		r = gg_fail_wrap(cause, GG_EXIT_ERROR, "cannot use the shared manifest '%s'", path);
	fclose(in);
	gg_buf_release(&text);
	memset(stats, 0, sizeof *stats);
	for (i = 0; r == 0 && i < m->count; i++) {
		stats->files++;
		stats->bytes += m->files[i].size;
	}
	return r;
}

/*
 * Children for VM names share ~/.ssh/google_compute_engine, which the first use makes:
 * made here once, before they would race to create it.
 */
static int prepare_vm_key(struct fleet *f, char **cause)
{
	const char *home = getenv("HOME");
	char *dir = NULL, *path = NULL, *public_key = NULL, *user = NULL;
	size_t i;
	int r = 0;

	for (i = 0; i < f->count && strcmp(f->members[i].argv[0], "--ssh") == 0; i++)
		;
	if (i == f->count || f->identity_given || !f->cmd->connects)
		return 0;
	/* The key's comment is the user name the children use; when only gcloud's account
	 * gives one (gce_ssh_user), the first child makes the key. */
	user = gce_ssh_user(NULL);
	if (user == NULL)
		return 0;
	xasprintf(&dir, "%s/.ssh", home != NULL ? home : ".");
	xasprintf(&path, "%s/google_compute_engine", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot create '%s'", dir);
	else
		r = gce_ssh_key_file(path, user, &public_key, cause);
	free(dir);
	free(path);
	free(public_key);
	free(user);
	return r;
}

void fleet_upload_progress(uint64_t done, uint64_t total)
{
	static double last;
	double now = gg_clock_monotonic();

	if (getenv(FLEET_ENV_MANIFEST) == NULL || (done < total && now - last < 0.5))
		return;
	last = now;
	fprintf(stderr, UPLOAD_PREFIX "%llu of %llu bytes\n", (unsigned long long)done,
		(unsigned long long)total);
}

/* Split the command line into members and the options every child gets. */
static int parse(struct fleet *f, int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	const char *filter = NULL, *payload = NULL, *arg;
	struct opt_parser p;
	enum opt_result res;
	struct member *m;
	char *flag;
	size_t i;
	long n;
	int id, yes = 0, json = 0, r;

	f->parallel = FLEET_DEFAULT_PARALLEL;
	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, fleet_options, &id, &arg, cause)) != OPT_END) {
		const struct opt_spec *s;

		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_ARGUMENT) {
			add_arg(&f->positional, &f->npositional, arg);
			continue;
		}
		switch (id) {
		case OPT_SSH:
			m = add_member(f, arg);
			if (m != NULL) {
				member_arg(m, "--ssh");
				member_arg(m, arg);
			}
			continue;
		case FLEET_OPT_FILTER:
			filter = arg;
			continue;
		case FLEET_OPT_PARALLEL:
			if (opt_number("parallel", arg, 256, &n, cause) != 0 || n == 0)
				return gg_fail(cause, GG_EXIT_USAGE, "'%s' for --parallel is not a "
					       "number from 1 to 256", arg);
			f->parallel = (int)n;
			continue;
		case FLEET_OPT_JSON:
			json = 1;
			continue;
		case FLEET_OPT_YES:
			yes = 1;
			continue;
		case FLEET_OPT_PAYLOAD:
			payload = arg;
			continue;
		case OPT_IDENTITY:
			f->identity_given = 1;
			break;
		case OPT_PROJECT:
			o.project = arg;
			break;
		case OPT_ZONE:
			o.zone = arg;
			break;
		case OPT_ACCESS_TOKEN_FILE:
			o.access_token_file = arg;
			break;
		}
		/* Passed on as the user wrote it, with its value. */
		for (s = fleet_options; s->name != NULL && s->id != id; s++)
			;
		xasprintf(&flag, "--%s", s->name);
		add_arg(&f->shared, &f->nshared, flag);
		free(flag);
		if (s->takes_value)
			add_arg(&f->shared, &f->nshared, arg);
	}
	/* cli_main took -v out of the command line: each child says what it connects to. */
	for (i = 0; i < (size_t)cli_verbose; i++)
		add_arg(&f->shared, &f->nshared, "-v");
	/* The last `trailing` positional arguments are the command's, the others VMs. */
	if (f->npositional < (size_t)f->cmd->trailing)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' needs %d more argument%s (see "
			       "'gcloud-gpu help %s')", f->cmd->name, f->cmd->trailing,
			       f->cmd->trailing == 1 ? "" : "s", f->cmd->name);
	for (i = 0; i < f->npositional; i++) {
		if (i + (size_t)f->cmd->trailing >= f->npositional) {
			add_arg(&f->shared, &f->nshared, f->positional[i]);
			continue;
		}
		m = add_member(f, f->positional[i]);
		if (m != NULL)
			member_arg(m, f->positional[i]);
	}
	if (filter != NULL && (r = add_filtered(f, &o, filter, cause)) != 0)
		return r;
	if (f->count == 0)
		return gg_fail(cause, GG_EXIT_USAGE, "no target: name VMs, give --ssh USER@HOST "
			       "more than once, or --filter EXPR");
	if (payload != NULL && strcmp(f->cmd->name, "push") != 0)
		return gg_fail(cause, GG_EXIT_USAGE, "--payload is for push");
	f->mode = json ? UI_JSON : ui_mode_detect(0);
	if (json)
		f->json_out = ui_new(UI_JSON);
	/* start, stop and delete answer one JSON object too when --json asks for it. */
	if (f->cmd->output != CHILD_TEXT || json)
		add_arg(&f->shared, &f->nshared, "--json");
	if (strcmp(f->cmd->name, "delete") == 0) {
		if (!yes && (!isatty(0) || json))
			return gg_fail(cause, GG_EXIT_USAGE, "deleting %zu VMs loses their disks: pass "
				       "--yes to confirm", f->count);
		if (!yes) {
			char answer[16] = "";

			fprintf(stderr, "Delete these %zu VMs and their boot disks?", f->count);
			for (i = 0; i < f->count; i++)
				fprintf(stderr, " %s", f->members[i].name);
			fprintf(stderr, "\nType yes: ");
			if (fgets(answer, sizeof answer, stdin) == NULL || strcmp(answer, "yes\n") != 0)
				return gg_fail(cause, GG_EXIT_USAGE, "not deleting anything");
		}
		add_arg(&f->shared, &f->nshared, "--yes");
	} else if (yes) {
		return gg_fail(cause, GG_EXIT_USAGE, "--yes is for delete");
	}
	if ((r = prepare_vm_key(f, cause)) != 0)
		return r;
	if (strcmp(f->cmd->name, "push") == 0 && (r = share_manifest(f, payload, cause)) != 0)
		return r;
	return 0;
}

/* --- children ---------------------------------------------------------------------- */

static int start_child(struct fleet *f, struct member *m, const char *self, char **cause)
{
	char **argv = NULL;
	size_t n = 0, i;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, null;
	pid_t pid;

	add_arg(&argv, &n, self);
	add_arg(&argv, &n, f->cmd->name);
	for (i = 0; i < (size_t)m->argc; i++)
		add_arg(&argv, &n, m->argv[i]);
	for (i = 0; i < f->nshared; i++)
		add_arg(&argv, &n, f->shared[i]);
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
		gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot make a pipe for '%s'", m->name);
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot start a process for '%s'", m->name);
		goto fail;
	}
	if (pid == 0) {
		null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(GG_EXIT_ERROR);
		execv(self, argv);
		fprintf(stderr, "gcloud-gpu: cannot run '%s': %s\n", self, strerror(errno));
		_exit(GG_EXIT_ERROR);
	}
	close(out[1]);
	close(err[1]);
	m->pid = pid;
	m->fd[0] = out[0];
	m->fd[1] = err[0];
	m->phase = RUNNING;
	m->started = gg_clock_monotonic();
	snprintf(m->state, sizeof m->state, "connecting");
	free_args(argv);
	return 0;
fail:
	for (i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	free_args(argv);
	return GG_EXIT_ERROR;
}

static void set_text(char **field, const char *text)
{
	free(*field);
	*field = text != NULL ? xstrdup(text) : NULL;
	if (*field != NULL)
		gg_printable(*field, 0);
}

static void set_state(struct member *m, const char *state)
{
	snprintf(m->state, sizeof m->state, "%s", state);
}

/* A plain line of the fleet's own about one member; cleaned before it is printed. */
static void say(FILE *to, struct member *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(FILE *to, struct member *m, const char *fmt, ...)
{
	char *text = NULL, *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	xasprintf(&line, "%s: %s", m->name, text != NULL ? text : "");
	gg_printable(line, 0);
	fprintf(to, "%s\n", line);
	fflush(to);
	free(text);
	free(line);
}

/* An event of the VM's (push, reattach): the member's state, step and progress. */
static void take_event(struct fleet *f, struct member *m, json_t *obj)
{
	const char *type = json_string_value(json_object_get(obj, "type"));
	const char *step = json_string_value(json_object_get(obj, "step"));
	const char *msg = json_string_value(json_object_get(obj, "msg"));
	json_t *pct = json_object_get(obj, "pct");
	int plain = f->mode == UI_PLAIN;

	if (type == NULL)
		return;
	if (strcmp(type, "hello") == 0) {
		set_state(m, "connected");
	} else if (strcmp(type, "plan") == 0) {
		m->steps = (int)json_array_size(json_object_get(obj, "steps"));
		m->step_index = 0;
		set_state(m, "running");
	} else if (strcmp(type, "step-start") == 0) {
		m->step_index++;
		m->pct = 0;
		set_text(&m->step, step);
		set_state(m, "running");
		if (plain)
			say(stdout, m, "step %d/%d %s", m->step_index, m->steps, m->step);
	} else if (strcmp(type, "progress") == 0) {
		if (json_is_integer(pct))
			m->pct = (int)json_integer_value(pct);
		set_text(&m->detail, msg);
	} else if (strcmp(type, "log") == 0) {
		set_text(&m->detail, msg);
	} else if (strcmp(type, "step-done") == 0 || strcmp(type, "step-skipped") == 0) {
		m->pct = 100;
	} else if (strcmp(type, "step-failed") == 0) {
		set_state(m, "failed");
		set_text(&m->detail, msg);
		if (plain)
			say(stdout, m, "step %s failed: %s", step != NULL ? step : "?",
			    msg != NULL ? msg : "");
	} else if (strcmp(type, "reboot") == 0) {
		set_state(m, "rebooting");
		if (plain)
			say(stdout, m, "rebooting");
	} else if (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0) {
		set_state(m, type);
		if (plain)
			say(stdout, m, "%s", type);
	}
}

/* One line of a child's stdout. */
static void take_out_line(struct fleet *f, struct member *m, char *line)
{
	json_t *obj = f->cmd->output != CHILD_TEXT || f->mode == UI_JSON ? json_loads(line, 0, NULL)
									  : NULL, *all;
	char *text;

	if (f->mode == UI_JSON) {
		all = json_pack("{s:s}", "target", m->name);
		if (json_is_object(obj)) {
			json_object_update(all, obj);
		} else {
			text = xstrdup(line); /* valid UTF-8 for jansson, no control characters */
			gg_printable(text, 0);
			json_object_set_new(all, "msg", json_string(text));
			free(text);
		}
		ui_json(f->json_out, all);
		json_decref(all);
	}
	if (json_is_object(obj) && json_object_get(obj, "type") != NULL) {
		take_event(f, m, obj);
	} else if (json_is_object(obj) && json_is_object(json_object_get(obj, "status"))) {
		json_t *st = json_object_get(obj, "status");
		const char *state = json_string_value(json_object_get(st, "state"));

		set_state(m, state != NULL ? state : "?");
		set_text(&m->detail, json_is_true(json_object_get(obj, "jupyter"))
					    ? "jupyter answers" : "jupyter not answering");
		if (f->mode == UI_PLAIN)
			say(stdout, m, "plan %s, %s", m->state, m->detail);
	} else if (obj == NULL) {
		set_text(&m->detail, line);
		if (f->mode == UI_PLAIN)
			say(stdout, m, "%s", line);
	}
	json_decref(obj);
}

/* One line of a child's stderr: its notes, and at the end its error. */
static void take_err_line(struct fleet *f, struct member *m, char *line)
{
	static const char prefix[] = "gcloud-gpu: ", debug_prefix[] = "gcloud-gpu: debug: ";
	unsigned long long done, total;

	if (strncmp(line, UPLOAD_PREFIX, sizeof UPLOAD_PREFIX - 1) == 0 &&
	    sscanf(line + sizeof UPLOAD_PREFIX - 1, "%llu of %llu", &done, &total) == 2) {
		set_state(m, "uploading");
		m->pct = total > 0 && done <= total ? (int)(done * 100 / total) : 0;
		return;
	}
	if (strncmp(line, debug_prefix, sizeof debug_prefix - 1) == 0) {
		/* -v's lines are neither the child's error nor its state: only passed on. */
	} else if (strncmp(line, prefix, sizeof prefix - 1) == 0) {
		set_text(&m->why, line + sizeof prefix - 1);
	} else {
		set_text(&m->detail, line);
		if (strncmp(line, "sent ", 5) == 0 || strncmp(line, "resuming the upload", 19) == 0)
			set_state(m, "uploaded");
		else if (strncmp(line, "lost the connection", 19) == 0)
			set_state(m, "reconnecting");
	}
	if (f->mode != UI_TTY)
		say(stderr, m, "%s", line);
}

/* Read what a child wrote on fd index i; each whole line is taken. 0 at its end. */
static int drain(struct fleet *f, struct member *m, int i)
{
	char buf[8192], *nl;
	ssize_t n = read(m->fd[i], buf, sizeof buf);

	f->dirty = 1;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n > 0) {
		gg_buf_add(&m->pending[i], buf, (size_t)n);
		while ((nl = memchr(m->pending[i].data, '\n', m->pending[i].len)) != NULL) {
			*nl = '\0';
			if (i == 0)
				take_out_line(f, m, m->pending[i].data);
			else
				take_err_line(f, m, m->pending[i].data);
			gg_buf_consume(&m->pending[i], (size_t)(nl - m->pending[i].data) + 1);
		}
		/* A child's line is bounded as the VM's are (event.h): no endless growth. */
		if (m->pending[i].len > GG_EVENT_MAX_LINE)
			gg_buf_reset(&m->pending[i]);
		return 1;
	}
	if (m->pending[i].len > 0) {
		gg_buf_addch(&m->pending[i], '\0');
		if (i == 0)
			take_out_line(f, m, m->pending[i].data);
		else
			take_err_line(f, m, m->pending[i].data);
		gg_buf_reset(&m->pending[i]);
	}
	close(m->fd[i]);
	m->fd[i] = -1;
	return 0;
}

static void reap(struct fleet *f, struct member *m)
{
	int status;

	while (waitpid(m->pid, &status, 0) < 0 && errno == EINTR)
		;
	m->code = WIFEXITED(status) ? WEXITSTATUS(status) : GG_EXIT_ERROR;
	if (WIFSIGNALED(status)) {
		free(m->why);
		xasprintf(&m->why, "it ended on signal %d", WTERMSIG(status));
	}
	m->phase = ENDED;
	m->ended = gg_clock_monotonic();
	/* status's row keeps the plan's state; the others end "done". */
	if (m->code == GG_EXIT_OK && f->cmd->output != CHILD_OBJECT)
		set_state(m, "done");
	else if (m->code != GG_EXIT_OK)
		set_state(m, m->code == GG_EXIT_INTERRUPTED ? "interrupted" : "failed");
}

/* --- the terminal -------------------------------------------------------------------- */

static int term_size(int *rows)
{
	struct winsize ws;

	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) {
		if (ws.ws_row > 4)
			*rows = ws.ws_row;
		return ws.ws_col;
	}
	return 80;
}

static size_t name_width(const struct fleet *f)
{
	size_t i, w = 6;

	for (i = 0; i < f->count; i++)
		if (strlen(f->members[i].name) > w)
			w = strlen(f->members[i].name);
	return w > 40 ? 40 : w;
}

/* One member's row: name, state, step i/n, its percentage, the last message. */
static void format_row(const struct fleet *f, const struct member *m, struct gg_buf *b)
{
	gg_buf_addf(b, "%-*.*s  %-12s", (int)name_width(f), (int)name_width(f), m->name, m->state);
	if (strcmp(m->state, "uploading") == 0 && m->phase == RUNNING) {
		gg_buf_addf(b, " %3d%%", m->pct);
		return;
	}
	if (m->step != NULL && m->phase == RUNNING)
		gg_buf_addf(b, " step %d/%d %s", m->step_index, m->steps, m->step);
	if (m->pct >= 0 && m->phase == RUNNING && m->step != NULL)
		gg_buf_addf(b, " %3d%%", m->pct);
	if (m->detail != NULL && m->phase == RUNNING)
		gg_buf_addf(b, "  %s", m->detail);
}

static void clear_block(struct fleet *f)
{
	if (f->block_lines > 0)
		printf("\r\033[%dA\033[J", f->block_lines);
	f->block_lines = 0;
}

/*
 * One line per member, redrawn in place, at most ten times a second unless forced.
 * More members than the screen holds: the running ones, and a line that counts the rest.
 */
static void draw(struct fleet *f, int force)
{
	struct gg_buf row = GG_BUF_INIT;
	size_t i, shown = 0, waiting = 0, ended = 0;
	int rows, width = term_size(&rows), fits = f->count + 1 < (size_t)rows;
	double now = gg_clock_monotonic();

	if (f->mode != UI_TTY || (!force && (!f->dirty || now - f->last_draw < 0.1)))
		return;
	f->last_draw = now;
	f->dirty = 0;
	clear_block(f);
	for (i = 0; i < f->count; i++) {
		struct member *m = &f->members[i];

		if (!fits && m->phase != RUNNING) {
			waiting += m->phase == WAITING;
			ended += m->phase == ENDED;
			continue;
		}
		if (!fits && shown + 2 >= (size_t)rows)
			continue;
		gg_buf_reset(&row);
		format_row(f, m, &row);
		printf("%.*s\n", width - 1, row.data);
		shown++;
	}
	if (!fits) {
		printf("%zu more: %zu waiting, %zu ended\n", f->count - shown, waiting, ended);
		shown++;
	}
	f->block_lines = (int)shown;
	fflush(stdout);
	gg_buf_release(&row);
}

/* --- the loop -------------------------------------------------------------------------- */

static void stop_waiting(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->count; i++) {
		struct member *m = &f->members[i];

		if (m->phase != WAITING)
			continue;
		m->phase = ENDED;
		m->code = GG_EXIT_INTERRUPTED;
		set_state(m, "not started");
		set_text(&m->why, "interrupted before it started");
	}
}

static int run_all(struct fleet *f, char **cause)
{
	struct pollfd *fds = xcalloc(f->count * 2 + 1, sizeof *fds);
	struct member **owner = xcalloc(f->count * 2 + 1, sizeof *owner);
	char self[PATH_MAX];
	size_t next = 0, running = 0, ended = 0, n, i;
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	int forwarded = 0, r = 0;

	if (len <= 0) {
		r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot find where gcloud-gpu runs from");
		goto out;
	}
	self[len] = '\0';
	remote_catch_interrupt();
	while (ended < f->count) {
		while (!remote_interrupted && running < (size_t)f->parallel && next < f->count) {
			f->dirty = 1;
			if ((r = start_child(f, &f->members[next], self, cause)) != 0) {
				f->members[next].phase = ENDED;
				f->members[next].code = r;
				set_state(&f->members[next], "failed");
				f->members[next].why = *cause;
				*cause = NULL;
				ended++;
			} else {
				running++;
			}
			next++;
		}
		/* ^C: a terminal sent it to the children too; a TERM to us alone is passed on. */
		if (remote_interrupted && !forwarded) {
			forwarded = 1;
			stop_waiting(f);
			for (i = 0; i < f->count; i++)
				if (f->members[i].phase == RUNNING)
					kill(f->members[i].pid, SIGINT);
			ended = 0;
			for (i = 0; i < f->count; i++)
				ended += f->members[i].phase == ENDED;
			if (ended == f->count)
				break;
		}
		draw(f, 0);
		for (n = 0, i = 0; i < f->count; i++) {
			struct member *m = &f->members[i];
			int k;

			for (k = 0; k < 2; k++) {
				if (m->phase != RUNNING || m->fd[k] < 0)
					continue;
				fds[n].fd = m->fd[k];
				fds[n].events = POLLIN;
				owner[n++] = m;
			}
		}
		if (n > 0 && poll(fds, n, 100) < 0 && errno != EINTR) {
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot wait for the targets");
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct member *m = owner[i];
			int k = m->fd[0] == fds[i].fd ? 0 : 1;

			if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
				drain(f, m, k);
			if (m->phase == RUNNING && m->fd[0] < 0 && m->fd[1] < 0) {
				reap(f, m);
				running--;
				ended++;
			}
		}
	}
	r = 0;
out:
	draw(f, 1);
	clear_block(f);
	free(fds);
	free(owner);
	return r;
}

static void duration(char *out, size_t size, double seconds)
{
	long s = (long)(seconds + 0.5);

	if (s >= 60)
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, size, "%lds", s);
}

/* The table of results, the failed targets and why; the worst exit code. */
static int summarise(struct fleet *f, char **cause)
{
	struct gg_buf failed = GG_BUF_INIT;
	size_t i, nfailed = 0, ninterrupted = 0;
	int worst = GG_EXIT_OK, w = (int)name_width(f);
	char took[32];

	for (i = 0; i < f->count; i++)
		worst = fleet_worst(worst, f->members[i].code);
	if (f->mode == UI_JSON) {
		for (i = 0; i < f->count; i++) {
			struct member *m = &f->members[i];
			json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:f}", "target", m->name,
					      "type", "result", "state", m->state, "exit", m->code,
					      "seconds", m->ended > m->started ? m->ended - m->started : 0.0);

			if (m->code != GG_EXIT_OK && m->why != NULL)
				json_object_set_new(o, "why", json_string(m->why));
			ui_json(f->json_out, o);
			json_decref(o);
		}
	} else {
		printf("\n%-*s  %-12s %7s  %s\n", w, "TARGET", "RESULT", "TIME", "DETAIL");
		for (i = 0; i < f->count; i++) {
			struct member *m = &f->members[i];
			const char *detail = m->code != GG_EXIT_OK ? m->why : m->detail;

			duration(took, sizeof took, m->ended > m->started ? m->ended - m->started : 0);
			printf("%-*.*s  %-12s %7s  %s\n", w, w, m->name, m->state, took,
			       detail != NULL ? detail : "");
		}
	}
	fflush(stdout);
	for (i = 0; i < f->count; i++) {
		struct member *m = &f->members[i];

		if (m->code == GG_EXIT_OK)
			continue;
		nfailed++;
		ninterrupted += m->code == GG_EXIT_INTERRUPTED;
		fprintf(stderr, "gcloud-gpu: %s %s (exit %d): %s\n", m->name,
			m->code == GG_EXIT_INTERRUPTED ? "was interrupted" : "failed", m->code,
			m->why != NULL ? m->why : "no error message");
		gg_buf_addf(&failed, "%s%s", failed.len > 0 ? ", " : "", m->name);
	}
	if (nfailed > 0)
		gg_fail(cause, worst, "%zu of %zu targets %s: %s", nfailed, f->count,
			ninterrupted == nfailed ? "were interrupted (the work goes on: reattach)"
						 : "failed", failed.data);
	gg_buf_release(&failed);
	return worst;
}

static void fleet_release(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->count; i++) {
		struct member *m = &f->members[i];

		free(m->name);
		free_args(m->argv);
		free(m->step);
		free(m->detail);
		free(m->why);
		gg_buf_release(&m->pending[0]);
		gg_buf_release(&m->pending[1]);
		if (m->fd[0] >= 0)
			close(m->fd[0]);
		if (m->fd[1] >= 0)
			close(m->fd[1]);
	}
	free(f->members);
	free_args(f->shared);
	free_args(f->positional);
	if (f->manifest_dir != NULL) {
		char *path;

		xasprintf(&path, "%s/manifest.json", f->manifest_dir);
		unlink(path);
		rmdir(f->manifest_dir);
		free(path);
		free(f->manifest_dir);
	}
	unsetenv(FLEET_ENV_MANIFEST);
	ui_free(f->json_out);
}

int fleet_main(const char *command, int argc, char **argv, char **cause)
{
	struct fleet f;
	int r;

	memset(&f, 0, sizeof f);
	f.cmd = find_fleet_command(command);
	if (f.cmd == NULL) {
		r = gg_fail(cause, GG_EXIT_USAGE, "'%s' does not take several targets", command);
		goto out;
	}
	if ((r = parse(&f, argc, argv, cause)) != 0 || (r = run_all(&f, cause)) != 0)
		goto out;
	r = summarise(&f, cause);
out:
	fleet_release(&f);
	return r;
}
