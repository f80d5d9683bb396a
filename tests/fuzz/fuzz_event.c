/*
 * fuzz_event.c: the event decoder, which the CLI runs on every line a VM sends.
 *
 * A compromised or confused VM controls those bytes.  Beyond "no crash, no leak",
 * this asserts what gg_event_parse promises: a refusal sets a one-line cause and
 * leaves the event empty; an accepted event has a known type, a valid seq (0 only
 * for hello), a time, a pct of -1 or 0..100 and its type's fields; and re-encoding
 * it gives exactly one line that decodes to the same event (what the helper logs,
 * a follower reads back unchanged).
 */
#include <string.h>

#include "buf.h"
#include "event.h"
#include "fuzz.h"

static int same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_accepted(const struct gg_event *ev)
{
	FUZZ_ASSERT(ev->obj != NULL && json_is_object(ev->obj));
	FUZZ_ASSERT((int)ev->type >= 0 && ev->type < GG_EVENT_TYPE_COUNT);
	FUZZ_ASSERT(ev->seq >= (ev->type == GG_EVENT_HELLO ? 0 : 1));
	FUZZ_ASSERT(ev->time != NULL);
	FUZZ_ASSERT(ev->pct == -1 || (ev->pct >= 0 && ev->pct <= 100));
	switch (ev->type) {
	case GG_EVENT_STEP_START:
	case GG_EVENT_STEP_DONE:
	case GG_EVENT_STEP_SKIPPED:
	case GG_EVENT_STEP_FAILED:
		FUZZ_ASSERT(ev->step != NULL);
		break;
	case GG_EVENT_PROGRESS:
		FUZZ_ASSERT(ev->step != NULL && ev->pct >= 0);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_event ev, back;
	struct gg_buf line = GG_BUF_INIT;
	char *cause = NULL;

	if (gg_event_parse((const char *)data, size, &ev, &cause) != 0) {
		FUZZ_ASSERT(cause != NULL && cause[0] != '\0');
		FUZZ_ASSERT(fuzz_cause_is_printable(cause));
		FUZZ_ASSERT(ev.obj == NULL);
		free(cause);
		return 0;
	}
	FUZZ_ASSERT(cause == NULL);
	check_accepted(&ev);

	/* One event, one line: the log and the stream are split on '\n'. */
	FUZZ_ASSERT(gg_event_format(ev.obj, &line) == 0);
	FUZZ_ASSERT(line.len > 0 && line.data[line.len - 1] == '\n');
	FUZZ_ASSERT(memchr(line.data, '\n', line.len - 1) == NULL);
	/* Re-encoding can lengthen numbers (1e2 prints as 100.0): past the limit, stop. */
	if (line.len - 1 > GG_EVENT_MAX_LINE)
		goto out;
	FUZZ_ASSERT(gg_event_parse(line.data, line.len, &back, &cause) == 0);
	FUZZ_ASSERT(back.seq == ev.seq && back.type == ev.type && back.pct == ev.pct);
	FUZZ_ASSERT(same_string(back.time, ev.time) && same_string(back.step, ev.step) &&
		    same_string(back.msg, ev.msg) && same_string(back.boot_id, ev.boot_id));
	FUZZ_ASSERT(json_equal(back.obj, ev.obj));
	gg_event_release(&back);
out:
	gg_event_release(&ev);
	gg_buf_release(&line);
	return 0;
}
