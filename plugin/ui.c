/*
 * ui.c: the renderer of ui.h.
 *
 * On a terminal the bottom of the screen is a "live block" (the upload bar, then the
 * step list) that is erased and drawn again whenever something changes; log lines are
 * printed above it, so they scroll as usual and stay in the terminal's history.  Every
 * line of the block is cut to the terminal's width, so that the number of lines to
 * erase is always the number drawn.
 */
#include "ui.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "error.h"
#include "xmalloc.h"

enum step_state {
	STEP_PENDING,
	STEP_RUNNING,
	STEP_DONE,
	STEP_SKIPPED,
	STEP_FAILED,
};

struct step {
	char *name;
	enum step_state state;
	int pct;
	char *msg;
	double started;       /* gg_clock_monotonic() when its start was seen (live time) */
	double start_time;    /* its step-start event's time (epoch seconds), 0: unknown */
	double seconds;       /* how long it ran, from the events' times; -1: unknown */
};

struct ui {
	enum ui_mode mode;
	FILE *out;
	struct step *steps;
	size_t nsteps;
	int block_lines;      /* lines of the live block now on screen */
	int uploading;
	uint64_t up_done, up_total;
	double up_start, up_last_draw;
	int up_quarter;       /* the last quarter of the upload a plain line was printed for */
	double plan_time;     /* the plan event's time (epoch seconds), 0: unknown */
	double last_draw;     /* gg_clock_monotonic() of the last draw of the block */
	int timestamps;       /* print each event's local time first (logs) */
	int ended;            /* the plan ended: its summary is printed, no block drawn again */
	int utf8;
};

enum ui_mode ui_mode_detect(int json)
{
	const char *term = getenv("TERM");

	if (json)
		return UI_JSON;
	if (isatty(STDOUT_FILENO) && term != NULL && strcmp(term, "dumb") != 0)
		return UI_TTY;
	return UI_PLAIN;
}

struct ui *ui_new(enum ui_mode mode)
{
	struct ui *ui = xcalloc(1, sizeof *ui);
	const char *lang = getenv("LC_ALL");

	if (lang == NULL || lang[0] == '\0')
		lang = getenv("LANG");
	ui->mode = mode;
	ui->out = stdout;
	ui->utf8 = lang != NULL && (strstr(lang, "UTF-8") != NULL || strstr(lang, "utf8") != NULL);
	return ui;
}

static void free_steps(struct ui *ui)
{
	size_t i;

	for (i = 0; i < ui->nsteps; i++) {
		free(ui->steps[i].name);
		free(ui->steps[i].msg);
	}
	free(ui->steps);
	ui->steps = NULL;
	ui->nsteps = 0;
}

void ui_free(struct ui *ui)
{
	if (ui == NULL)
		return;
	ui_clear(ui);
	free_steps(ui);
	free(ui);
}

enum ui_mode ui_mode(const struct ui *ui)
{
	return ui->mode;
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		return ws.ws_col;
	return 80;
}

void ui_clear(struct ui *ui)
{
	if (ui->mode != UI_TTY || ui->block_lines == 0)
		return;
	fprintf(ui->out, "\r\033[%dA\033[J", ui->block_lines);
	ui->block_lines = 0;
	fflush(ui->out);
}

