/*
 * idle-stop.h: setting a target's idle stop (cmd-idle-stop.c), for the commands that
 * do it on the way: `idle-stop` itself and `push` (--idle-stop, or the default of a
 * VM gcloud-gpu created).  docs/IDLE-STOP.md says what the VM then does.
 */
#ifndef GG_IDLE_STOP_H
#define GG_IDLE_STOP_H

#include "remote.h"

/*
 * Run `idle-set` on the connected target: seconds (0: off); if_unset only sets it
 * when nothing was chosen on that VM yet.  0, or an exit code with *cause set
 * (GG_EXIT_REMOTE with the helper's line: no systemd there, a period refused).
 */
int idle_stop_apply(struct remote *r, long seconds, int if_unset, char **cause);

/*
 * A VM made by `gcloud-gpu create` (target.managed) gets 60 minutes unless something
 * was chosen already; other targets nothing.  A failure is a note, not an error: the
 * push goes on.  Returns what idle_stop_apply returned.
 */
int idle_stop_default(struct remote *r);

#endif
