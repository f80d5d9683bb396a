/*
 * cmd-tunnel.c: `gcloud-gpu tunnel TARGET [--port N]`: Jupyter listens only on the
 * VM's loopback; this forwards a local port to it over the SSH session (libssh
 * direct-tcpip) and prints the URL with the token, until ^C.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "error.h"
#include "opts.h"
#include "remote.h"
#include "ssh.h"
#include "ui.h"
#include "xmalloc.h"

const char cli_help_tunnel[] =
	"usage: gcloud-gpu tunnel (VM | --ssh USER@HOST[:PORT]) [options]\n\n"
	"Reach Jupyter on the VM: forward a local port to the VM's 127.0.0.1:8888 over\n"
	"SSH and print the URL with its token.  Runs until ^C.\n\n"
	"Options:\n"
	"  --port N                   the local port (default 8888; 0: any free one)\n"
	"  --remote-port N            the port on the VM's loopback (default 8888)\n"
	"  --json                     print the URL as one JSON object first\n"
	OPT_TARGET_HELP;

enum { OPT_PORT = OPT_COMMAND, OPT_REMOTE_PORT, OPT_JSON };

static const struct opt_spec tunnel_options[] = {
	OPT_TARGET_SPECS,
	{ "json", 0, 0, OPT_JSON },
	{ "port", 0, 1, OPT_PORT },
	{ "remote-port", 0, 1, OPT_REMOTE_PORT },
	{ NULL, 0, 0, 0 },
};

/* Listen on 127.0.0.1:*port (0: the kernel picks, *port is set). */
static int listen_local(long *port, int *out, char **cause)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0)
		return gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot make a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)*port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		int e = errno;

		close(fd);
		return gg_fail_errno(cause, GG_EXIT_ERROR, e, "cannot listen on '127.0.0.1:%ld' "
				     "(try another --port)", *port);
	}
	*port = ntohs(sa.sin_port);
	*out = fd;
	return 0;
}

int cmd_tunnel(int argc, char **argv, char **cause)
{
	struct target_args ta = { 0 };
	struct target t = { 0 };
	struct remote r = { 0 };
	struct opt_parser p;
	struct ui *ui = NULL;
	const char *arg;
	char *token = NULL;
	const char *why;
	long port = 8888, remote_port = 8888;
	enum opt_result res;
	int id, rc, fd = -1, json = 0;
	char *url = NULL;

	opt_init(&p, argc, argv);
	while ((res = opt_next(&p, tunnel_options, &id, &arg, cause)) != OPT_END) {
		if (res == OPT_ERROR)
			return GG_EXIT_USAGE;
		if (res == OPT_OPTION && id == OPT_JSON) {
			json = 1;
		} else if (res == OPT_OPTION && id == OPT_PORT) {
			if (opt_number("port", arg, 65535, &port, cause) != 0)
				return GG_EXIT_USAGE;
		} else if (res == OPT_OPTION && id == OPT_REMOTE_PORT) {
			if (opt_number("remote-port", arg, 65535, &remote_port, cause) != 0)
				return GG_EXIT_USAGE;
		} else if ((rc = opt_target(&ta, res, id, arg, cause)) != 0)
			return rc;
	}
	if ((rc = target_resolve(&ta, &t, cause)) != 0)
		return rc;
	ui = ui_new(UI_PLAIN);
	remote_catch_interrupt();
	if ((rc = listen_local(&port, &fd, cause)) != 0 ||
	    (rc = remote_open(&r, &t, ui, 0, cause)) != 0)
		goto out;
	token = remote_read_token(&r, &why);
	xasprintf(&url, "http://127.0.0.1:%ld/%s%s", port, token != NULL ? "?token=" : "",
		  token != NULL ? token : "");
	if (json) {
		cli_json_print(json_pack("{s:s, s:s, s:i, s:i, s:s?}", "target", t.name, "url", url,
					 "local_port", (int)port, "remote_port", (int)remote_port,
					 "no_token", token != NULL ? NULL : why));
	} else {
		printf("Jupyter on %s: %s%s%s%s\n", t.name, url, token != NULL ? "" : " (",
		       token != NULL ? "" : why, token != NULL ? "" : ")");
		printf("forwarding 127.0.0.1:%ld to the VM's 127.0.0.1:%ld; ^C to stop\n", port,
		       remote_port);
	}
	fflush(stdout);
	rc = ssh_conn_tunnel(r.conn, fd, "127.0.0.1", (int)remote_port, &remote_interrupted, cause);
out:
	if (fd >= 0)
		close(fd);
	remote_close(&r);
	ui_free(ui);
	target_release(&t);
	free(token);
	free(url);
	return rc;
}
