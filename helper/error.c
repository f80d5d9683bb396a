/*
 * error.c: building the one-line error messages described in error.h.
 */
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *format_message(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static void replace_cause(char **cause, char *message)
{
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
	if (head != NULL && asprintf(&message, "%s: %s", head, strerror(errnum)) < 0)
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
