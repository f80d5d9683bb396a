/*
 * units.h: the systemd units the helper installs (the boot unit of a plan that
 * reboots, the idle-stop timer and its service), written and enabled one way.
 *
 * A unit is written atomically into the unit directory (/etc/systemd/system where
 * systemd runs; GCLOUD_GPU_UNIT_DIR in tests, without systemd) and enabled the way
 * `systemctl enable` does it: a link in <wanted_by>.wants/.  Whoever installs a unit
 * that must act before the next boot tells systemd itself (gg_units_reload).
 */
#ifndef GG_UNITS_H
#define GG_UNITS_H

#include <stddef.h>

#include "buf.h"

/* Tests only: write units here even without systemd (default /etc/systemd/system). */
#define GG_ENV_UNIT_DIR "GCLOUD_GPU_UNIT_DIR"

/*
 * The unit directory (malloc'd), or NULL when there is none to write to: no systemd
 * and no GCLOUD_GPU_UNIT_DIR.
 */
char *gg_units_dir(void);

/*
 * Write unit name with text into dir and, when wanted_by is not NULL, enable it
 * there ("multi-user.target", "timers.target").  shared: two commands may write it
 * at once (gg_write_file_shared); else only the lock holder does.  0, or
 * GG_HELPER_SYSTEM with *cause.
 */
int gg_unit_install(const char *dir, const char *name, const char *text, const char *wanted_by,
		    int shared, char **cause);

/*
 * Whether s can stand in a unit file line as it is (an ExecStart= path, an
 * Environment= value): a newline would start a line of its own choosing (an
 * ExecStartPre=), a quote or backslash end or bend the quoting, and systemd expands
 * % specifiers.
 */
int gg_unit_value_safe(const char *s);

/*
 * Append "ExecStart=<self> <args>" and an Environment= line for each variable of
 * pass[0..n) that is set (the test variables the helper reads) to unit, after
 * checking with gg_unit_value_safe that none of them can make a line of its own.  0,
 * or GG_HELPER_REFUSED with *cause naming what (e.g. "the boot unit") and the value.
 */
int gg_unit_exec(struct gg_buf *unit, const char *self, const char *args,
		 const char *const pass[], size_t n, const char *what, char **cause);

/* Remove unit name and its link under wanted_by (may be NULL); missing is fine. */
void gg_unit_remove(const char *dir, const char *name, const char *wanted_by);

/*
 * Whether systemd manages this machine (and no test unit directory is set): then
 * units just written must be announced with `systemctl daemon-reload`.
 */
int gg_units_live(void);

/*
 * Run /bin/systemctl with args (NULL-terminated, after "systemctl") when
 * gg_units_live(); its exit status, 0 when not live, -1 when it cannot run.
 */
int gg_systemctl(const char *const args[]);

#endif
