/*
 * opts.c: the option parser of opts.h.
 */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"

void opt_init(struct opt_parser *p, int argc, char **argv)
{
	memset(p, 0, sizeof *p);
	p->argc = argc;
	p->argv = argv;
	p->index = 1;
}

static enum opt_result take_value(struct opt_parser *p, const struct opt_spec *o,
				  const char *inline_value, const char **arg, char **cause)
{
	if (!o->takes_value) {
		if (inline_value != NULL) {
			gg_fail(cause, GG_EXIT_USAGE, "option '--%s' takes no value", o->name);
			return OPT_ERROR;
		}
		*arg = NULL;
		return OPT_OPTION;
	}
	if (inline_value != NULL) {
		*arg = inline_value;
		return OPT_OPTION;
	}
	if (p->index >= p->argc) {
		gg_fail(cause, GG_EXIT_USAGE, "option '--%s' needs a value", o->name);
		return OPT_ERROR;
	}
	*arg = p->argv[p->index++];
	return OPT_OPTION;
}

enum opt_result opt_next(struct opt_parser *p, const struct opt_spec *table, int *id,
			 const char **arg, char **cause)
{
	const struct opt_spec *o;
	const char *a, *eq;
	size_t len;

	*id = 0;
	*arg = NULL;
	if (p->short_rest != NULL && *p->short_rest != '\0') {
		char c = *p->short_rest++;

		for (o = table; o->name != NULL; o++) {
			if (o->short_name != c)
				continue;
			*id = o->id;
			if (o->takes_value && *p->short_rest != '\0') {
				*arg = p->short_rest;
				p->short_rest = NULL;
				return OPT_OPTION;
			}
			return take_value(p, o, NULL, arg, cause);
		}
		gg_fail(cause, GG_EXIT_USAGE, "unknown option '-%c'", c);
		return OPT_ERROR;
	}
	p->short_rest = NULL;
	if (p->index >= p->argc)
		return OPT_END;
	a = p->argv[p->index++];
	if (p->only_arguments || a[0] != '-' || a[1] == '\0') {
		*arg = a;
		return OPT_ARGUMENT;
	}
	if (strcmp(a, "--") == 0) {
		p->only_arguments = 1;
		return opt_next(p, table, id, arg, cause);
	}
	if (a[1] != '-') {
		p->short_rest = a + 1;
		return opt_next(p, table, id, arg, cause);
	}
	a += 2;
	eq = strchr(a, '=');
	len = eq != NULL ? (size_t)(eq - a) : strlen(a);
	for (o = table; o->name != NULL; o++) {
		if (strlen(o->name) == len && strncmp(o->name, a, len) == 0) {
			*id = o->id;
			return take_value(p, o, eq != NULL ? eq + 1 : NULL, arg, cause);
		}
	}
	gg_fail(cause, GG_EXIT_USAGE, "unknown option '--%.*s'", (int)len, a);
	return OPT_ERROR;
}

int opt_number(const char *name, const char *arg, long max, long *out, char **cause)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (arg[0] == '\0' || *end != '\0' || v < 0 || v > max)
		return gg_fail(cause, GG_EXIT_USAGE, "'%s' for --%s is not a number from 0 to %ld",
			       arg, name, max);
	*out = v;
	return 0;
}

/* The seconds of a duration unit letter; 0 for anything else. */
static long unit_seconds(char c)
{
	return c == 'd' ? 86400 : c == 'h' ? 3600 : c == 'm' ? 60 : c == 's' ? 1 : 0;
}

int opt_idle_period(const char *arg, long *seconds, char **cause)
{
	const char *hooks = getenv("GCLOUD_GPU_TEST_HOOKS"), *p = arg;
	long v, unit, last = 0, total = 0;
	long min = hooks != NULL && strcmp(hooks, "1") == 0 ? 2 : OPT_IDLE_MIN_S;
	char *end;

	if (strcmp(arg, "off") == 0) {
		*seconds = 0;
		return 0;
	}
	/* Parts from the largest unit down, as gcloud writes durations: 45m, 2h, 1h30m. */
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			break;
		errno = 0;
		v = strtol(p, &end, 10);
		unit = unit_seconds(*end);
		if (errno != 0 || unit == 0 || (last != 0 && unit >= last) ||
		    v > OPT_IDLE_MAX_S / unit || (total += v * unit) > OPT_IDLE_MAX_S)
			break;
		last = unit;
		p = end + 1;
	}
	if (*p != '\0' || last == 0 || total < min)
		return gg_fail(cause, GG_EXIT_USAGE, "idle period '%s' is not 'off' or a time from "
			       "10m to 7d such as 45m, 2h or 1h30m", arg);
	*seconds = total;
	return 0;
}

int opt_target(struct target_args *a, enum opt_result res, int id, const char *arg,
	       char **cause)
{
	long n;

	if (res == OPT_ARGUMENT) {
		if (a->vm != NULL)
			return gg_fail(cause, GG_EXIT_USAGE, "unexpected argument '%s'", arg);
		a->vm = arg;
		return 0;
	}
	switch (id) {
	case OPT_SSH:
		a->ssh = arg;
		return 0;
	case OPT_SSH_PORT:
		if (opt_number("ssh-port", arg, 65535, &n, cause) != 0)
			return GG_EXIT_USAGE;
		if (n == 0)
			return gg_fail(cause, GG_EXIT_USAGE, "bad port '%s' for -p (1 to 65535)", arg);
		a->port = (int)n;
		return 0;
	case OPT_IDENTITY:
		a->identity = arg;
		return 0;
	case OPT_KNOWN_HOSTS:
		a->known_hosts = arg;
		return 0;
	case OPT_ACCEPT_NEW:
		a->accept_new_host_key = 1;
		return 0;
	case OPT_CONNECT_TIMEOUT:
		if (opt_number("connect-timeout", arg, 3600, &n, cause) != 0)
			return GG_EXIT_USAGE;
		a->connect_timeout = (int)n;
		return 0;
	case OPT_PROJECT:
		a->project = arg;
		return 0;
	case OPT_ZONE:
		a->zone = arg;
		return 0;
	case OPT_ACCESS_TOKEN_FILE:
		a->access_token_file = arg;
		return 0;
	case OPT_INTERNAL_IP:
		a->internal_ip = 1;
		return 0;
	default:
		return gg_fail(cause, GG_EXIT_USAGE, "option not handled");
	}
}

int opt_take_flag(int *argc, char **argv, const char *flag)
{
	int i, n = 0, found = 0, dashdash = 0;

	for (i = 0; i < *argc; i++) {
		if (!dashdash && strcmp(argv[i], flag) == 0) {
			found = 1;
			continue;
		}
		if (strcmp(argv[i], "--") == 0)
			dashdash = 1;
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	*argc = n;
	return found;
}
