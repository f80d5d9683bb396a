/*
 * clock.h: the wall clock the helper writes into its events, and the test seam that
 * moves it.
 *
 * The helper reads the wall clock for two things: the "time" of each event, which is
 * for people (ordering and deduplication go by seq, never by time), and the idle
 * check's periods (helper/idle.h), which span many short runs and compare with
 * Jupyter's own wall-clock times; a clock set back there only restarts the count.  Durations and
 * timeouts are never taken from the wall clock: the helper counts its own sleeps
 * (lock waits, follow's grace) or uses CLOCK_MONOTONIC (nvidia-smi's timeout), so a
 * clock that jumps cannot make a wait hang or end early.  The release mark
 * (release.c) compares the kernel's coarse clock with ctimes the kernel stamped from
 * that same clock, so it stays on the real clock and is not moved by the seam.
 *
 * The seam (tests only, like GCLOUD_GPU_ROOT): when GCLOUD_GPU_CLOCK_OFFSET_FILE names
 * a file, every reading adds the whole seconds written in it (signed; a missing or
 * unreadable file adds nothing).  Rewriting the file jumps the clock of a running
 * runner, as NTP or an operator setting the date would, without touching the
 * machine's clock, which the static helper cannot have faked by LD_PRELOAD.  It moves
 * the idle check's "now" the same way, so a test can let an hour pass in a second.
 */
#ifndef GG_CLOCK_H
#define GG_CLOCK_H

#include <time.h>

#define GG_ENV_CLOCK_OFFSET_FILE "GCLOUD_GPU_CLOCK_OFFSET_FILE"

/* The wall clock (CLOCK_REALTIME), plus the seam's offset when one is set. */
void gg_clock_wall(struct timespec *now);

/*
 * Seconds on CLOCK_MONOTONIC, for durations and deadlines (the CLI's upload rate,
 * its --timeout and reconnect deadlines, keepalives): a wall clock that jumps, by
 * NTP or by hand, cannot make them end early or never.  Not moved by the seam.
 */
double gg_clock_monotonic(void);

#endif
