/*
 * cmd-ssh.c: `gcloud-gpu ssh TARGET [-- COMMAND...]`: a shell on the target, or one
 * command, as `gcloud compute ssh` gives it, through the same resolution, keys and
 * strict host key checks as push (ssh.h ssh_conn_session).  The remote command's
 * exit status becomes this one's, as with ssh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "opts.h"
#include "ssh.h"
#include "target.h"

const char cli_help_ssh[] =
	"usage: gcloud-gpu ssh (VM | --ssh USER@HOST[:PORT]) [options] [-- COMMAND...]\n\n"
	"Open a shell on the target, or run COMMAND there, with the keys and the strict\n"
	"host key checks push uses.  With a terminal the shell gets one (a pty); the exit\n"
	"status is the remote command's (255 when the link broke before it ended).\n\n"
	"Example:\n"
	"  gcloud-gpu ssh my-vm -- nvidia-smi\n"
	OPT_TARGET_HELP;

static const struct opt_spec ssh_options[] = {
	OPT_TARGET_SPECS,
	{ NULL, 0, 0, 0 },
};

int cmd_ssh(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct ssh_conn *c = NULL;
	struct gg_buf command = GG_BUF_INIT;
	struct opt_parser p;
	const char *arg;
	enum opt_result res;
	int id, rc, status = 255;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, ssh_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		/* After "--" (or past the target) every word is the remote command's. */
		if (res == OPT_ARGUMENT && (p.only_arguments || ta.vm != NULL || ta.ssh != NULL)) {
			if (command.len > 0)
				gg_buf_addch(&command, ' ');
			gg_buf_addstr(&command, arg);
			continue;
		}
		if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		goto out;
	if ((rc = ssh_conn_open(&t.ssh, &c, cause)) != 0)
		goto out;
	cli_debug(1, "running %s on %s", command.len > 0 ? command.data : "a shell", t.name);
	if ((rc = ssh_conn_session(c, command.len > 0 ? command.data : NULL, &status, cause)) != 0)
		goto out;
	rc = status;
out:
	ssh_conn_close(c);
	target_release(&t);
	gg_buf_release(&command);
	return rc;
}
