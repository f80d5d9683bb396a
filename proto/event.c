/*
 * event.c: encoding and decoding the events of event.h with jansson.
 */
#include "event.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"

static const char *const type_names[GG_EVENT_TYPE_COUNT] = {
	[GG_EVENT_HELLO] = "hello",
	[GG_EVENT_PLAN] = "plan",
	[GG_EVENT_STEP_START] = "step-start",
	[GG_EVENT_PROGRESS] = "progress",
	[GG_EVENT_LOG] = "log",
	[GG_EVENT_STEP_DONE] = "step-done",
	[GG_EVENT_STEP_SKIPPED] = "step-skipped",
	[GG_EVENT_STEP_FAILED] = "step-failed",
	[GG_EVENT_REBOOT] = "reboot",
	[GG_EVENT_DONE] = "done",
	[GG_EVENT_FAILED] = "failed",
};

const char *gg_event_type_name(enum gg_event_type type)
{
	if ((int)type < 0 || type >= GG_EVENT_TYPE_COUNT)
		return "unknown";
	return type_names[type];
}

int gg_event_type_from_name(const char *name)
{
	int i;

	for (i = 0; i < GG_EVENT_TYPE_COUNT; i++)
		if (strcmp(type_names[i], name) == 0)
			return i;
	return -1;
}

json_t *gg_event_new(long long seq, enum gg_event_type type)
{
	struct timespec now;
	struct tm tm;
	char stamp[48];
	json_t *obj;
	size_t n;

	gg_clock_wall(&now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof stamp - n, ".%03uZ", (unsigned)(now.tv_nsec / 1000000) % 1000u);
	obj = json_object();
	if (obj == NULL)
		return NULL;
	if (json_object_set_new(obj, "seq", json_integer(seq)) != 0 ||
	    json_object_set_new(obj, "time", json_string(stamp)) != 0 ||
	    json_object_set_new(obj, "type", json_string(gg_event_type_name(type))) != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int gg_event_format(json_t *obj, struct gg_buf *out)
{
	char *text;
	int r;

	/* Compact keeps one event on one line; jansson escapes newlines in strings. */
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return -1;
	r = gg_buf_addstr(out, text) == 0 && gg_buf_addch(out, '\n') == 0 ? 0 : -1;
	free(text);
	return r;
}

/* Read an optional string field; a present field of another type is an error. */
static int optional_string(json_t *obj, const char *key, const char **out, char **cause)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return gg_fail(cause, -1, "event field '%s' is not a string", key);
	*out = json_string_value(v);
	return 0;
}

/* Fields each type must carry for the CLI to render it. */
static int check_type_fields(const struct gg_event *ev, char **cause)
{
	const char *name = gg_event_type_name(ev->type);

	switch (ev->type) {
	case GG_EVENT_HELLO:
		if (!json_is_integer(json_object_get(ev->obj, "proto")))
			return gg_fail(cause, -1, "'hello' event has no protocol version");
		break;
	case GG_EVENT_PLAN:
		if (!json_is_array(json_object_get(ev->obj, "steps")))
			return gg_fail(cause, -1, "'plan' event has no step list");
		break;
	case GG_EVENT_STEP_START:
	case GG_EVENT_STEP_DONE:
	case GG_EVENT_STEP_SKIPPED:
	case GG_EVENT_STEP_FAILED:
		if (ev->step == NULL)
			return gg_fail(cause, -1, "'%s' event has no step", name);
		break;
	case GG_EVENT_PROGRESS:
		if (ev->step == NULL || ev->pct < 0)
			return gg_fail(cause, -1, "'progress' event needs a step and a pct");
		break;
	default:
		break;
	}
	return 0;
}

int gg_event_parse(const char *line, size_t len, struct gg_event *ev, char **cause)
{
	json_error_t jerr;
	json_t *v;
	int type;

	memset(ev, 0, sizeof *ev);
	ev->pct = -1;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > GG_EVENT_MAX_LINE)
		return gg_fail(cause, -1, "event line of %zu bytes is too long", len);
	ev->obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (ev->obj == NULL)
		return gg_fail(cause, -1, "event is not valid JSON: %s", jerr.text);
	if (!json_is_object(ev->obj)) {
		gg_fail(cause, -1, "event is not a JSON object");
		goto bad;
	}
	v = json_object_get(ev->obj, "type");
	if (!json_is_string(v)) {
		gg_fail(cause, -1, "event has no 'type'");
		goto bad;
	}
	type = gg_event_type_from_name(json_string_value(v));
	if (type < 0) {
		gg_fail(cause, -1, "unknown event type '%s'", json_string_value(v));
		goto bad;
	}
	ev->type = (enum gg_event_type)type;
	/* hello opens a stream and is not in the log: its seq is 0. */
	v = json_object_get(ev->obj, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < (type == GG_EVENT_HELLO ? 0 : 1) ||
	    json_integer_value(v) > GG_EVENT_MAX_SEQ) {
		gg_fail(cause, -1, "event has no valid integer 'seq' (1 to %lld)", GG_EVENT_MAX_SEQ);
		goto bad;
	}
	ev->seq = json_integer_value(v);
	if (optional_string(ev->obj, "time", &ev->time, cause) != 0 ||
	    optional_string(ev->obj, "step", &ev->step, cause) != 0 ||
	    optional_string(ev->obj, "msg", &ev->msg, cause) != 0 ||
	    optional_string(ev->obj, "boot_id", &ev->boot_id, cause) != 0)
		goto bad;
	if (ev->time == NULL) {
		gg_fail(cause, -1, "event has no 'time'");
		goto bad;
	}
	v = json_object_get(ev->obj, "pct");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 100) {
			gg_fail(cause, -1, "event 'pct' is not an integer from 0 to 100");
			goto bad;
		}
		ev->pct = (int)json_integer_value(v);
	}
	if (check_type_fields(ev, cause) != 0)
		goto bad;
	return 0;
bad:
	gg_event_release(ev);
	return -1;
}

void gg_event_release(struct gg_event *ev)
{
	json_decref(ev->obj);
	memset(ev, 0, sizeof *ev);
	ev->pct = -1;
}
