/*
 * ssh.h: the one SSH session wrapper over libssh that every command uses.
 *
 * It connects the way an OpenSSH user expects: keys from --identity, the agent or the
 * usual ~/.ssh/id_* files; host keys checked strictly against a known_hosts file (an
 * unknown host is asked about on a terminal and refused without one unless the caller
 * accepts new keys; a changed key is always refused with both fingerprints, before
 * anything is sent).  On top of the session it offers exec channels (a command with
 * stdin streamed in large writes, stdout read incrementally, the exit status) and
 * direct-tcpip channels for the tunnel.
 *
 * Errors are one line in *cause and an exit code of plugin/cli.h: GG_EXIT_SSH for
 * "cannot connect or authenticate", GG_EXIT_HOSTKEY for host key trouble.
 *
 * Steps for a caller:
 *   struct ssh_options o = SSH_OPTIONS_INIT; o.host = ...; o.user = ...;
 *   struct ssh_conn *c; ssh_conn_open(&o, &c, &cause);
 *   ssh_conn_run(c, "cmd", in, in_len, &out, &err, &status, &cause);   // small commands
 *   or: struct ssh_exec *x; ssh_exec_start(c, "cmd", &x, &cause);
 *       ssh_exec_write(x, ...); ssh_exec_close_stdin(x);
 *       while (ssh_exec_read(x, buf, size, timeout, &cause) > 0) ...
 *       ssh_exec_finish(x, &status, &err, &cause);
 *   ssh_conn_close(c);
 */
#ifndef GG_SSH_H
#define GG_SSH_H

#include <signal.h>
#include <stddef.h>

#include "buf.h"

struct ssh_options {
	const char *host;
	int port;                /* 0: 22 */
	const char *user;        /* NULL: the local user name */
	const char *identity;    /* private key file; NULL: agent, then ~/.ssh/id_* */
	const char *known_hosts; /* NULL: ~/.ssh/known_hosts */
	int accept_new_host_key; /* add an unknown host's key without asking */
	int connect_timeout;     /* seconds for connect and each blocking step; 0: 15 */
	/*
	 * NULL: look the host key up by address ("HOST" or "[HOST]:PORT").  Else the name
	 * to look it up under, as OpenSSH's HostKeyAlias ("compute.<id>" for a Compute
	 * Engine VM): the socket is connected to host:port here and libssh only ever
	 * hears the alias.
	 */
	const char *host_key_alias;
	/*
	 * Read ~/.ssh/config (libssh's own parser) for this host: HostName, User, Port,
	 * IdentityFile, ProxyJump as libssh supports them.  What the command line gave
	 * (user, port, identity, known_hosts) wins.  Only for --ssh targets: a Compute
	 * Engine VM's settings come from its API.
	 */
	int read_config;
};

#define SSH_OPTIONS_INIT { NULL, 0, NULL, NULL, NULL, 0, 0, NULL, 0 }

struct ssh_conn;
struct ssh_exec;

/*
 * Connect, verify the host key and authenticate.  Returns 0 and a connection to be
 * freed with ssh_conn_close, or GG_EXIT_SSH / GG_EXIT_HOSTKEY with *cause set.
 */
int ssh_conn_open(const struct ssh_options *o, struct ssh_conn **out, char **cause);
void ssh_conn_close(struct ssh_conn *c);

/*
 * As ssh_conn_open, and on failure *auth_refused (when not NULL) says whether the
 * server answered, its host key checked out, and it took none of the keys: waiting
 * does not change that (unless a VM's guest agent is still installing the key), where
 * an unreachable host may come back.
 */
int ssh_conn_open_ex(const struct ssh_options *o, struct ssh_conn **out, int *auth_refused,
		     char **cause);

/* "user@host:port", for messages; owned by the connection. */
const char *ssh_conn_name(const struct ssh_conn *c);

/* The user name that was authenticated. */
const char *ssh_conn_user(const struct ssh_conn *c);

/*
 * Keep an idle connection alive behind NAT: call it every second or so while waiting;
 * it sends an SSH ignore message when the link has been quiet for a while.
 */
void ssh_conn_keepalive(struct ssh_conn *c);

/*
 * Start `command` on an exec channel.  0, or GG_EXIT_SSH with *cause set (the link is
 * gone or the server refused the channel).
 */
int ssh_exec_start(struct ssh_conn *c, const char *command, struct ssh_exec **out,
		   char **cause);

/* Write all of data to the command's stdin (blocking on the window).  0 or GG_EXIT_SSH. */
int ssh_exec_write(struct ssh_exec *x, const void *data, size_t len, char **cause);

/* Send EOF on stdin. */
int ssh_exec_close_stdin(struct ssh_exec *x, char **cause);

/*
 * Read up to size bytes of stdout, waiting at most timeout_ms.  Returns the count,
 * 0 on timeout, -1 at end of stdout, or -2 when the link broke (*cause set).  Stderr
 * is collected on the side (see ssh_exec_finish).
 */
long ssh_exec_read(struct ssh_exec *x, void *buf, size_t size, int timeout_ms, char **cause);

/*
 * Wait for the command to end and free the channel.  *status is its exit status (-1
 * when the server sent none, as when the link broke); err (when not NULL) gets what it
 * wrote to stderr.  0, GG_EXIT_SSH when the link broke, or GG_EXIT_REMOTE when the
 * command wrote over 1 MiB more or stayed silent 30 s without ending (what a VM
 * sends is bounded in size and time).  x is freed either way.
 */
int ssh_exec_finish(struct ssh_exec *x, int *status, struct gg_buf *err, char **cause);

/* Free the channel without waiting (the link broke, or the user stopped). */
void ssh_exec_abort(struct ssh_exec *x);

/*
 * Run a small command: send in (may be NULL), collect stdout into out and stderr
 * into err (either may be NULL), set *status.  0, or GG_EXIT_SSH when the link broke.
 */
int ssh_conn_run(struct ssh_conn *c, const char *command, const void *in, size_t in_len,
		 struct gg_buf *out, struct gg_buf *err, int *status, char **cause);

/* The most forwarded connections a tunnel serves at once (a browser opens several). */
#define SSH_TUNNEL_MAX 32

/*
 * Serve a tunnel: accept connections on listen_fd and forward each to host:port as
 * seen from the server (direct-tcpip), until *stop is set (a signal handler) or the
 * link breaks.  0 when stopped, GG_EXIT_SSH with *cause set when the link broke.
 * Whether host:port answers is asked once at the start; while it does not, one line
 * on stderr says so (not one per refused connection).
 */
int ssh_conn_tunnel(struct ssh_conn *c, int listen_fd, const char *host, int port,
		    volatile sig_atomic_t *stop, char **cause);

/*
 * A session as `ssh HOST [COMMAND]` gives it: with a pseudo-terminal (and the local
 * one in raw mode) when stdin is a terminal, stdin, stdout and stderr passed through,
 * a shell when command is NULL.  *status is the remote exit status (255 when none
 * came).  0, or GG_EXIT_SSH with *cause set when the link broke or the channel was
 * refused.
 */
int ssh_conn_session(struct ssh_conn *c, const char *command, int *status, char **cause);

/* Quote s for a POSIX shell into out ('...' with embedded quotes escaped). */
void ssh_shell_quote(struct gg_buf *out, const char *s);

#endif
