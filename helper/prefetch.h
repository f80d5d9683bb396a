/*
 * prefetch.h: read a file descriptor ahead of its consumer, in a thread of its own.
 *
 * `recv` gets the upload through sshd, which takes data from the SSH channel only as
 * fast as the helper empties its stdin pipe, and grants the client more of the
 * channel's window (2 MiB in OpenSSH) only as it does.  While the helper hashes a
 * block, or waits for a finished blob's fsync, the pipe fills, sshd stops, the
 * window closes and the client waits: every stage of the chain idles in turn.  A
 * reader thread that keeps the pipe drained into a ring of buffers turns that chain of
 * stalls into a pipeline, without copying a byte more than read(2) already does: the
 * consumer gets the very buffer the thread read into.
 *
 * Use:
 *
 *	struct gg_prefetch *pf;
 *	if (gg_prefetch_start(fd, &pf, cause) != 0) ...
 *	while ((n = gg_prefetch_next(pf, &data)) > 0)
 *		use data[0..n) until the next call
 *	gg_prefetch_stop(pf);	(any time, also before the end of the stream)
 *
 * gg_prefetch_next returns the byte count, 0 at end of file, or -1 with errno set
 * as read(2) set it.  One consumer thread; fd is not closed.
 */
#ifndef GG_PREFETCH_H
#define GG_PREFETCH_H

#include <sys/types.h>

struct gg_prefetch;

/*
 * Start reading fd ahead: a ring of up to GG_PREFETCH_SLOTS buffers of GG_PREFETCH_SLOT
 * bytes, each allocated when first needed (a small upload uses one).
 */
#define GG_PREFETCH_SLOTS 16
#define GG_PREFETCH_SLOT (1024 * 1024)
int gg_prefetch_start(int fd, struct gg_prefetch **pf, char **cause);

/*
 * The next buffer read from fd, in order, into *data; it stays valid until the next
 * call or gg_prefetch_stop.  Returns its length, 0 at end of file, -1 on a read error.
 */
ssize_t gg_prefetch_next(struct gg_prefetch *pf, const void **data);

/* Stop the reader (it may be blocked in read) and free everything; NULL is fine. */
void gg_prefetch_stop(struct gg_prefetch *pf);

#endif
