/*
 * test-prefetch.c: the reader thread hands over every byte in order whatever the
 * writer's pace, reports the end and read errors, and stops at once when told to,
 * even while blocked on a pipe nobody writes to.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "prefetch.h"

/* Byte i of the test stream. */
static unsigned char pattern(uint64_t i)
{
	return (unsigned char)(i * 31 + (i >> 13));
}

struct writer {
	int fd;
	uint64_t total;
	size_t chunk;           /* write size; 0: vary it */
	int pause_every;        /* sleep a little every this many writes (0: never) */
};

static void *write_stream(void *arg)
{
	struct writer *w = arg;
	unsigned char *buf = malloc(3 * GG_PREFETCH_SLOT);
	uint64_t done = 0;
	int writes = 0;

	while (done < w->total) {
		size_t n = w->chunk != 0 ? w->chunk : (size_t)(1 + (done * 7919) % (3 * GG_PREFETCH_SLOT - 1));
		size_t i;

		if (n > w->total - done)
			n = (size_t)(w->total - done);
		for (i = 0; i < n; i++)
			buf[i] = pattern(done + i);
		if (write(w->fd, buf, n) != (ssize_t)n)
			break;
		done += n;
		if (w->pause_every != 0 && ++writes % w->pause_every == 0) {
			struct timespec t = { 0, 2 * 1000 * 1000 };

			nanosleep(&t, NULL);
		}
	}
	close(w->fd);
	free(buf);
	return NULL;
}

/* Stream total bytes through a pipe and the prefetcher; check every byte. */
static void stream_through(uint64_t total, size_t chunk, int pause_every, int slow_consumer)
{
	struct writer w = { -1, total, chunk, pause_every };
	struct gg_prefetch *pf;
	const void *data;
	pthread_t t;
	uint64_t got = 0;
	char *cause = NULL;
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	w.fd = fds[1];
	assert_int_equal(gg_prefetch_start(fds[0], &pf, &cause), 0);
	assert_int_equal(pthread_create(&t, NULL, write_stream, &w), 0);
	while ((n = gg_prefetch_next(pf, &data)) > 0) {
		const unsigned char *p = data;
		ssize_t i;

		assert_true((size_t)n <= GG_PREFETCH_SLOT);
		for (i = 0; i < n; i++)
			if (p[i] != pattern(got + (uint64_t)i))
				fail_msg("byte %llu differs", (unsigned long long)(got + (uint64_t)i));
		got += (uint64_t)n;
		if (slow_consumer && got % 5 == 0) {
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	assert_int_equal(n, 0);
	assert_int_equal(got, total);
	/* After the end, the end again. */
	assert_int_equal(gg_prefetch_next(pf, &data), 0);
	gg_prefetch_stop(pf);
	pthread_join(t, NULL);
	close(fds[0]);
}

static void test_every_byte_in_order(void **state)
{
	(void)state;
	/* More than the ring holds, in writes of every size, fast and paced. */
	stream_through((uint64_t)3 * GG_PREFETCH_SLOTS * GG_PREFETCH_SLOT + 12345, 0, 0, 0);
	stream_through(5 * GG_PREFETCH_SLOT + 1, 4096, 16, 0);
	stream_through(2 * GG_PREFETCH_SLOT, 65536, 0, 1);
	stream_through(1, 1, 0, 0);
	stream_through(0, 1, 0, 0);
}

static void test_read_error(void **state)
{
	struct gg_prefetch *pf;
	const void *data;
	char *cause = NULL;
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	(void)state;
	/* A directory polls readable and fails read(2) with EISDIR, passed on as is. */
	assert_true(fd >= 0);
	assert_int_equal(gg_prefetch_start(fd, &pf, &cause), 0);
	errno = 0;
	assert_int_equal(gg_prefetch_next(pf, &data), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(gg_prefetch_next(pf, &data), -1);
	gg_prefetch_stop(pf);
	close(fd);
}

static void test_stop_while_blocked(void **state)
{
	struct gg_prefetch *pf;
	const void *data;
	char *cause = NULL, chunk[1000];
	int fds[2];

	(void)state;
	/* Nothing written yet: the reader waits in poll; stop must not hang. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(gg_prefetch_start(fds[0], &pf, &cause), 0);
	gg_prefetch_stop(pf);

	/* Stopped mid-stream, with a slot held and the writer still open. */
	memset(chunk, 'x', sizeof chunk);
	assert_int_equal(gg_prefetch_start(fds[0], &pf, &cause), 0);
	assert_int_equal(write(fds[1], chunk, sizeof chunk), (ssize_t)sizeof chunk);
	assert_true(gg_prefetch_next(pf, &data) > 0);
	assert_int_equal(((const char *)data)[0], 'x');
	gg_prefetch_stop(pf);
	gg_prefetch_stop(NULL);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_in_order),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_stop_while_blocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
