/*
 * clock.c: the helper's one reading of the wall clock, and its test seam (clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* The seconds in the offset file; 0 when there is none or it does not parse. */
static long long seam_offset(void)
{
	const char *path = getenv(GG_ENV_CLOCK_OFFSET_FILE);
	char text[32], *end;
	long long offset;
	ssize_t n;
	int fd;

	if (path == NULL || path[0] == '\0')
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	errno = 0;
	offset = strtoll(text, &end, 10);
	if (errno != 0 || end == text || (*end != '\0' && *end != '\n'))
		return 0;
	return offset;
}

double gg_clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gg_clock_wall(struct timespec *now)
{
	clock_gettime(CLOCK_REALTIME, now);
	now->tv_sec += (time_t)seam_offset();
}
