/*
 * journal.c: the event log, state file and lock of journal.h.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "event.h"
#include "fsutil.h"

/* How much of the log's end is read to find the last seq: many whole lines. */
#define TAIL_SIZE (4 * GG_EVENT_MAX_LINE)

static int open_lock(const char *root)
{
	char *path = gg_path_join(root, GG_FILE_LOCK);
	int fd;

	if (path == NULL) {
		errno = ENOMEM;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	return fd;
}

int gg_lock_take(const char *root, int wait_ms, int *fd, char **cause)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int lock, waited = 0;

	lock = open_lock(root);
	if (lock < 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open the lock in '%s'",
				     root);
	while (flock(lock, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int saved = errno;

			close(lock);
			return gg_fail_errno(cause, GG_HELPER_SYSTEM, saved, "cannot lock '%s'", root);
		}
		if (waited >= wait_ms) {
			close(lock);
			return gg_fail(cause, GG_HELPER_BUSY, "another runner holds the lock in '%s'",
				       root);
		}
		nanosleep(&pause, NULL);
		waited += 50;
	}
	*fd = lock;
	return 0;
}

int gg_lock_held(const char *root)
{
	int fd = open_lock(root), held;

	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd); /* releases the probe's own lock, if it got it */
	return held;
}

/* The seq of the last line of data that parses; 0 when none does. */
static long long last_seq_in(const char *data, size_t len)
{
	struct gg_event ev;
	size_t end = len, start;
	long long seq;

	while (end > 0) {
		start = end - 1;
		while (start > 0 && data[start - 1] != '\n')
			start--;
		if (gg_event_parse(data + start, end - start, &ev, NULL) == 0) {
			seq = ev.seq;
			gg_event_release(&ev);
			return seq;
		}
		end = start;
	}
	return 0;
}

/*
 * Read the log's end: cut a torn last line when fd is writable (repair), and find
 * the last seq.  *size becomes the length of the whole lines.
 */
static int scan_tail(int fd, int repair, off_t *size, long long *last_seq, char **cause)
{
	struct stat st;
	char *tail = NULL;
	off_t from;
	size_t len, whole;
	ssize_t n;

	*size = 0;
	*last_seq = 0;
	if (fstat(fd, &st) != 0)
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot stat the event log");
	if (st.st_size == 0)
		return 0;
	from = st.st_size > TAIL_SIZE ? st.st_size - TAIL_SIZE : 0;
	len = (size_t)(st.st_size - from);
	tail = malloc(len);
	if (tail == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	n = pread(fd, tail, len, from);
	if (n != (ssize_t)len) {
		free(tail);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, n < 0 ? errno : EIO,
				     "cannot read the event log");
	}
	for (whole = len; whole > 0 && tail[whole - 1] != '\n'; whole--)
		;
	*size = from + (off_t)whole;
	if (repair && *size != st.st_size && ftruncate(fd, *size) != 0) {
		free(tail);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot repair the event log");
	}
	*last_seq = last_seq_in(tail, whole);
	free(tail);
	return 0;
}

int gg_journal_open(struct gg_journal *j, const char *root, char **cause)
{
	int r;

	j->path = gg_path_join(root, GG_FILE_EVENTS);
	if (j->path == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0) {
		r = gg_fail_errno(cause, GG_HELPER_SYSTEM, errno, "cannot open '%s'", j->path);
		gg_journal_close(j);
		return r;
	}
	if ((r = scan_tail(j->fd, 1, &j->size, &j->last_seq, cause)) != 0) {
		gg_journal_close(j);
		return r;
	}
	return 0;
}

void gg_journal_close(struct gg_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	j->path = NULL;
	j->fd = -1;
}

/* The durable write after which this process dies (tests only); 0 when none. */
static long kill_at;
static long writes;

void gg_journal_kill_points(void)
{
	const char *hooks = getenv(GG_ENV_TEST_HOOKS), *at = getenv(GG_ENV_TEST_KILL_AT);

	if (hooks != NULL && strcmp(hooks, "1") == 0 && at != NULL)
		kill_at = strtol(at, NULL, 10);
}

