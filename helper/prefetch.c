/*
 * prefetch.c: a reader thread and a ring of buffers (see prefetch.h).
 *
 * The reader fills one slot at a time and hands it over when it is full, at the end
 * of the stream, or as soon as the consumer waits for data: so slots are large while
 * the consumer is busy (few hand-overs), and the consumer never waits for a slot to
 * fill while bytes sit in it.  A consumer that starts waiting while the reader sits
 * in poll with a part-filled slot kicks it through an eventfd polled beside fd; the
 * same kick stops it (not pthread_cancel, whose unwinding needs libgcc_s at run time:
 * the helper is static).
 */
#include "prefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error.h"
#include "protocol.h"

/* What an unprivileged process may ask for (fs.pipe-max-size's default). */
#define PIPE_SIZE (1024 * 1024)

struct gg_prefetch {
	int fd;
	int kickfd;                     /* eventfd: wakes the reader (stop, or hand over) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled;          /* signalled when a slot is handed over or at the end */
	pthread_cond_t emptied;         /* signalled when the consumer gives a slot back */
	unsigned char *slots[GG_PREFETCH_SLOTS];  /* allocated as first needed */
	size_t len[GG_PREFETCH_SLOTS];
	/* Slots handed over (head) and given back (tail) so far; slot n is n % SLOTS. */
	uint64_t head, tail;
	size_t filling;                 /* bytes in the slot the reader is filling */
	int held;                       /* the consumer holds slot tail */
	int waiting;                    /* the consumer waits in gg_prefetch_next */
	int done, err;                  /* the reader met the end (err: read's errno, or 0) */
	int stop;
};

/* Wait until fd is readable (1) or the consumer kicks the reader (0). */
static int wait_readable(struct gg_prefetch *pf)
{
	struct pollfd p[2] = { { pf->fd, POLLIN, 0 }, { pf->kickfd, POLLIN, 0 } };
	uint64_t count;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;       /* let read report it */
		}
		if (p[1].revents != 0) {
			while (read(pf->kickfd, &count, sizeof count) < 0 && errno == EINTR)
				;
			return 0;
		}
		if (p[0].revents != 0)
			return 1;
	}
}

/* Hand the slot being filled over (with fill bytes); call with the lock held. */
static void hand_over(struct gg_prefetch *pf, size_t s, size_t fill)
{
	if (fill > 0) {
		pf->len[s] = fill;
		pf->head++;
	}
	pf->filling = 0;
	pthread_cond_broadcast(&pf->filled);
}

/* Fill slot s; 1 when the reader goes on, 0 when it ends (end of file, error, stop). */
static int fill_slot(struct gg_prefetch *pf, size_t s)
{
	unsigned char *slot;
	size_t fill = 0;
	ssize_t n;

	/* A small upload (a changed script) never needs more than the first slot. */
	if (pf->slots[s] == NULL && (pf->slots[s] = malloc(GG_PREFETCH_SLOT)) == NULL) {
		pthread_mutex_lock(&pf->lock);
		pf->done = 1;
		pf->err = ENOMEM;
		hand_over(pf, s, 0);
		pthread_mutex_unlock(&pf->lock);
		return 0;
	}
	slot = pf->slots[s];

	for (;;) {
		if (!wait_readable(pf)) {
			pthread_mutex_lock(&pf->lock);
			if (pf->stop) {
				pf->done = 1;
				hand_over(pf, s, 0);
				pthread_mutex_unlock(&pf->lock);
				return 0;
			}
			if (pf->waiting && fill > 0) {
				hand_over(pf, s, fill);
				pthread_mutex_unlock(&pf->lock);
				return 1;
			}
			pthread_mutex_unlock(&pf->lock);
			continue;
		}
		n = read(pf->fd, slot + fill, GG_PREFETCH_SLOT - fill);
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&pf->lock);
		if (n > 0)
			fill += (size_t)n;
		if (n > 0 && fill < GG_PREFETCH_SLOT && !pf->waiting) {
			pf->filling = fill;
			pthread_mutex_unlock(&pf->lock);
			continue;
		}
		if (n <= 0) {
			pf->done = 1;
			pf->err = n < 0 ? errno : 0;
		}
		hand_over(pf, s, fill);
		pthread_mutex_unlock(&pf->lock);
		return n > 0;
	}
}

