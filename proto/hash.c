/*
 * hash.c: sha256 helpers over nettle (see hash.h).
 */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* Large reads keep the hash loop on the CPU rather than in syscalls. */
#define HASH_READ_SIZE (256 * 1024)

void gg_sha256_init(struct gg_sha256 *h)
{
	sha256_init(&h->ctx);
}

void gg_sha256_update(struct gg_sha256 *h, const void *data, size_t len)
{
	sha256_update(&h->ctx, len, data);
}

void gg_sha256_final_hex(struct gg_sha256 *h, char hex[GG_SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t digest[SHA256_DIGEST_SIZE];
	size_t i;

	sha256_digest(&h->ctx, sizeof digest, digest);
	for (i = 0; i < sizeof digest; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[2 * sizeof digest] = '\0';
}

void gg_sha256_hex(const void *data, size_t len, char hex[GG_SHA256_HEX_SIZE])
{
	struct gg_sha256 h;

	gg_sha256_init(&h);
	gg_sha256_update(&h, data, len);
	gg_sha256_final_hex(&h, hex);
}

int gg_sha256_file(const char *path, char hex[GG_SHA256_HEX_SIZE], uint64_t *size,
		   char **cause)
{
	struct gg_sha256 h;
	unsigned char *chunk = NULL;
	uint64_t total = 0;
	ssize_t n;
	int fd, r = -1, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		gg_fail_errno(cause, -1, saved, "cannot open '%s'", path);
		errno = saved;
		return -1;
	}
	chunk = malloc(HASH_READ_SIZE);
	if (chunk == NULL) {
		saved = ENOMEM;
		gg_fail(cause, -1, "out of memory hashing '%s'", path);
		goto out;
	}
	gg_sha256_init(&h);
	for (;;) {
		n = read(fd, chunk, HASH_READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			gg_fail_errno(cause, -1, saved, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		gg_sha256_update(&h, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	gg_sha256_final_hex(&h, hex);
	if (size != NULL)
		*size = total;
	r = 0;
	saved = 0;
out:
	free(chunk);
	close(fd);
	if (r != 0)
		errno = saved;
	return r;
}

int gg_sha256_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}
