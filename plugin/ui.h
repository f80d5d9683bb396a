/*
 * ui.h: how gcloud-gpu shows what happens, in one of three modes.
 *
 *   UI_TTY    a terminal: the plan as a list of steps with the current one live and its
 *             progress bar, output lines scrolling above it, and a byte progress bar
 *             with rate and ETA while uploading
 *   UI_PLAIN  not a terminal (a log file, CI): one plain line per event, nothing redrawn,
 *             and a line at each quarter of an upload of 1 MiB or more
 *   UI_JSON   --json: the helper's events on stdout, one JSON object a line, decoded
 *             and encoded again as ASCII (ui_json), and nothing else goes there
 *             (notes go to stderr)
 *
 * When the plan ends (terminal or not) a summary stays: the counts and the whole time,
 * then each step with its mark (done, already in place, failed, not run) and time.
 *
 * Events are decoded by ggproto's event.h before they reach the renderer.  Nothing
 * the VM sent reaches the terminal raw: text goes through gg_printable (error.h),
 * JSON is encoded again with every non-ASCII and control character escaped.
 */
#ifndef GG_UI_H
#define GG_UI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

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

/* Render one event. */
void ui_event(struct ui *ui, const struct gg_event *ev);

/*
 * Print obj as one line of JSON on the renderer's stdout, ASCII only (JSON_ENSURE_ASCII):
 * the one way --json output of what a VM sent is written.
 */
void ui_json(struct ui *ui, json_t *obj);

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