/* Wake the reader from its poll; call with the lock held. */
static void kick(struct gg_prefetch *pf)
{
	uint64_t one = 1;

	while (write(pf->kickfd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

static void *reader(void *arg)
{
	struct gg_prefetch *pf = arg;
	size_t s;

	for (;;) {
		pthread_mutex_lock(&pf->lock);
		while (!pf->stop && pf->head - pf->tail >= GG_PREFETCH_SLOTS)
			pthread_cond_wait(&pf->emptied, &pf->lock);
		if (pf->stop) {
			pthread_mutex_unlock(&pf->lock);
			return NULL;
		}
		s = (size_t)(pf->head % GG_PREFETCH_SLOTS);
		pthread_mutex_unlock(&pf->lock);
		if (!fill_slot(pf, s))
			return NULL;
	}
}

int gg_prefetch_start(int fd, struct gg_prefetch **out, char **cause)
{
	struct gg_prefetch *pf;
	int e;

	*out = NULL;
	pf = calloc(1, sizeof *pf);
	if (pf == NULL)
		return gg_fail(cause, GG_HELPER_SYSTEM, "out of memory");
	pf->fd = fd;
	pf->kickfd = eventfd(0, EFD_CLOEXEC);
	if (pf->kickfd < 0) {
		e = errno;
		free(pf);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, e, "cannot create an eventfd");
	}
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->filled, NULL);
	pthread_cond_init(&pf->emptied, NULL);
	/*
	 * A bigger pipe lets sshd hand over more per write and keeps more of the stream
	 * in flight.  Not a pipe, or a smaller limit: the default size does too.
	 */
	(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
	if ((e = pthread_create(&pf->thread, NULL, reader, pf)) != 0) {
		close(pf->kickfd);
		pthread_mutex_destroy(&pf->lock);
		pthread_cond_destroy(&pf->filled);
		pthread_cond_destroy(&pf->emptied);
		free(pf);
		return gg_fail_errno(cause, GG_HELPER_SYSTEM, e, "cannot start the reader thread");
	}
	*out = pf;
	return 0;
}

ssize_t gg_prefetch_next(struct gg_prefetch *pf, const void **data)
{
	ssize_t n;

	pthread_mutex_lock(&pf->lock);
	if (pf->held) {
		pf->held = 0;
		pf->tail++;
		pthread_cond_signal(&pf->emptied);
	}
	pf->waiting = 1;
	/* Nothing whole yet, but bytes in the reader's slot: have them handed over now. */
	if (pf->head == pf->tail && pf->filling > 0)
		kick(pf);
	while (pf->head == pf->tail && !pf->done)
		pthread_cond_wait(&pf->filled, &pf->lock);
	pf->waiting = 0;
	if (pf->head != pf->tail) {
		size_t s = (size_t)(pf->tail % GG_PREFETCH_SLOTS);

		pf->held = 1;
		*data = pf->slots[s];
		n = (ssize_t)pf->len[s];
	} else if (pf->err != 0) {
		errno = pf->err;
		n = -1;
	} else {
		n = 0;
	}
	pthread_mutex_unlock(&pf->lock);
	return n;
}

void gg_prefetch_stop(struct gg_prefetch *pf)
{
	size_t i;

	if (pf == NULL)
		return;
	pthread_mutex_lock(&pf->lock);
	pf->stop = 1;
	pthread_cond_broadcast(&pf->emptied);
	kick(pf);
	pthread_mutex_unlock(&pf->lock);
	pthread_join(pf->thread, NULL);
	close(pf->kickfd);
	pthread_mutex_destroy(&pf->lock);
	pthread_cond_destroy(&pf->filled);
	pthread_cond_destroy(&pf->emptied);
	for (i = 0; i < GG_PREFETCH_SLOTS; i++)
		free(pf->slots[i]);
	free(pf);
}
