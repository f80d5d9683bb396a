/*
 * event.h: the JSON-lines event protocol, encoded and decoded in one place.
 *
 * The helper writes one event per line to events.jsonl and to its followers; the CLI
 * decodes them to render progress and to remember the last sequence number it saw.
 * An event is a JSON object with at least
 *     "seq"  integer, monotonic per VM (1, 2, 3, ... without gaps); 0 for "hello",
 *            which opens every stream and is not part of the log
 *     "time" RFC 3339 UTC time with milliseconds
 *     "type" one of the names in gg_event_type_name()
 * and, by type, "step", "pct" (0..100), "msg", "boot_id", "proto", "version",
 * "steps" (plan: array of step names), "tail" (step-failed: the last output lines),
 * "code" (step-failed: exit status).  Unknown fields are kept and ignored, so newer
 * helpers can add fields without breaking older clients.
 */
#ifndef GG_EVENT_H
#define GG_EVENT_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "protocol.h"

/* The longest line either side accepts; longer input is refused, not truncated. */
#define GG_EVENT_MAX_LINE (64 * 1024)

/*
 * The highest seq an event may carry: a million events a second for thirty years.  A
 * larger one is a VM lying (it would overflow the CLI's "last seen + 1" and be saved
 * as the target's bookmark), and gg_event_parse refuses it.
 */
#define GG_EVENT_MAX_SEQ 1000000000000LL

/* A decoded event.  The strings point into obj and live as long as it does. */
struct gg_event {
	long long seq;
	enum gg_event_type type;
	const char *time;
	const char *step;    /* NULL when absent */
	int pct;             /* -1 when absent */
	const char *msg;     /* NULL when absent */
	const char *boot_id; /* NULL when absent */
	json_t *obj;         /* the whole object, owned */
};

const char *gg_event_type_name(enum gg_event_type type);
/* Returns the type for name, or -1. */
int gg_event_type_from_name(const char *name);

/*
 * Start an event: a new object with seq, time (now) and type set.  The caller adds
 * the type's fields with json_object_set_new() and then formats it.  NULL on ENOMEM.
 */
json_t *gg_event_new(long long seq, enum gg_event_type type);

/* Append obj as one compact line with its '\n'.  0, or -1 on ENOMEM. */
int gg_event_format(json_t *obj, struct gg_buf *out);

/*
 * Decode one line (without or with its '\n').  Checks the required fields and their
 * types, and the per-type fields the CLI relies on.  Returns 0 and fills ev (release
 * it with gg_event_release), or -1 with *cause set.
 */
int gg_event_parse(const char *line, size_t len, struct gg_event *ev, char **cause);

void gg_event_release(struct gg_event *ev);

#endif
