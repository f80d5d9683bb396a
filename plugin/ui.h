/*
 * ui.h: how gcloud-gpu shows what happens, in one of three modes.
 *
 *   UI_TTY    a terminal: the plan as a list of steps with the current one live and its
 *             progress bar, output lines scrolling above it, and a byte progress bar
 *             with rate and ETA while uploading
 *   UI_PLAIN  not a terminal (a log file, CI): one plain line per event, nothing redrawn,
 *             and a line at each quarter of an upload of 1 MiB or more
 *
 * When the plan ends (terminal or not) a summary stays: the counts and the whole time,
 * then each step with its mark (done, already in place, failed, not run) and time.
 *   UI_JSON   --json: the helper's event lines pass through unchanged on stdout, and
 *             nothing else goes there (notes go to stderr)
 *
 * Events are decoded by ggproto's event.h before they reach the renderer; ui_event
 * gets both the decoded event and its raw line.
 */
#ifndef GG_UI_H
#define GG_UI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"

enum ui_mode {
	UI_PLAIN,
	UI_TTY,
	UI_JSON,
};

struct ui;

/* UI_JSON when json is set, UI_TTY when stdout is a terminal (and TERM is not dumb). */
enum ui_mode ui_mode_detect(int json);

/* A renderer writing to stdout. */
struct ui *ui_new(enum ui_mode mode);
void ui_free(struct ui *ui);
enum ui_mode ui_mode(const struct ui *ui);

/* Render one event; line/len is its raw text (for --json). */
void ui_event(struct ui *ui, const struct gg_event *ev, const char *line, size_t len);

/* Upload progress in payload bytes; redrawn at most ten times a second on a terminal. */
void ui_upload(struct ui *ui, uint64_t done, uint64_t total);

/* A line of the CLI's own (connecting, what was uploaded...); stderr under --json. */
void ui_note(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Whether the plan's every step is done or already in place (the last one too):
 * push says "ready" only then.  0 before any step is known.
 */
int ui_plan_complete(const struct ui *ui);

/* Print each event's local time before its line (logs). */
void ui_set_timestamps(struct ui *ui, int on);

/* Call while waiting: redraws the running step's elapsed time once a second. */
void ui_tick(struct ui *ui);

/* Take the live block off the terminal before something else is printed (an error). */
void ui_clear(struct ui *ui);

#endif
