/*
 * remote.h: driving gcloud-gpu-helper on a target, the CLI's side of the wire
 * (docs/ARCHITECTURE.md, "The wire between the CLI and the helper").
 *
 * remote_open connects (ssh.h).  The helper this CLI was built with is looked up next
 * to the CLI, and lives on the VM as <root>/bin/gcloud-gpu-helper-<sha256>.  Every
 * command runs it through a wrapper that checks its sha256 first and, when it matches,
 * prints a ready line and execs it; when it is missing or does not match, the wrapper
 * exits 97 and remote_start uploads it and starts the command again.  So the helper
 * goes up only when the VM lacks that exact build, and no round trip is spent asking
 * (each exec costs the remote shell's start-up: a ~/.bashrc can make that 0.3 s).
 * A non-root SSH user runs it through `sudo -n`.
 *
 * Tests relocate the helper on the VM: with GCLOUD_GPU_TEST_HOOKS=1, every variable
 * GCLOUD_GPU_REMOTE_X in the CLI's environment becomes GCLOUD_GPU_X on the helper's
 * command line (so GCLOUD_GPU_REMOTE_ROOT sets the state root, and with it where the
 * helper binary goes).  Without it they are ignored: a user cannot set them by
 * accident.
 *
 * remote_follow runs an event-streaming helper command (apply, follow, resume, ensure)
 * and renders it, reconnecting with backoff when the link drops and following on
 * from the last event seen, until the plan ends, the deadline passes or ^C.
 */
#ifndef GG_REMOTE_H
#define GG_REMOTE_H

#include <signal.h>
#include <stddef.h>

#include "buf.h"
#include "ssh.h"
#include "target.h"
#include "ui.h"

/* Set by the SIGINT handler remote_catch_interrupt installs. */
extern volatile sig_atomic_t remote_interrupted;

/* Install a SIGINT/SIGTERM handler that sets remote_interrupted. */
void remote_catch_interrupt(void);

struct remote {
	struct target *target;
	struct ui *ui;
	struct ssh_conn *conn;
	char *root;                            /* helper's state root on the VM */
	char *helper_path;                     /* the local helper binary */
	char helper_sha[GG_SHA256_HEX_SIZE];
	char *prefix;                          /* "sudo -n " or "" */
	struct target_seen seen;               /* loaded from and saved to the state dir */
	int reboots;                           /* boot id changes seen while following */
	double deadline;                       /* of remote_open: for reconnects on the way */
	double settle_until;                   /* a key refused before this is waited out
						* (a VM just started or given its key) */
	long long floor;                       /* events up to this seq are not shown again */
	/*
	 * Set before a read-only command (status, reattach): a helper missing on a VM
	 * that was never pushed to is not uploaded; remote_start fails with
	 * GG_EXIT_REMOTE and sets never_pushed instead.
	 */
	int no_upload;
	int never_pushed;
};

/*
 * Connect.  With deadline (gg_clock_monotonic seconds, clock.h) set, an unreachable host is waited for with
 * backoff until then (reattach), and a helper upload cut by a dropped link is tried
 * again until then; so is a target with settle_seconds (a VM just started or given
 * its key), for that long.  r is filled (release with remote_close).  0, or an exit
 * code with *cause set.
 */
int remote_open(struct remote *r, struct target *t, struct ui *ui, double deadline,
		char **cause);
void remote_close(struct remote *r);

/* Connect again after a dropped link, waiting with backoff until deadline
 * (gg_clock_monotonic seconds). */
int remote_reconnect(struct remote *r, double deadline, char **cause);

/*
 * Start `helper ARGS` on an exec channel of r->conn and wait until the helper itself
 * runs (the wrapper's ready line), uploading the helper first when the VM lacks it.
 * Only then may the caller write to its stdin: bytes sent while the remote shell
 * still starts wait in sshd's buffers, and a dropped link loses them all, so a cut
 * upload would keep nothing to resume from.  Stdout that arrived behind the ready
 * line is appended to early.  Then as ssh.h: ssh_exec_write, ssh_exec_close_stdin,
 * ssh_exec_read, ssh_exec_finish.  0, GG_EXIT_SSH when the link broke,
 * GG_EXIT_INTERRUPTED on ^C, or GG_EXIT_REMOTE (sudo refused, upload refused) with
 * *cause set.
 */
int remote_start(struct remote *r, const char *args, struct ssh_exec **x, struct gg_buf *early,
		 char **cause);

/*
 * The error for a helper command (what: "the upload", ...) that exited with status:
 * GG_EXIT_REMOTE, with the last line of its stderr err in *cause.
 */
int remote_helper_failed(struct remote *r, const char *what, int status, const char *err,
			 char **cause);

/*
 * Read x's stdout into out until its end (until_line: until out holds a newline), out
 * holding at most max bytes: what the VM sends is read no further.  Waits in short
 * slices, with keepalives, and stops on ^C or SIGTERM and at r->deadline.  0;
 * GG_EXIT_SSH when the link broke; GG_EXIT_REMOTE when more than max came (what
 * names it in *cause); GG_EXIT_INTERRUPTED.  The one loop that reads a command's
 * answer: every reader of the VM's output goes through it or through remote_follow.
 */
int remote_read(struct remote *r, struct ssh_exec *x, struct gg_buf *out, size_t max,
		int until_line, const char *what, char **cause);

/*
 * Run a shell command (not the helper) with stdin in (may be NULL), stdout into out,
 * at most max bytes, and its stderr into err (either may be NULL; stderr is capped by
 * ssh.c).  0 with *status set, or as remote_read.
 */
int remote_run(struct remote *r, const char *command, const void *in, size_t in_len,
	       size_t max, struct gg_buf *out, struct gg_buf *err, int *status, char **cause);

/* The most bytes the CLI reads of `status` and `probe` answers, and of the token file. */
#define REMOTE_ANSWER_MAX (1024 * 1024)
#define REMOTE_TOKEN_MAX 72

/*
 * Run `helper ARGS` with stdin in (may be NULL) and its stdout into out, at most max
 * bytes (remote_read).  0 when the helper exited 0; otherwise an exit code
 * (GG_EXIT_REMOTE for a refusal, with the helper's own error line) with *cause set.
 */
int remote_helper(struct remote *r, const char *args, const void *in, size_t in_len,
		  size_t max, struct gg_buf *out, char **cause);

/* How a followed stream ended. */
enum follow_end {
	FOLLOW_DONE,     /* "done" */
	FOLLOW_FAILED,   /* "failed" */
	FOLLOW_END,      /* end of the log (--no-wait) */
};

/*
 * Events with seq <= r->floor are dropped (set it before: 0 for a new plan, the
 * last seen seq for reattach, SINCE-1 for logs).
 * Run the streaming helper command `args` (apply ..., follow ..., resume ..., ensure
 * ...), render its events and keep r->seen.  When the stream stops early (a dropped
 * link: reconnect first), go on with `AGAIN --from NEXT` ("resume", "follow" or
 * "follow --no-wait") until the plan ends or the deadline (0: none).
 * Returns 0 (plan done, or the end of the log), GG_EXIT_STEP (the plan failed; *cause
 * names the step), GG_EXIT_INTERRUPTED (^C or deadline; *cause says how to reattach),
 * or another exit code.
 */
int remote_follow(struct remote *r, const char *args, const char *again,
		  double deadline, char **cause);

/*
 * The Jupyter token kept on the VM, malloc'd; or NULL, with *why saying why in a few
 * words (none yet, or sudo refused a user other than root).
 */
char *remote_read_token(struct remote *r, const char **why);

#endif
