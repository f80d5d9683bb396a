/*
 * error.h: how failures travel up.
 *
 * A function that can fail returns a non-zero code and, when the caller passed a
 * `char **cause`, sets it to one malloc'd line that says what went wrong: lower case,
 * the subject in quotes, no full stop ("cannot open 'x': No such file or directory").
 * Control characters in the message (from quoted untrusted input) become '?', so a
 * cause is always one printable line.
 * The caller either adds context and passes it up, or prints it once at the top and
 * frees it.  Nothing below main() prints errors itself.
 */
#ifndef GG_ERROR_H
#define GG_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Replace, in place, every control character of s (C0 but a tab when keep_tabs is
 * set, DEL, and the C1 range, UTF-8 encoded or as raw 8-bit bytes) and every byte
 * that is not part of valid UTF-8 with '?': text from elsewhere (a VM's step output,
 * a manifest's path) can then be printed on a terminal without moving its cursor,
 * retitling its window or otherwise driving it.  The result is valid UTF-8.
 */
void gg_printable(char *s, int keep_tabs);

/*
 * Replace, in place, every NUL byte of s[0..len) and every byte that is not part of
 * valid UTF-8 with '?', keeping the length: bytes a program wrote (a step's output)
 * then make a JSON string that every JSON reader takes (a NUL would be encoded as
 * \u0000, which the event parser refuses).  Control characters stay: they are data
 * there, and escaped by the JSON encoder.
 */
void gg_text_repair(char *s, size_t len);

/*
 * Set *cause (when cause is not NULL) to the formatted message, replacing and freeing
 * any message already there, and return code.  Out of memory leaves a fixed message.
 */
int gg_fail(char **cause, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * As gg_fail, with ": strerror(errnum)" appended; for ENOSPC and EDQUOT also what to
 * do ("free some space there and try again"), since a full disk is a cause the user
 * can remove.
 */
int gg_fail_errno(char **cause, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefix *cause with the formatted context and ": ", keeping code. */
int gg_fail_wrap(char **cause, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
