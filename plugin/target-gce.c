/*
 * target-gce.c: where a Compute Engine VM name becomes an SSH target.
 *
 * This is the hook the Compute Engine integration fills (instances.get, start a
 * TERMINATED VM, natIP, ~/.ssh/google_compute_engine, host keys from guest
 * attributes into ~/.ssh/google_compute_known_hosts).  Until then a VM name is
 * refused with a pointer to --ssh.
 */
#include "cli.h"
#include "error.h"
#include "target.h"

int target_resolve_gce(const struct target_args *a, struct target *t, char **cause)
{
	(void)t;
	return gg_fail(cause, GG_EXIT_USAGE,
		       "cannot resolve the VM name '%s' yet: name an SSH host with "
		       "--ssh USER@HOST[:PORT]", a->vm);
}