/* One more durable write done: at the chosen one, die as a crash would. */
static void kill_point(void)
{
	if (kill_at > 0 && ++writes == kill_at) {
		fprintf(stderr, "gcloud-gpu-helper: test hook: killed after write %ld\n", writes);
		raise(SIGKILL);
	}
}

int gg_journal_emit(struct gg_journal *j, enum gg_event_type type, json_t *fields,
		    long long *seq, char **cause)
{
	struct gg_buf line = GG_BUF_INIT;
	json_t *ev;
	int r = GG_HELPER_SYSTEM;

	ev = gg_event_new(j->last_seq + 1, type);
	if (ev == NULL || (fields != NULL && json_object_update(ev, fields) != 0) ||
	    gg_event_format(ev, &line) != 0) {
		gg_fail(cause, r, "out of memory");
		goto out;
	}
	if (line.len > GG_EVENT_MAX_LINE) {
		/* Not a passing trouble: the same event will never fit (the runner fails the plan). */
		r = gg_fail(cause, GG_HELPER_REFUSED, "a '%s' event of %zu bytes is too long",
			    gg_event_type_name(type), line.len);
		goto out;
	}
	if (gg_write_all(j->fd, line.data, line.len) != 0 || fdatasync(j->fd) != 0) {
		int saved = errno;

		/* Never leave half a line: cut back to the last whole event. */
		if (ftruncate(j->fd, j->size) != 0) {
			/* the next open repairs it */
		}
		gg_fail_errno(cause, r, saved, "cannot write '%s'", j->path);
		goto out;
	}
	j->size += (off_t)line.len;
	j->last_seq++;
	if (seq != NULL)
		*seq = j->last_seq;
	kill_point();
	r = 0;
out:
	json_decref(ev);
	json_decref(fields);
	gg_buf_release(&line);
	return r;
}

long long gg_journal_last_seq(const char *root)
{
	char *path = gg_path_join(root, GG_FILE_EVENTS);
	long long seq = 0;
	off_t size;
	int fd = -1;

	if (path != NULL)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		scan_tail(fd, 0, &size, &seq, NULL);
		close(fd);
	}
	free(path);
	return seq;
}

int gg_state_load(const char *root, json_t **state, char **cause)
{
	struct gg_buf text = GG_BUF_INIT;
	char *path = gg_path_join(root, GG_FILE_STATE);
	json_error_t jerr;
	int r = 0;

	*state = NULL;
	if (path == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	if (access(path, F_OK) != 0)
		goto out;
	if ((r = gg_read_file(path, 16 * 1024 * 1024, &text, cause)) != 0)
		goto out;
	*state = json_loadb(text.data, text.len, 0, &jerr);
	if (*state == NULL || !json_is_object(*state)) {
		json_decref(*state);
		*state = NULL;
		r = gg_fail(cause, GG_HELPER_SYSTEM, "'%s' is damaged: %s", path, jerr.text);
	}
out:
	gg_buf_release(&text);
	free(path);
	return r;
}

int gg_state_save(const char *root, json_t *state, char **cause)
{
	char *path = gg_path_join(root, GG_FILE_STATE), *text = NULL;
	int r;

	if (path == NULL || (text = json_dumps(state, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		free(path);
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	}
	r = gg_write_file_atomic(path, text, strlen(text), 0600, cause);
	free(text);
	free(path);
	if (r == 0)
		kill_point();
	return r;
}

json_t *gg_hello_new(const char *boot_id, long long last_seq)
{
	json_t *ev = gg_event_new(0, GG_EVENT_HELLO);

	if (ev == NULL)
		return NULL;
	if (json_object_set_new(ev, "proto", json_integer(GG_PROTOCOL_VERSION)) != 0 ||
	    json_object_set_new(ev, "version", json_string(GG_VERSION)) != 0 ||
	    json_object_set_new(ev, "boot_id", json_string(boot_id)) != 0 ||
	    json_object_set_new(ev, "last_seq", json_integer(last_seq)) != 0) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}
