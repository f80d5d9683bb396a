/*
 * cmd-ssh-config.c: `gcloud-gpu ssh-config NAME`: an OpenSSH config stanza for a VM.
 *
 * It resolves the VM exactly as `push` does (started if stopped, key in metadata, host
 * keys from guest attributes) and prints a Host block, so that plain ssh, scp and
 * editors reach the VM with the same strict host key checking:
 *     gcloud-gpu ssh-config my-vm >> ~/.ssh/config && ssh my-vm
 */
#include <stdio.h>

#include "cli.h"
#include "opts.h"
#include "gce.h"

const char cli_help_ssh_config[] =
	"usage: gcloud-gpu ssh-config NAME [options]\n\n"
	"Print an OpenSSH Host block for a VM (started, key in its metadata, host keys\n"
	"from its guest attributes), for plain ssh, scp and editors:\n"
	"  gcloud-gpu ssh-config my-vm >> ~/.ssh/config && ssh my-vm\n\n"
	"Options:\n"
	"  --internal-ip              the VM's VPC address (from inside the VPC)\n"
	OPT_GCE_HELP;

int cmd_ssh_config(int argc, char **argv, char **cause)
{
	struct gce_options o = GCE_OPTIONS_INIT;
	struct gce_target t;
	const char *name;
	int r;

	if ((r = gce_parse_instance_args(argc, argv, &o, &name, NULL, cause)) != 0)
		return r;
	if ((r = gce_resolve_target(name, &o, &t, cause)) != 0)
		return r;
	printf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n"
	       "  IdentitiesOnly yes\n", name, t.host, t.port, t.user, t.identity);
	if (t.known_hosts != NULL)
		printf("  UserKnownHostsFile %s\n  HostKeyAlias %s\n  StrictHostKeyChecking yes\n",
		       t.known_hosts, t.host_key_alias);
	gce_target_release(&t);
	return 0;
}
