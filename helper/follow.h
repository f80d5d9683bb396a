/*
 * follow.h: streaming the event log to a client.
 *
 * A stream is `hello` (seq 0: proto, version, boot_id, last_seq), then every logged
 * event with seq >= from, in order, each line exactly as the runner wrote it, then
 * new ones as they are appended, until the plan in state.json ends.  The log is read
 * by whole lines only, from the offset of the last whole line, so a line being
 * written (or a torn one a restarted runner cuts off) is never sent.
 *
 * It ends:
 *   0                   the current plan's `done` was sent (or the plan had ended)
 *   GG_HELPER_FAILED    its `failed` was sent (or it had ended so)
 *   GG_HELPER_DETACHED  no runner holds the lock while the plan is unfinished (after
 *                       a grace period for a runner being started; at once when it
 *                       is rebooting), or the client went away; or, with no_wait,
 *                       the log's end was reached (with no_wait the stream goes on
 *                       past the plan's end to the log's: the idle stop logs its
 *                       decisions after it; the code is then the plan's, as above)
 *   GG_HELPER_SYSTEM    no runner while the plan is unfinished, after the grace, and
 *                       the state root's disk is full (gg_disk_full): the runner
 *                       stopped because it could not record its events, and starting
 *                       another would only stop again; *cause says to free space and
 *                       reattach (the client must not just ask again, as on DETACHED)
 */
#ifndef GG_FOLLOW_H
#define GG_FOLLOW_H

#include <stdio.h>

#include <jansson.h>

#include "helper.h"

/* How long an unfinished plan may have no runner before follow gives up. */
#define GG_FOLLOW_GRACE_MS 5000

int gg_follow(struct helper_context *ctx, long long from, int no_wait, FILE *out, char **cause);

/* Print obj as one compact JSON line on stdout (the answer of have, recv, status). */
int gg_print_json(json_t *obj, char **cause);

/* Parse "--from SEQ" / "--no-wait" options of follow, resume, ensure; 0 or usage. */
int gg_follow_options(int argc, char **argv, int allow_no_wait, long long *from, int *no_wait,
		      char **cause);

#endif
