/*
 * journal.h: the runner's durable record: the event log, the state file, the lock.
 *
 *   events.jsonl  one event a line, append-only.  Each event is written with one
 *                 write(2) and fsync'd before anyone is shown it, so a follower that
 *                 reconnects with --from LAST+1 misses nothing and sees nothing twice.
 *   state.json    the plan and each step's state, replaced atomically.
 *   lock          flock'd by whoever writes the two above: the runner, or `apply`
 *                 while it starts a plan.  Only one runner ever runs.
 *
 * Sequence numbers continue across runner restarts: gg_journal_open takes the next
 * one from the log itself.  A power cut can leave a torn last line (no newline);
 * opening cuts it off, so the log is always whole lines.
 *
 * Steps for a writer:
 *   gg_lock_take(root, wait_ms, &lock_fd)      // GG_HELPER_BUSY when someone holds it
 *   gg_journal_open(&j, root)                  // repairs the tail, finds the last seq
 *   gg_journal_emit(&j, GG_EVENT_..., fields)  // as often as needed
 *   gg_journal_close(&j); close(lock_fd)
 */
#ifndef GG_JOURNAL_H
#define GG_JOURNAL_H

#include <sys/types.h>

#include <jansson.h>

#include "protocol.h"

struct gg_journal {
	char *path;
	int fd;             /* events.jsonl, O_APPEND */
	off_t size;         /* bytes of whole lines */
	long long last_seq; /* 0 when the log is empty */
};

#define GG_JOURNAL_INIT { NULL, -1, 0, 0 }

/* Take the lock, retrying every 50 ms for up to wait_ms; returns its fd in *fd. */
int gg_lock_take(const char *root, int wait_ms, int *fd, char **cause);

/* Whether some process holds the lock now (a runner runs, or `apply` starts one). */
int gg_lock_held(const char *root);

/* Open the log for appending (the caller holds the lock). */
int gg_journal_open(struct gg_journal *j, const char *root, char **cause);
void gg_journal_close(struct gg_journal *j);

/*
 * Append one event of type with the next seq; fields (may be NULL) are merged into
 * it and released.  On failure the log is cut back to its previous size.  The seq
 * given is stored in *seq when seq is not NULL.  An event over GG_EVENT_MAX_LINE is
 * GG_HELPER_REFUSED (it will never fit; nothing is written), an I/O error
 * GG_HELPER_SYSTEM (it may pass: a full disk is freed).
 */
int gg_journal_emit(struct gg_journal *j, enum gg_event_type type, json_t *fields,
		    long long *seq, char **cause);

/* The highest seq in root's log, read without the lock; 0 when there is none. */
long long gg_journal_last_seq(const char *root);

/* Tests only: the hooks below act only when GCLOUD_GPU_TEST_HOOKS is "1". */
#define GG_ENV_TEST_HOOKS "GCLOUD_GPU_TEST_HOOKS"
/*
 * Tests only: N.  A process that called gg_journal_kill_points kills itself with
 * SIGKILL right after its N-th durable write (an event appended, a state.json
 * replaced), as a crash there would: the fault tests kill the runner at every point.
 */
#define GG_ENV_TEST_KILL_AT "GCLOUD_GPU_TEST_KILL_AT"

void gg_journal_kill_points(void);

/*
 * state.json.  Load sets *state to NULL when there is none yet.  Save replaces it
 * atomically (write, fsync, rename, fsync the directory).
 */
int gg_state_load(const char *root, json_t **state, char **cause);
int gg_state_save(const char *root, json_t *state, char **cause);

/*
 * The hello event that opens every stream (seq 0, not logged): proto, version,
 * boot_id, last_seq.  NULL on ENOMEM.
 */
json_t *gg_hello_new(const char *boot_id, long long last_seq);

#endif