/* vfprintf, but what it prints goes through gg_printable first (tabs kept). */
static void print_clean(FILE *f, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void print_clean(FILE *f, const char *fmt, va_list ap)
{
	char *text = NULL;

	if (vasprintf(&text, fmt, ap) < 0)
		return;
	gg_printable(text, 1);
	fputs(text, f);
	free(text);
}

/* One line of the live block, cut to the width (bytes; our text is ASCII but marks). */
static void block_line(struct ui *ui, int width, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void block_line(struct ui *ui, int width, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* Cut first: a cut through a UTF-8 sequence then becomes '?' as well. */
	if ((int)strlen(line) > width - 1)
		line[width - 1] = '\0';
	gg_printable(line, 1);
	fprintf(ui->out, "%s\n", line);
	ui->block_lines++;
}

static void bar(char *out, size_t size, int pct, int width)
{
	int fill = pct * width / 100, i;

	if (size < (size_t)width + 3)
		return;
	out[0] = '[';
	for (i = 0; i < width; i++)
		out[i + 1] = i < fill ? '#' : '-';
	out[width + 1] = ']';
	out[width + 2] = '\0';
}

#define human_bytes cli_bytes

/* "0.4s", "12s", "3m05s": a duration for people. */
static void human_seconds(char *out, size_t size, double seconds)
{
	long s = (long)(seconds + 0.5);

	if (seconds < 0)
		snprintf(out, size, "?");
	else if (seconds < 10)
		snprintf(out, size, "%.1fs", seconds);
	else if (s < 60)
		snprintf(out, size, "%lds", s);
	else if (s < 3600)
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

/* An event's "time" (RFC 3339 UTC, as the helper writes it) as epoch seconds; 0 if bad. */
static double event_seconds(const char *time)
{
	struct tm tm;
	const char *rest;
	double frac = 0;

	if (time == NULL)
		return 0;
	memset(&tm, 0, sizeof tm);
	rest = strptime(time, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return 0;
	if (*rest == '.')
		frac = strtod(rest, NULL);
	return (double)timegm(&tm) + frac;
}

static const char *const ascii_marks[] = { ".", ">", "+", "=", "x" };
static const char *const utf8_marks[] = { "\xc2\xb7", "\xe2\x96\xb8", "\xe2\x9c\x93", "=",
					 "\xe2\x9c\x97" };

static void draw_block(struct ui *ui)
{
	int width = term_width();
	char b[64], done[32], total[32], rate[32], took[32];
	size_t i;

	ui_clear(ui);
	ui->last_draw = gg_clock_monotonic();
	if (ui->uploading) {
		double elapsed = gg_clock_monotonic() - ui->up_start;
		double bps = elapsed > 0.2 ? (double)ui->up_done / elapsed : 0;
		int pct = ui->up_total > 0 ? (int)(ui->up_done * 100 / ui->up_total) : 100;
		long eta = bps > 0 ? (long)((double)(ui->up_total - ui->up_done) / bps) : -1;

		bar(b, sizeof b, pct, 30);
		human_bytes(done, sizeof done, (double)ui->up_done);
		human_bytes(total, sizeof total, (double)ui->up_total);
		human_bytes(rate, sizeof rate, bps);
		if (eta >= 0)
			block_line(ui, width, "upload %s %3d%%  %s / %s  %s/s  ETA %ld:%02ld", b, pct,
				   done, total, rate, eta / 60, eta % 60);
		else
			block_line(ui, width, "upload %s %3d%%  %s / %s", b, pct, done, total);
	}
	for (i = 0; i < ui->nsteps; i++) {
		const struct step *s = &ui->steps[i];
		const char *mark = ui->utf8 ? utf8_marks[s->state] : ascii_marks[s->state];

		if (s->state == STEP_RUNNING)
			human_seconds(took, sizeof took, ui->last_draw - s->started);
		else
			human_seconds(took, sizeof took, s->seconds);
		if (s->state == STEP_RUNNING && s->pct >= 0) {
			bar(b, sizeof b, s->pct, 20);
			block_line(ui, width, "  %s %-20s %s %3d%%  %s  %s", mark, s->name, b, s->pct,
				   took, s->msg != NULL ? s->msg : "");
		} else {
			block_line(ui, width, "  %s %-20s %s", mark, s->name,
				   s->state == STEP_SKIPPED ? "(already in place)" :
				   s->state == STEP_RUNNING ? took :
				   s->state == STEP_DONE || s->state == STEP_FAILED ? took : "");
		}
	}
	fflush(ui->out);
}

/*
 * The step of that name; one not in the plan seen (a stream picked up after the plan
 * event, as reattach's) is added, so that the list shows what the stream shows.
 */
static struct step *find_step(struct ui *ui, const char *name)
{
	struct step *s;
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < ui->nsteps; i++)
		if (strcmp(ui->steps[i].name, name) == 0)
			return &ui->steps[i];
	ui->steps = xrealloc(ui->steps, (ui->nsteps + 1) * sizeof *ui->steps);
	s = &ui->steps[ui->nsteps++];
	memset(s, 0, sizeof *s);
	s->name = xstrdup(name);
	s->pct = -1;
	s->seconds = -1;
	return s;
}

static void set_plan(struct ui *ui, json_t *steps)
{
	size_t i;
	json_t *v;

	free_steps(ui);
	ui->steps = xcalloc(json_array_size(steps) + 1, sizeof *ui->steps);
	json_array_foreach(steps, i, v) {
		if (!json_is_string(v))
			continue;
		ui->steps[ui->nsteps].name = xstrdup(json_string_value(v));
		ui->steps[ui->nsteps].pct = -1;
		ui->steps[ui->nsteps].seconds = -1;
		ui->nsteps++;
	}
}

/* The time of the event being rendered, for timestamps; 0 outside ui_event. */
static double event_now;

/* Print a line above the live block (or just print it, without a terminal). */
static void print_line(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_line(struct ui *ui, const char *fmt, ...)
{
	va_list ap;

	ui_clear(ui);
	if (ui->timestamps && event_now > 0) {
		time_t t = (time_t)event_now;
		struct tm tm;
		char stamp[32];

		localtime_r(&t, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S ", &tm);
		fputs(stamp, ui->out);
	}
	va_start(ap, fmt);
	print_clean(ui->out, fmt, ap);
	va_end(ap);
	fputc('\n', ui->out);
}

static void print_tail(struct ui *ui, json_t *tail)
{
	size_t i;
	json_t *v;

	if (json_is_string(tail)) {
		print_line(ui, "  | %s", json_string_value(tail));
		return;
	}
	json_array_foreach(tail, i, v)
		if (json_is_string(v))
			print_line(ui, "  | %s", json_string_value(v));
}

void ui_json(struct ui *ui, json_t *obj)
{
	/*
	 * Re-encoded, never passed through: JSON lets raw CR and TAB stand between tokens
	 * and raw C1 characters (U+009B, a CSI) or DEL inside strings, keys included, and
	 * the VM's line could carry them to a terminal that shows --json output.
	 */
	char *text = cli_json_text(obj);

	fprintf(ui->out, "%s\n", text != NULL ? text : "null");
	free(text);
	fflush(ui->out);
}

/*
 * What stays on screen when the plan ends: each step with its mark and time (done,
 * already in place, failed, not run), and the counts and the whole time first.
 */
static void print_summary(struct ui *ui, double end_time)
{
	size_t counts[5] = { 0 }, i;
	char took[32], total[32];

	if (ui->nsteps == 0)
		return;
	for (i = 0; i < ui->nsteps; i++)
		counts[ui->steps[i].state]++;
	human_seconds(total, sizeof total, ui->plan_time > 0 && end_time >= ui->plan_time
						  ? end_time - ui->plan_time : -1);
	print_line(ui, "steps: %zu done, %zu already in place, %zu failed, %zu not run; %s in all",
		   counts[STEP_DONE], counts[STEP_SKIPPED], counts[STEP_FAILED],
		   counts[STEP_PENDING] + counts[STEP_RUNNING], total);
	for (i = 0; i < ui->nsteps; i++) {
		const struct step *s = &ui->steps[i];
		const char *mark = ui->utf8 ? utf8_marks[s->state] : ascii_marks[s->state];

		human_seconds(took, sizeof took, s->seconds);
		print_line(ui, "  %s %-20s %s", mark, s->name,
			   s->state == STEP_DONE ? took :
			   s->state == STEP_SKIPPED ? "already in place" :
			   s->state == STEP_FAILED ? took : "not run");
	}
}

int ui_plan_complete(const struct ui *ui)
{
	size_t i;

	if (ui->nsteps == 0)
		return 0;
	for (i = 0; i < ui->nsteps; i++)
		if (ui->steps[i].state != STEP_DONE && ui->steps[i].state != STEP_SKIPPED)
			return 0;
	return 1;
}

void ui_set_timestamps(struct ui *ui, int on)
{
	ui->timestamps = on;
}

void ui_tick(struct ui *ui)
{
	size_t i;

	if (ui->mode != UI_TTY || ui->ended || gg_clock_monotonic() - ui->last_draw < 1)
		return;
	for (i = 0; i < ui->nsteps; i++) {
		if (ui->steps[i].state == STEP_RUNNING) {
			draw_block(ui);
			return;
		}
	}
}

/* Keep the steps' states and times; every mode, so that push can ask ui_plan_complete. */
static void track(struct ui *ui, const struct gg_event *ev, struct step *s)
{
	double t = event_seconds(ev->time);

	switch (ev->type) {
	case GG_EVENT_PLAN:
		set_plan(ui, json_object_get(ev->obj, "steps"));
		ui->plan_time = t;
		ui->ended = 0;
		break;
	case GG_EVENT_DONE:
	case GG_EVENT_FAILED:
		ui->ended = 1;
		break;
	case GG_EVENT_STEP_START:
		s->state = STEP_RUNNING;
		s->pct = -1;
		s->started = gg_clock_monotonic();
		s->start_time = t;
		break;
	case GG_EVENT_PROGRESS:
		s->pct = ev->pct;
		free(s->msg);
		s->msg = ev->msg != NULL ? xstrdup(ev->msg) : NULL;
		break;
	case GG_EVENT_STEP_DONE:
	case GG_EVENT_STEP_FAILED:
		s->state = ev->type == GG_EVENT_STEP_DONE ? STEP_DONE : STEP_FAILED;
		s->seconds = s->start_time > 0 && t >= s->start_time ? t - s->start_time : -1;
		break;
	case GG_EVENT_STEP_SKIPPED:
		s->state = STEP_SKIPPED;
		break;
	default:
		break;
	}
}

void ui_event(struct ui *ui, const struct gg_event *ev)
{
	int per_step = ev->type == GG_EVENT_STEP_START || ev->type == GG_EVENT_PROGRESS ||
		       ev->type == GG_EVENT_STEP_DONE || ev->type == GG_EVENT_STEP_SKIPPED ||
		       ev->type == GG_EVENT_STEP_FAILED;
	struct step *s = per_step ? find_step(ui, ev->step) : NULL;
	const char *step = ev->step != NULL ? ev->step : "-";

	if (ev->type == GG_EVENT_PLAN || ev->type == GG_EVENT_DONE || ev->type == GG_EVENT_FAILED ||
	    s != NULL)
		track(ui, ev, s);
	event_now = event_seconds(ev->time);
	if (ui->mode == UI_JSON) {
		ui_json(ui, ev->obj);
		return;
	}
	ui->uploading = 0;
	switch (ev->type) {
	case GG_EVENT_HELLO:
		break;
	case GG_EVENT_PLAN:
		if (ui->mode == UI_PLAIN)
			print_line(ui, "plan: %zu %s", ui->nsteps, cli_plural(ui->nsteps, "step", "steps"));
		break;
	case GG_EVENT_STEP_START:
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] started", step);
		break;
	case GG_EVENT_PROGRESS:
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] %d%% %s", step, ev->pct, ev->msg != NULL ? ev->msg : "");
		break;
	case GG_EVENT_LOG:
		print_line(ui, "[%s] %s", step, ev->msg != NULL ? ev->msg : "");
		break;
	case GG_EVENT_STEP_DONE:
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] done", step);
		break;
	case GG_EVENT_STEP_SKIPPED:
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] skipped: already in place", step);
		break;
	case GG_EVENT_STEP_FAILED:
		print_line(ui, "[%s] FAILED (exit %lld); its last output:", step,
			   json_integer_value(json_object_get(ev->obj, "code")));
		print_tail(ui, json_object_get(ev->obj, "tail"));
		break;
	case GG_EVENT_REBOOT:
		print_line(ui, "the VM is rebooting%s%s%s", ev->step != NULL ? " (asked by " : "",
			   ev->step != NULL ? ev->step : "", ev->step != NULL ? ")" : "");
		break;
	case GG_EVENT_DONE:
		print_line(ui, "done: the plan finished%s%s", ev->msg != NULL ? ": " : "",
			   ev->msg != NULL ? ev->msg : "");
		print_summary(ui, event_now);
		break;
	case GG_EVENT_FAILED:
		print_line(ui, "failed: %s", ev->msg != NULL ? ev->msg : "the plan stopped");
		print_summary(ui, event_now);
		break;
	default:
		break;
	}
	if (ui->mode == UI_TTY && !ui->ended)
		draw_block(ui);
	event_now = 0;
	fflush(ui->out);
}

void ui_upload(struct ui *ui, uint64_t done, uint64_t total)
{
	double now = gg_clock_monotonic();

	if (ui->mode == UI_PLAIN) {
		/* No terminal: a line at each quarter of an upload that takes a while. */
		int quarter = total > 0 ? (int)(done * 4 / total) : 4;

		if (total >= 1024 * 1024 && quarter > ui->up_quarter) {
			char d[32], t[32];

			ui->up_quarter = quarter;
			human_bytes(d, sizeof d, (double)done);
			human_bytes(t, sizeof t, (double)total);
			fprintf(ui->out, "upload: %d%% (%s of %s)\n", quarter * 25, d, t);
			fflush(ui->out);
		}
		if (done >= total)
			ui->up_quarter = 0;
		return;
	}
	if (ui->mode != UI_TTY)
		return;
	if (!ui->uploading) {
		ui->uploading = 1;
		ui->up_start = now;
		ui->up_last_draw = 0;
	}
	ui->up_done = done;
	ui->up_total = total;
	if (now - ui->up_last_draw < 0.1 && done < total)
		return;
	ui->up_last_draw = now;
	draw_block(ui);
}

void ui_note(struct ui *ui, const char *fmt, ...)
{
	FILE *f = ui->mode == UI_JSON ? stderr : ui->out;
	va_list ap;

	ui_clear(ui);
	va_start(ap, fmt);
	print_clean(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
	if (ui->mode == UI_TTY && !ui->ended && (ui->nsteps > 0 || ui->uploading))
		draw_block(ui);
}
