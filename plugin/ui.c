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
#include <unistd.h>

#include <jansson.h>

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

static void human_bytes(char *out, size_t size, double bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

static void draw_block(struct ui *ui)
{
	const char *marks[] = { " ", ">", "+", "=", "x" };
	const char *umarks[] = { "\xc2\xb7", "\xe2\x96\xb8", "\xe2\x9c\x93", "\xe2\x9c\x93", "\xe2\x9c\x97" };
	int width = term_width();
	char b[64], done[32], total[32], rate[32];
	size_t i;

	ui_clear(ui);
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
		const char *mark = ui->utf8 ? umarks[s->state] : marks[s->state];

		if (s->state == STEP_RUNNING && s->pct >= 0) {
			bar(b, sizeof b, s->pct, 20);
			block_line(ui, width, "  %s %-20s %s %3d%%  %s", mark, s->name, b, s->pct,
				   s->msg != NULL ? s->msg : "");
		} else {
			block_line(ui, width, "  %s %-20s %s", mark, s->name,
				   s->state == STEP_SKIPPED ? "(already in place)" :
				   s->state == STEP_RUNNING ? "..." : "");
		}
	}
	fflush(ui->out);
}

static struct step *find_step(struct ui *ui, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < ui->nsteps; i++)
		if (strcmp(ui->steps[i].name, name) == 0)
			return &ui->steps[i];
	return NULL;
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
		ui->nsteps++;
	}
}

/* Print a line above the live block (or just print it, without a terminal). */
static void print_line(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_line(struct ui *ui, const char *fmt, ...)
{
	va_list ap;

	ui_clear(ui);
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
	 * and raw C1 characters (U+009B, a CSI) inside strings, and the VM's line could
	 * carry them to a terminal that shows --json output.  ASCII only, every control
	 * character escaped.
	 */
	char *text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);

	fprintf(ui->out, "%s\n", text != NULL ? text : "null");
	free(text);
	fflush(ui->out);
}

void ui_event(struct ui *ui, const struct gg_event *ev)
{
	struct step *s = find_step(ui, ev->step);
	const char *step = ev->step != NULL ? ev->step : "-";

	if (ui->mode == UI_JSON) {
		ui_json(ui, ev->obj);
		return;
	}
	ui->uploading = 0;
	switch (ev->type) {
	case GG_EVENT_HELLO:
		break;
	case GG_EVENT_PLAN:
		set_plan(ui, json_object_get(ev->obj, "steps"));
		if (ui->mode == UI_PLAIN)
			print_line(ui, "plan: %zu steps", ui->nsteps);
		break;
	case GG_EVENT_STEP_START:
		if (s != NULL) {
			s->state = STEP_RUNNING;
			s->pct = -1;
		}
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] started", step);
		break;
	case GG_EVENT_PROGRESS:
		if (s != NULL) {
			s->pct = ev->pct;
			free(s->msg);
			s->msg = ev->msg != NULL ? xstrdup(ev->msg) : NULL;
		}
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] %d%% %s", step, ev->pct, ev->msg != NULL ? ev->msg : "");
		break;
	case GG_EVENT_LOG:
		print_line(ui, "[%s] %s", step, ev->msg != NULL ? ev->msg : "");
		break;
	case GG_EVENT_STEP_DONE:
		if (s != NULL)
			s->state = STEP_DONE;
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] done", step);
		break;
	case GG_EVENT_STEP_SKIPPED:
		if (s != NULL)
			s->state = STEP_SKIPPED;
		if (ui->mode == UI_PLAIN)
			print_line(ui, "[%s] skipped: already in place", step);
		break;
	case GG_EVENT_STEP_FAILED:
		if (s != NULL)
			s->state = STEP_FAILED;
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
		break;
	case GG_EVENT_FAILED:
		print_line(ui, "failed: %s", ev->msg != NULL ? ev->msg : "the plan stopped");
		break;
	default:
		break;
	}
	if (ui->mode == UI_TTY && ev->type != GG_EVENT_DONE && ev->type != GG_EVENT_FAILED)
		draw_block(ui);
	fflush(ui->out);
}

void ui_upload(struct ui *ui, uint64_t done, uint64_t total)
{
	double now = gg_clock_monotonic();

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
	if (ui->mode == UI_TTY && (ui->nsteps > 0 || ui->uploading))
		draw_block(ui);
}
