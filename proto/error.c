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
 * Messages quote untrusted input (a path from a manifest, an event type from a VM)
 * and end up on a terminal: replace control characters, C0 and DEL and the UTF-8
 * encoded C1 range (U+0080..U+009F, where U+009B acts as CSI on some terminals),
 * with '?', so that a cause stays one line and cannot carry an escape sequence.
 */
void gg_printable(char *s, int keep_tabs)
{
	unsigned char *p = (unsigned char *)s, *out = p;

	for (; *p != '\0'; p++) {
		if ((*p < 0x20 && !(keep_tabs && *p == '\t')) || *p == 0x7f) {
			*out++ = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			*out++ = '?';
			p++;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
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
