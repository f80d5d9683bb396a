/*
 * follow.c: the event stream of follow.h, by polling the log (100 ms) and the lock.
 */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "event.h"
#include "fsutil.h"
#include "journal.h"
#include "protocol.h"

#define POLL_MS 100

struct follower {
	struct helper_context *ctx;
	FILE *out;
	long long from;
	long long plan_seq;  /* seq of the current plan's `plan` event */
	off_t offset;        /* just after the last whole line read */
	int ended;           /* 0 running, 1 done, 2 failed */
	int no_wait;         /* to the log's end: what came after the plan's end too */
};

/*
 * Send every whole line after the offset; stops at the current plan's end, unless
 * no_wait: then the idle stop's decisions logged after it are sent too.
 */
static int read_new(struct follower *f, int fd, char **cause)
{
	static char chunk[GG_EVENT_MAX_LINE * 4];
	struct gg_event ev;
	ssize_t n;
	size_t start, end;

	for (;;) {
		n = pread(fd, chunk, sizeof chunk, f->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot read the event log");
		if (n == 0)
			return 0;
		for (start = 0;; start = end + 1) {
			char *nl = memchr(chunk + start, '\n', (size_t)n - start);

			if (nl == NULL)
				break;
			end = (size_t)(nl - chunk);
			f->offset += (off_t)(end + 1 - start);
			if (gg_event_parse(chunk + start, end - start, &ev, NULL) != 0)
				continue; /* a damaged line: never sent */
			if (ev.type == GG_EVENT_PLAN && ev.seq > f->plan_seq) {
				f->plan_seq = ev.seq;
				f->ended = 0;
			}
			if (ev.seq >= f->from) {
				if (fwrite(chunk + start, 1, end + 1 - start, f->out) != end + 1 - start ||
				    fflush(f->out) != 0) {
					gg_event_release(&ev);
					return gg_fail(cause, GG_HELPER_DETACHED, "the client went away");
				}
			}
			if ((ev.type == GG_EVENT_DONE || ev.type == GG_EVENT_FAILED) &&
			    ev.seq > f->plan_seq && ev.seq >= f->from) {
				f->ended = ev.type == GG_EVENT_DONE ? 1 : 2;
				gg_event_release(&ev);
				if (!f->no_wait)
					return 0;
				continue;
			}
			gg_event_release(&ev);
		}
		if (start == 0 && (size_t)n == sizeof chunk)
			return gg_fail(cause, GG_HELPER_SYSTEM, "the event log has a line that is too long");
		if ((size_t)n < sizeof chunk)
			return 0;
	}
}

static int open_log(struct follower *f)
{
	char *path = gg_path_join(f->ctx->root, GG_FILE_EVENTS);
	int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	free(path);
	return fd;
}

static int send_hello(struct follower *f, char **cause)
{
	struct gg_buf line = GG_BUF_INIT;
	char boot_id[64];
	json_t *hello;
	int r = 0;

	gg_read_boot_id(f->ctx->boot_id_file, boot_id);
	hello = gg_hello_new(boot_id, gg_journal_last_seq(f->ctx->root));
	if (hello == NULL || gg_event_format(hello, &line) != 0)
		r = gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	else if (fwrite(line.data, 1, line.len, f->out) != line.len || fflush(f->out) != 0)
		r = gg_fail(cause, GG_HELPER_DETACHED, "the client went away");
	json_decref(hello);
	gg_buf_release(&line);
	return r;
}

int gg_follow(struct helper_context *ctx, long long from, int no_wait, FILE *out, char **cause)
{
	struct follower f = { ctx, out, from, 0, 0, 0, no_wait };
	struct timespec pause = { 0, POLL_MS * 1000 * 1000 };
	json_t *state = NULL;
	const char *s;
	unsigned long long free_bytes = 0;
	int fd = -1, r, idle_ms = 0, last_pass = 0;

	if ((r = send_hello(&f, cause)) != 0)
		return r;
	if (gg_state_load(ctx->root, &state, NULL) == 0 && state != NULL)
		f.plan_seq = json_integer_value(json_object_get(state, "plan_seq"));
	json_decref(state);
	state = NULL;
	for (;;) {
		if (fd < 0)
			fd = open_log(&f);
		if (fd >= 0 && (r = read_new(&f, fd, cause)) != 0)
			goto out;
		if (f.ended != 0) {
			r = f.ended == 1 ? GG_HELPER_OK : GG_HELPER_FAILED;
			goto out;
		}
		if (last_pass != 0) {
			r = last_pass;
			goto out;
		}
		if (no_wait) {
			r = GG_HELPER_OK;
			goto out;
		}
		if (gg_lock_held(ctx->root)) {
			idle_ms = 0;
		} else {
			/* No runner: decide from the state, after one more pass over the log. */
			json_decref(state);
			state = NULL;
			gg_state_load(ctx->root, &state, NULL);
			s = json_string_value(json_object_get(state, "state"));
			if (s == NULL || strcmp(s, "done") == 0 || strcmp(s, "idle") == 0)
				last_pass = -1;
			else if (strcmp(s, "failed") == 0)
				last_pass = GG_HELPER_FAILED;
			else if (strcmp(s, "rebooting") == 0)
				last_pass = GG_HELPER_DETACHED;
			else if (idle_ms >= GG_FOLLOW_GRACE_MS)
				last_pass = gg_disk_full(ctx->root, &free_bytes) ? GG_HELPER_SYSTEM
										 : GG_HELPER_DETACHED;
			idle_ms += POLL_MS;
			if (last_pass != 0)
				continue;
		}
		nanosleep(&pause, NULL);
	}
out:
	if (r == -1)
		r = GG_HELPER_OK;
	if (r == GG_HELPER_SYSTEM && last_pass == GG_HELPER_SYSTEM &&
	    (cause == NULL || *cause == NULL))
		gg_fail(cause, r, "the plan stopped: the VM's disk is full (%llu KiB free in '%s'): "
			"free some space there, then reattach", free_bytes / 1024, ctx->root);
	if (r == GG_HELPER_DETACHED && (cause == NULL || *cause == NULL)) {
		s = json_string_value(json_object_get(state, "state"));
		gg_fail(cause, r, s != NULL && strcmp(s, "rebooting") == 0 ?
				  "the VM is rebooting; the plan goes on after the boot" :
				  "the plan is not running (no runner); start it again with 'resume'");
	}
	json_decref(state);
	if (fd >= 0)
		close(fd);
	return r;
}

int gg_follow_options(int argc, char **argv, int allow_no_wait, long long *from, int *no_wait,
		      char **cause)
{
	char *end;
	int i;

	*no_wait = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			errno = 0;
			*from = strtoll(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || *from < 0)
				return gg_fail(cause, GG_HELPER_USAGE, "'--from' needs a sequence number, not '%s'",
					       argv[i]);
		} else if (allow_no_wait && strcmp(argv[i], "--no-wait") == 0) {
			*no_wait = 1;
		} else {
			return gg_fail(cause, GG_HELPER_USAGE, "'%s' takes [--from SEQ]%s, not '%s'",
				       argv[0], allow_no_wait ? " [--no-wait]" : "", argv[i]);
		}
	}
	return 0;
}

int gg_print_json(json_t *obj, char **cause)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int r = 0;

	if (text == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot write the answer");
	free(text);
	return r;
}
