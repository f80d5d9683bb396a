/*
 * step.h: one step's process: `steps/NN-name.sh check|apply` started in its release,
 * its output turned into events, its end.
 *
 * A step runs with cwd = the release, stdin /dev/null, stdout and stderr on one pipe
 * (each line a `log` event; lines over GG_STEP_MAX_LINE are cut into pieces) and fd 3
 * on a second pipe (`progress PCT MSG` lines become `progress` events; anything else
 * there is ignored), umask 022, PR_SET_PDEATHSIG so that it dies with a killed runner,
 * and GCLOUD_GPU_ROOT, GCLOUD_GPU_RELEASE and GCLOUD_GPU_STEP in its environment.
 * Nothing blocks: the runner polls the descriptors of every step it runs (gg_step_fds)
 * and pumps each one (gg_step_pump) until it says the step ended.  A pidfd tells the
 * step's exit where the kernel has them (Linux 5.3); elsewhere the caller polls with a
 * timeout.  A step's exit ends the reading even when a daemon it started keeps the
 * pipes open: what was in them at the exit is read, the rest is not waited for.
 *
 * Steps for a caller:
 *   struct gg_step s; gg_step_init(&s);
 *   gg_step_start(&s, root, release, "20-driver", "apply")
 *   loop: n = gg_step_fds(&s, fds); poll(...); gg_step_pump(&s, journal, &ended)
 *   ended: s.code is the exit status (128+N for signal N); gg_step_tail(&s) for a failure
 *   gg_step_release(&s)   // also kills a step still running (the runner failed)
 */
#ifndef GG_STEP_H
#define GG_STEP_H

#include <poll.h>
#include <sys/types.h>

#include <jansson.h>

#include "buf.h"
#include "journal.h"

/* How many output lines a step-failed event carries. */
#define GG_STEP_TAIL_LINES 20
/* Longer output lines are cut into pieces of this size, each its own event. */
#define GG_STEP_MAX_LINE 8192
/* The most descriptors gg_step_fds fills in. */
#define GG_STEP_FDS 3
/* The poll timeout a caller needs when a step has no pidfd (its exit is not polled). */
#define GG_STEP_POLL_MS 200

struct gg_step {
	char name[256];            /* e.g. "20-driver" */
	const char *action;        /* "check" or "apply" */
	pid_t pid;                 /* -1 when none runs */
	int pidfd;                 /* readable at the exit; -1 where there are none */
	int out;                   /* stdout+stderr pipe, -1 once at its end */
	int progress;              /* fd 3 pipe, likewise */
	int exited;
	int code;                  /* exit status once ended */
	struct gg_buf out_buf;     /* output not yet ended by a newline */
	struct gg_buf progress_buf;
	char *tail[GG_STEP_TAIL_LINES]; /* ring of the last output lines of this action */
	size_t tail_next, tail_count;
};

/* Whether path (relative to the release) is a step: steps/[0-9][0-9]-*.sh. */
int gg_step_path_valid(const char *path);

/*
 * Parse a line a step wrote to fd 3: "progress PCT MSG" with PCT a number, clamped
 * to 0..100.  Returns 0 and sets *pct and *msg (pointing into line), or -1 for junk.
 */
int gg_parse_progress(const char *line, int *pct, const char **msg);

void gg_step_init(struct gg_step *s);

/*
 * Start steps/<name>.sh ACTION in release (under root).  The tail is emptied when the
 * action is "apply" (a failed apply reports its own output).  0, or an exit code
 * with *cause (not a step, not a regular file, no pipe, no fork).
 */
int gg_step_start(struct gg_step *s, const char *root, const char *release, const char *name,
		  const char *action, char **cause);

/* The descriptors to poll (POLLIN) for s into fds (room for GG_STEP_FDS); their count. */
int gg_step_fds(const struct gg_step *s, struct pollfd *fds);

/* Whether the caller must poll with a timeout (GG_STEP_POLL_MS) for s: it has no pidfd. */
int gg_step_needs_timeout(const struct gg_step *s);

/*
 * Read what s wrote, emit its whole lines as events to j, and reap it when it exited.
 * *ended is set once it exited and its output was read (s->code holds its status).
 * 0, or an exit code with *cause when an event cannot be written.
 */
int gg_step_pump(struct gg_step *s, struct gg_journal *j, int *ended, char **cause);

/* The last output lines of the action, oldest first, as a JSON array (NULL on ENOMEM). */
json_t *gg_step_tail(const struct gg_step *s);

/* Kill the process if it still runs, reap it, close everything, free the buffers. */
void gg_step_release(struct gg_step *s);

/* Run a command (argv[0] a path) and wait for it; its exit status, or -1. */
int gg_command_run(char *const argv[]);

#endif
