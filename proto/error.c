/*
 * error.c: building the one-line error messages described in error.h.
 */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *format_message(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *format_message(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

/*
 * The length of the valid UTF-8 sequence at p (1..4), or 0 when p starts none:
 * a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, or cut
 * short by the end of the string.
 */
static int utf8_sequence(const unsigned char *p, size_t avail)
{
	int len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if ((size_t)len > avail)
		return 0;
	for (i = 1; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/*
 * Messages quote untrusted input (a path from a manifest, an event type from a VM)
 * and end up on a terminal: replace control characters, C0 and DEL and the C1 range
 * (U+0080..U+009F, where U+009B acts as CSI on some terminals) with '?', so that a
 * cause stays one line and cannot carry an escape sequence.  C1 comes both UTF-8
 * encoded and as raw 8-bit bytes (a terminal in an 8-bit locale reads a lone 0x9b
 * as CSI): every byte that is not part of a valid UTF-8 sequence becomes '?' too, so
 * what is left is valid UTF-8 with no control character.
 */
void gg_printable(char *s, int keep_tabs)
{
	unsigned char *p = (unsigned char *)s, *out = p, *end = p + strlen(s);
	int len;

	while (*p != '\0') {
		if (*p < 0x80) {
			*out++ = (*p < 0x20 && !(keep_tabs && *p == '\t')) || *p == 0x7f ? '?' : *p;
			p++;
			continue;
		}
		len = utf8_sequence(p, (size_t)(end - p));
		if (len == 0 || (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)) {
			*out++ = '?';
			p += len == 0 ? 1 : 2;
			continue;
		}
		memmove(out, p, (size_t)len);
		out += len;
		p += len;
	}
	*out = '\0';
}

void gg_text_repair(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s, *end = p + len;
	int n;

	while (p < end) {
		if (*p == '\0') {
			*p++ = '?';
		} else if (*p < 0x80) {
			p++;
		} else if ((n = utf8_sequence(p, (size_t)(end - p))) > 0) {
			p += n;
		} else {
			*p++ = '?';
		}
	}
}

static void replace_cause(char **cause, char *message)
{
	if (message != NULL)
		gg_printable(message, 0);
	if (cause == NULL) {
		free(message);
		return;
	}
	free(*cause);
	*cause = message != NULL ? message : strdup("out of memory");
}

int gg_fail(char **cause, int code, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return code;
	va_start(ap, fmt);
	replace_cause(cause, format_message(fmt, ap));
	va_end(ap);
	return code;
}

int gg_fail_errno(char **cause, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *head, *message = NULL;

	if (cause == NULL)
		return code;
	va_start(ap, fmt);
	head = format_message(fmt, ap);
	va_end(ap);
	/* A full disk is the one system error a user can act on: say what to do. */
	if (head != NULL && asprintf(&message, "%s: %s%s", head, strerror(errnum),
				     errnum == ENOSPC || errnum == EDQUOT ?
				     " (the disk is full: free some space there and try again)" :
				     "") < 0)
		message = NULL;
	free(head);
	replace_cause(cause, message);
	return code;
}

int gg_fail_wrap(char **cause, int code, const char *fmt, ...)
{
	va_list ap;
	char *head, *message = NULL;

	if (cause == NULL)
		return code;
	va_start(ap, fmt);
	head = format_message(fmt, ap);
	va_end(ap);
	if (head != NULL &&
	    asprintf(&message, "%s: %s", head, *cause != NULL ? *cause : "unknown error") < 0)
		message = NULL;
	free(head);
	replace_cause(cause, message);
	return code;
}
