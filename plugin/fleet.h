/*
 * fleet.h: one command over many targets at once (docs/ARCHITECTURE.md, "A class of
 * VMs").
 *
 * `push`, `status`, `reattach`, `start`, `stop` and `delete` accept several targets:
 * several VM names, several `--ssh USER@HOST[:PORT]`, or `--filter EXPR` (Compute
 * Engine's filter syntax, e.g. 'labels.class=ml', through instances.list or
 * aggregatedList).  The fleet driver runs one child process per target, each the
 * single-target command exactly as the user would type it (so each has its own
 * reconnects, reboots and resume), at most --parallel N (default 8) at once.  It
 * shows one line per target on a terminal, plain "TARGET: ..." lines otherwise, or,
 * with --json, every line of every child as a JSON object whose first key is
 * "target"; then a table of results.  The exit code is the worst of the children's
 * (fleet_worst), and the summary names each target that failed and why.
 *
 * A push over many targets packs the payload's manifest (every file hashed) once in
 * the parent; the children read it from the file named by FLEET_ENV_MANIFEST instead
 * of walking and hashing the payload again (fleet_manifest).
 *
 * The caller's steps: cli.c (after it took -h/--help and -v out) asks fleet_wanted for
 * a command that the fleet knows, and hands the command line to fleet_main when it
 * says yes.  The commands' help texts end with FLEET_HELP.
 */
#ifndef GG_FLEET_H
#define GG_FLEET_H

#include <stdint.h>

#include "manifest.h"
#include "pack.h"

/* The parent's manifest of the payload, for the children of a fleet push. */
#define FLEET_ENV_MANIFEST "GCLOUD_GPU_FLEET_MANIFEST"

/* The help text of the many-target forms, for the fleet commands' --help. */
#define FLEET_HELP                                                                       \
	"\nMany targets (one process each, the worst exit code, a table at the end):\n"     \
	"  VM VM...  or  --ssh T --ssh T...  or  --filter EXPR\n"                        \
	"                             several VMs; EXPR in Compute Engine's filter syntax,\n" \
	"                             e.g. labels.class=ml (only VMs gcloud-gpu created)\n" \
	"  --parallel N               at most N at once (default 8)\n"

/* At most this many children at once unless --parallel says otherwise. */
#define FLEET_DEFAULT_PARALLEL 8

/*
 * 1 when command is one the fleet runs and its arguments argv (argv[0] as typed) name
 * more than one target, or --filter or --parallel; else 0 (the command runs as it is,
 * and reports its own usage errors).
 */
int fleet_wanted(const char *command, int argc, char **argv);

/*
 * Run command on every target argv names, as fleet.h says.  Returns the worst exit
 * code of the children (0 when all succeeded), or GG_EXIT_USAGE / GG_EXIT_API /
 * GG_EXIT_ERROR with *cause set when the targets cannot be worked out.  The summary of
 * failed targets is printed here; *cause then holds one line that counts them.
 */
int fleet_main(const char *command, int argc, char **argv, char **cause);

/*
 * The worse of two exit codes (cli.h): any failure is worse than success, and
 * GG_EXIT_INTERRUPTED (the work goes on, `reattach` resumes) is the mildest failure;
 * among the others the higher code is worse.
 */
int fleet_worst(int a, int b);

/*
 * The payload's manifest for push: read from $FLEET_ENV_MANIFEST when a fleet parent
 * made it (stats then count its files and bytes; hashed is 0), else pack_manifest(dir).
 * 0, or GG_EXIT_ERROR with *cause set.
 */
int fleet_manifest(const char *dir, struct gg_manifest *m, struct pack_stats *stats,
		   char **cause);

/*
 * In a fleet push's child (FLEET_ENV_MANIFEST set), tell the parent how far the upload
 * is: a stderr line "uploading DONE of TOTAL bytes", at most twice a second and at the
 * end, which the parent shows as the target's percentage.  Nothing otherwise.
 */
void fleet_upload_progress(uint64_t done, uint64_t total);

#endif
