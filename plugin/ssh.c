/*
 * ssh.c: the SSH session wrapper of ssh.h over libssh.
 *
 * libssh runs in blocking mode with a timeout on every blocking step, so an
 * unreachable host or a dead link turns into a clear error rather than a hang.  The
 * socket gets TCP_NODELAY (small control messages are not held back) and TCP
 * keepalives, and ssh_conn_keepalive sends SSH ignore messages while a follow is idle,
 * so that a NAT box between the user and the VM does not forget the connection.
 */
#include "ssh.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "cli.h"
#include "clock.h"
#include "error.h"
#include "xmalloc.h"

/*
 * AES-GCM runs on the CPU's AES instructions on both ends and is the fastest cipher
 * OpenSSH offers; chacha20 wins where AES instructions are missing.  The CTR modes
 * keep older servers reachable.
 */
#define CIPHERS "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com," \
		"aes256-gcm@openssh.com,aes128-ctr,aes256-ctr"

/* Send an SSH ignore message after this many idle seconds. */
#define KEEPALIVE_SECONDS 15

/* What ssh_exec_finish reads past a command's answer at most, and waits for its end. */
#define FINISH_DRAIN_MAX (1024 * 1024)
#define FINISH_WAIT_MS 30000

/* Large reads and writes: fewer round trips through libssh's packet layer. */
#define IO_CHUNK (256 * 1024)

struct ssh_conn {
	ssh_session session;
	char *name;
	char *user;
	double last_sent;  /* gg_clock_monotonic() of the last write, for keepalives */
	int fd;            /* the socket made here (host key alias), else -1 */
	char *lookup;      /* the name known_hosts holds the key under: "[host]:port"... */
};

struct ssh_exec {
	struct ssh_conn *conn;
	ssh_channel channel;
	struct gg_buf err; /* stderr, collected while stdout is read */
};

const char *ssh_conn_name(const struct ssh_conn *c)
{
	return c->name;
}

const char *ssh_conn_user(const struct ssh_conn *c)
{
	return c->user;
}

void ssh_shell_quote(struct gg_buf *out, const char *s)
{
	gg_buf_addch(out, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			gg_buf_addstr(out, "'\\''");
		else
			gg_buf_addch(out, *s);
	}
	gg_buf_addch(out, '\'');
}

/* "SHA256:..." for a key, or a placeholder when libssh cannot hash it. */
static char *fingerprint(ssh_key key)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp, *copy;

	if (key == NULL || ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0)
		return xstrdup("(unknown)");
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return xstrdup("(unknown)");
	copy = xstrdup(fp);
	ssh_string_free_char(fp);
	return copy;
}

/*
 * Ask on the terminal whether to trust a new host key, as OpenSSH asks: "yes", "no"
 * or the fingerprint itself; anything else is asked again.  1 for yes.
 */
static int ask_new_host(const char *name, const char *type, const char *fp, const char *file)
{
	FILE *tty = fopen("/dev/tty", "r+");
	char answer[128];
	int yes = 0;

	if (tty == NULL)
		return 0;
	fprintf(tty, "The authenticity of host '%s' can't be established.\n%s key fingerprint "
		     "is %s.\nAdd it to '%s' and connect (yes/no/[fingerprint])? ", name, type, fp,
		file);
	for (;;) {
		fflush(tty);
		if (fgets(answer, sizeof answer, tty) == NULL)
			break;
		answer[strcspn(answer, "\r\n")] = '\0';
		if (strcmp(answer, "yes") == 0 || strcmp(answer, fp) == 0) {
			yes = 1;
			break;
		}
		if (strcmp(answer, "no") == 0)
			break;
		fprintf(tty, "Please type 'yes', 'no' or the fingerprint: ");
	}
	fclose(tty);
	return yes;
}

/*
 * The fingerprint known_hosts holds for this host, for the "changed" message: libssh
 * names the state but not the old key, so the file is read again here.
 */
static char *known_fingerprint(const char *host, const char *known_hosts)
{
	FILE *f = fopen(known_hosts, "r");
	char line[8192], *fp = NULL;

	if (f == NULL)
		return NULL;
	while (fp == NULL && fgets(line, sizeof line, f) != NULL) {
		struct ssh_knownhosts_entry *e = NULL;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (ssh_known_hosts_parse_line(host, line, &e) == SSH_OK && e != NULL &&
		    e->hostname != NULL && e->publickey != NULL)
			fp = fingerprint(e->publickey);
		ssh_knownhosts_entry_free(e);
	}
	fclose(f);
	return fp;
}

static int check_host_key(struct ssh_conn *c, const struct ssh_options *o,
			  const char *known_hosts, char **cause)
{
	ssh_key server_key = NULL;
	char *server_fp = NULL, *known_fp = NULL;
	const char *type = "host";
	int r = GG_EXIT_HOSTKEY;
	enum ssh_known_hosts_e state;

	if (ssh_get_server_publickey(c->session, &server_key) == SSH_OK)
		type = ssh_key_type_to_char(ssh_key_type(server_key));
	server_fp = fingerprint(server_key);
	state = ssh_session_is_known_server(c->session);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK:
		r = 0;
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		known_fp = known_fingerprint(c->lookup, known_hosts);
		if (o->host_key_alias != NULL) {
			gg_fail(cause, GG_EXIT_HOSTKEY,
				"host key of '%s' is not the one the VM published: '%s' has %s "
				"for '%s', the host offers %s %s; nothing was sent (another "
				"machine answers at that address, or the VM's keys changed "
				"without being published)", c->name, known_hosts,
				known_fp != NULL ? known_fp : "other keys", o->host_key_alias,
				type, server_fp);
			break;
		}
		gg_fail(cause, GG_EXIT_HOSTKEY,
			"host key of '%s' changed: '%s' has %s, the host offers %s %s; "
			"nothing was sent (if the VM was recreated, remove the old key with "
			"ssh-keygen -R '%s' -f '%s' and connect again)",
			c->name, known_hosts, known_fp != NULL ? known_fp : "another key", type,
			server_fp, c->lookup, known_hosts);
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		if (o->host_key_alias != NULL) {
			/*
			 * Under an alias only what the VM published counts (keys of a type that
			 * matches nothing usable here included): never trust on first use, never
			 * write a key it did not publish, whatever --accept-new-host-key says.
			 */
			gg_fail(cause, GG_EXIT_HOSTKEY,
				"host key of '%s' (%s %s) is not among the keys the VM published "
				"under '%s' in '%s'; nothing was sent (check the VM's guest "
				"attributes: 'gcloud compute instances get-guest-attributes')",
				c->name, type, server_fp, o->host_key_alias, known_hosts);
			break;
		}
		if (!o->accept_new_host_key &&
		    !(isatty(STDIN_FILENO) && isatty(STDERR_FILENO) &&
		      ask_new_host(c->name, type, server_fp, known_hosts))) {
			gg_fail(cause, GG_EXIT_HOSTKEY,
				"host '%s' is not in '%s' (%s key %s): check the fingerprint and "
				"run again with --accept-new-host-key", c->name, known_hosts, type,
				server_fp);
			break;
		}
		if (ssh_session_update_known_hosts(c->session) != SSH_OK) {
			gg_fail(cause, GG_EXIT_HOSTKEY, "cannot add the key of '%s' to '%s': %s",
				c->name, known_hosts, ssh_get_error(c->session));
			break;
		}
		fprintf(stderr, "gcloud-gpu: added the %s key of '%s' (%s) to '%s'\n", type,
			c->lookup, server_fp, known_hosts);
		r = 0;
		break;
	default:
		gg_fail(cause, GG_EXIT_HOSTKEY, "cannot check the host key of '%s' in '%s': %s",
			c->name, known_hosts, ssh_get_error(c->session));
		break;
	}
	ssh_key_free(server_key);
	free(server_fp);
	free(known_fp);
	return r;
}

/* libssh asks this for a key's passphrase: note that it asked, give none. */
static int note_passphrase(const char *prompt, char *buf, size_t len, int echo, int verify,
			   void *userdata)
{
	(void)prompt;
	(void)buf;
	(void)len;
	(void)echo;
	(void)verify;
	*(int *)userdata = 1;
	return -1;
}

/*
 * The -i key: read as it is; one with a passphrase is used through ssh-agent when an
 * agent runs (it holds the key once `ssh-add` was run), else its passphrase is asked
 * on the terminal.  0 with *key set, 1 when the agent authenticated, or an exit code.
 */
static int identity_key(struct ssh_conn *c, const char *identity, ssh_key *key, char **cause)
{
	char pass[256] = "", prompt[PATH_MAX + 64];
	int asked = 0, rc;

	*key = NULL;
	if (access(identity, R_OK) != 0)
		return gg_fail_errno(cause, GG_EXIT_SSH, errno, "cannot read the private key '%s'",
				     identity);
	if (ssh_pki_import_privkey_file(identity, NULL, note_passphrase, &asked, key) == SSH_OK)
		return 0;
	if (!asked)
		return gg_fail(cause, GG_EXIT_SSH, "'%s' is not a private key libssh can read",
			       identity);
	if (getenv("SSH_AUTH_SOCK") != NULL && getenv("SSH_AUTH_SOCK")[0] != '\0') {
		cli_debug(1, "'%s' has a passphrase: trying ssh-agent's keys", identity);
		rc = ssh_userauth_agent(c->session, NULL);
		if (rc == SSH_AUTH_SUCCESS)
			return 1;
	}
	if (!isatty(STDIN_FILENO))
		return gg_fail(cause, GG_EXIT_SSH, "the key '%s' has a passphrase and ssh-agent does "
			       "not hold it: run 'ssh-add %s' first, or run on a terminal to be asked",
			       identity, identity);
	/* libssh prints the prompt after it turned echo off (and flushed what was typed). */
	snprintf(prompt, sizeof prompt, "Enter passphrase for key '%s': ", identity);
	if (ssh_getpass(prompt, pass, sizeof pass, 0, 0) != 0)
		return gg_fail(cause, GG_EXIT_SSH, "no passphrase for '%s'", identity);
	rc = ssh_pki_import_privkey_file(identity, pass, NULL, NULL, key);
	explicit_bzero(pass, sizeof pass);
	if (rc != SSH_OK)
		return gg_fail(cause, GG_EXIT_SSH, "wrong passphrase for '%s'", identity);
	return 0;
}

/* 0, or GG_EXIT_SSH with *refused set when the server answered and took no key. */
static int authenticate(struct ssh_conn *c, const struct ssh_options *o, int *refused,
			char **cause)
{
	ssh_key key = NULL;
	int rc;

	if (o->identity != NULL) {
		if ((rc = identity_key(c, o->identity, &key, cause)) == 1)
			return 0;
		if (rc != 0)
			return rc;
		rc = ssh_userauth_publickey(c->session, NULL, key);
		ssh_key_free(key);
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
		if (rc == SSH_AUTH_ERROR)
			return gg_fail(cause, GG_EXIT_SSH, "cannot authenticate to '%s': %s",
				       c->name, ssh_get_error(c->session));
		*refused = 1;
		return gg_fail(cause, GG_EXIT_SSH,
			       "'%s' refused the key '%s' for user '%s': check the user name and "
			       "that the key is authorized", c->name, o->identity, c->user);
	}
	rc = ssh_userauth_publickey_auto(c->session, NULL, NULL);
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		return gg_fail(cause, GG_EXIT_SSH, "cannot authenticate to '%s': %s", c->name,
			       ssh_get_error(c->session));
	*refused = 1;
	return gg_fail(cause, GG_EXIT_SSH,
		       "'%s' accepted no key for user '%s' (tried the agent and ~/.ssh/id_*): "
		       "check the user name or give a key with --identity FILE", c->name, c->user);
}

/* TCP keepalives find a dead peer even while nothing is being sent. */
static void tune_socket(ssh_session s)
{
	int fd = ssh_get_fd(s), on = 1, idle = 30, interval = 10, count = 3;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

/*
 * A TCP connection to host:port within timeout seconds, for a session that looks its
 * host key up under an alias: libssh connects to the very name it checks, so the
 * socket is made here and handed over with SSH_OPTIONS_FD (see ssh_conn_close).
 */
static int connect_socket(const char *name, const char *host, int port, long timeout,
			  int *fd_out, char **cause)
{
	struct addrinfo hints, *list = NULL, *ai;
	char service[16];
	int fd = -1, err = ECONNREFUSED, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof service, "%d", port);
	if ((rc = getaddrinfo(host, service, &hints, &list)) != 0)
		return gg_fail(cause, GG_EXIT_SSH, "cannot connect to '%s': %s", name,
			       gai_strerror(rc));
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		struct pollfd p = { .events = POLLOUT };
		socklen_t len = sizeof err;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			p.fd = fd;
			rc = poll(&p, 1, (int)(timeout * 1000));
			if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
			    err == 0)
				break;
			if (rc == 0)
				err = ETIMEDOUT;
			else if (rc < 0)
				err = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		return gg_fail_errno(cause, GG_EXIT_SSH, err, "cannot connect to '%s'", name);
	/* libssh expects a blocking socket, as its own connect leaves it. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*fd_out = fd;
	return 0;
}

/*
 * Read ~/.ssh/config for o->host with libssh's own parser, then put back what the
 * command line gave (it wins, as with OpenSSH).  The host, user and port it resolved
 * are read back for messages and the known_hosts name.
 */
static int apply_config(struct ssh_conn *c, const struct ssh_options *o, char **cause)
{
	char *value = NULL;
	unsigned int port = 0;

	if (ssh_options_parse_config(c->session, NULL) != 0)
		return gg_fail(cause, GG_EXIT_SSH, "cannot read ~/.ssh/config for '%s': %s", o->host,
			       ssh_get_error(c->session));
	if ((o->user != NULL && ssh_options_set(c->session, SSH_OPTIONS_USER, o->user) != 0) ||
	    (o->port > 0 && ssh_options_set(c->session, SSH_OPTIONS_PORT, &o->port) != 0))
		return gg_fail(cause, GG_EXIT_SSH, "cannot set SSH options for '%s'", o->host);
	if (ssh_options_get(c->session, SSH_OPTIONS_USER, &value) == SSH_OK) {
		free(c->user);
		c->user = xstrdup(value);
		ssh_string_free_char(value);
	}
	if (ssh_options_get(c->session, SSH_OPTIONS_HOST, &value) == SSH_OK) {
		free(c->lookup);
		c->lookup = xstrdup(value);
		ssh_string_free_char(value);
	}
	if (ssh_options_get_port(c->session, &port) != SSH_OK || port == 0)
		port = 22;
	if (port != 22) {
		char *host = c->lookup;

		xasprintf(&c->lookup, "[%s]:%u", host, port);
		free(host);
	}
	free(c->name);
	xasprintf(&c->name, "%s@%s:%u", c->user, o->host, port);
	cli_debug(1, "~/.ssh/config read for '%s': %s as '%s'", o->host, c->lookup, c->user);
	return 0;
}

int ssh_conn_open(const struct ssh_options *o, struct ssh_conn **out, char **cause)
{
	return ssh_conn_open_ex(o, out, NULL, cause);
}

int ssh_conn_open_ex(const struct ssh_options *o, struct ssh_conn **out, int *auth_refused,
		     char **cause)
{
	int refused = 0;
	struct ssh_conn *c = xcalloc(1, sizeof *c);
	const char *home = getenv("HOME");
	char *ssh_dir = NULL, *known_hosts = NULL;
	long timeout = o->connect_timeout > 0 ? o->connect_timeout : 15;
	int port = o->port > 0 ? o->port : 22, off = 0, on = 1, r, config_failed = 0;
	int lookup_port = o->host_key_alias != NULL ? 22 : port;
	int log_level = cli_verbose >= 4 ? SSH_LOG_PACKET : cli_verbose >= 3 ? SSH_LOG_PROTOCOL
									   : SSH_LOG_NOLOG;

	*out = NULL;
	if (auth_refused != NULL)
		*auth_refused = 0;
	c->fd = -1;
	c->user = xstrdup(o->user != NULL ? o->user : (getenv("USER") != NULL ? getenv("USER") : "root"));
	xasprintf(&c->name, "%s@%s:%d", c->user, o->host, port);
	if (o->host_key_alias != NULL)
		c->lookup = xstrdup(o->host_key_alias);
	else if (port == 22)
		c->lookup = xstrdup(o->host);
	else
		xasprintf(&c->lookup, "[%s]:%d", o->host, port);
	if (home != NULL && home[0] != '\0')
		xasprintf(&ssh_dir, "%s/.ssh", home);
	else
		ssh_dir = xstrdup("~/.ssh");
	if (o->known_hosts != NULL)
		known_hosts = xstrdup(o->known_hosts);
	else
		xasprintf(&known_hosts, "%s/known_hosts", ssh_dir);

	c->session = ssh_new();
	if (c->session == NULL) {
		r = gg_fail(cause, GG_EXIT_SSH, "cannot start an SSH session: out of memory");
		goto out;
	}
	/*
	 * ~/.ssh/config is read only for a plain SSH host (o->read_config, after the
	 * options below, whose user and port the command line gave win).  With a host
	 * key alias libssh gets the alias as the host (on port 22, so the lookup name is
	 * the alias alone, as OpenSSH's) and the socket made here.
	 */
	if (o->host_key_alias != NULL &&
	    (r = connect_socket(c->name, o->host, port, timeout, &c->fd, cause)) != 0)
		goto out;
	if (ssh_options_set(c->session, SSH_OPTIONS_LOG_VERBOSITY, &log_level) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_PROCESS_CONFIG, &off) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_HOST,
			    c->fd >= 0 ? o->host_key_alias : o->host) != 0 ||
	    ((!o->read_config || o->port > 0) &&
	     ssh_options_set(c->session, SSH_OPTIONS_PORT, &lookup_port) != 0) ||
	    ((!o->read_config || o->user != NULL) &&
	     ssh_options_set(c->session, SSH_OPTIONS_USER, c->user) != 0) ||
	    ssh_options_set(c->session, SSH_OPTIONS_SSH_DIR, ssh_dir) != 0 ||
	    (o->read_config && (config_failed = apply_config(c, o, cause)) != 0) ||
	    ssh_options_set(c->session, SSH_OPTIONS_KNOWNHOSTS, known_hosts) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_TIMEOUT, &timeout) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_NODELAY, &on) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_CIPHERS_C_S, CIPHERS) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_CIPHERS_S_C, CIPHERS) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_PASSWORD_AUTH, &off) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_KBDINT_AUTH, &off) != 0 ||
	    ssh_options_set(c->session, SSH_OPTIONS_GSSAPI_AUTH, &off) != 0 ||
	    (c->fd >= 0 && ssh_options_set(c->session, SSH_OPTIONS_FD, &c->fd) != 0)) {
		r = config_failed != 0 ? config_failed
				       : gg_fail(cause, GG_EXIT_SSH, "cannot set SSH options for '%s': %s",
						 c->name, ssh_get_error(c->session));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		goto out;
	}
	cli_debug(1, "connecting to %s (host key '%s' in '%s')", c->name, c->lookup, known_hosts);
	if (ssh_connect(c->session) != SSH_OK) {
		r = gg_fail(cause, GG_EXIT_SSH, "cannot connect to '%s': %s", c->name,
			    ssh_get_error(c->session));
		goto out;
	}
	tune_socket(c->session);
	/* Nothing leaves this machine before the host key is known to be right. */
	if ((r = check_host_key(c, o, known_hosts, cause)) != 0)
		goto out;
	if ((r = authenticate(c, o, &refused, cause)) != 0) {
		if (auth_refused != NULL)
			*auth_refused = refused;
		goto out;
	}
	cli_debug(1, "authenticated to %s", c->name);
	c->last_sent = gg_clock_monotonic();
	*out = c;
	c = NULL;
	r = 0;
out:
	ssh_conn_close(c);
	free(ssh_dir);
	free(known_hosts);
	return r;
}

void ssh_conn_close(struct ssh_conn *c)
{
	if (c == NULL)
		return;
	/*
	 * libssh closes a socket it was given when the link fails (and forgets it), but
	 * 0.10 leaves it open on disconnect: close it when libssh still held it and the
	 * disconnect left it open.  Nothing else runs in between, so the number cannot
	 * have been reused.
	 */
	if (c->fd >= 0 && (c->session == NULL || ssh_get_fd(c->session) != c->fd))
		c->fd = -1;
	if (c->session != NULL) {
		ssh_disconnect(c->session);
		ssh_free(c->session);
	}
	if (c->fd >= 0 && fcntl(c->fd, F_GETFD) != -1)
		close(c->fd);
	free(c->name);
	free(c->user);
	free(c->lookup);
	free(c);
}

void ssh_conn_keepalive(struct ssh_conn *c)
{
	double now = gg_clock_monotonic();

	if (now - c->last_sent < KEEPALIVE_SECONDS)
		return;
	ssh_send_ignore(c->session, "");
	c->last_sent = now;
}

static int link_error(struct ssh_conn *c, char **cause)
{
	return gg_fail(cause, GG_EXIT_SSH, "lost the connection to '%s': %s", c->name,
		       ssh_get_error(c->session));
}

int ssh_exec_start(struct ssh_conn *c, const char *command, struct ssh_exec **out,
		   char **cause)
{
	struct ssh_exec *x;
	ssh_channel ch = ssh_channel_new(c->session);

	*out = NULL;
	if (ch == NULL)
		return link_error(c, cause);
	if (ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, command) != SSH_OK) {
		ssh_channel_free(ch);
		return link_error(c, cause);
	}
	x = xcalloc(1, sizeof *x);
	x->conn = c;
	x->channel = ch;
	gg_buf_init(&x->err);
	c->last_sent = gg_clock_monotonic();
	*out = x;
	return 0;
}

int ssh_exec_write(struct ssh_exec *x, const void *data, size_t len, char **cause)
{
	const char *p = data;

	while (len > 0) {
		uint32_t n = len > IO_CHUNK ? IO_CHUNK : (uint32_t)len;
		int w = ssh_channel_write(x->channel, p, n);

		if (w == SSH_ERROR || w == 0)
			return link_error(x->conn, cause);
		p += w;
		len -= (size_t)w;
	}
	x->conn->last_sent = gg_clock_monotonic();
	return 0;
}

int ssh_exec_close_stdin(struct ssh_exec *x, char **cause)
{
	if (ssh_channel_send_eof(x->channel) != SSH_OK)
		return link_error(x->conn, cause);
	return 0;
}

/* Move whatever stderr libssh holds into x->err, without waiting. */
static void drain_stderr(struct ssh_exec *x)
{
	char buf[4096];
	int n;

	while ((n = ssh_channel_read_nonblocking(x->channel, buf, sizeof buf, 1)) > 0)
		if (x->err.len < 64 * 1024)
			gg_buf_add(&x->err, buf, (size_t)n);
}

long ssh_exec_read(struct ssh_exec *x, void *buf, size_t size, int timeout_ms, char **cause)
{
	int n;

	if (size > IO_CHUNK)
		size = IO_CHUNK;
	n = ssh_channel_read_timeout(x->channel, buf, (uint32_t)size, 0, timeout_ms);
	drain_stderr(x);
	if (n == SSH_ERROR) {
		link_error(x->conn, cause);
		return -2;
	}
	if (n > 0)
		return n;
	if (ssh_channel_is_eof(x->channel) || ssh_channel_is_closed(x->channel)) {
		if (!ssh_is_connected(x->conn->session)) {
			link_error(x->conn, cause);
			return -2;
		}
		return -1;
	}
	if (!ssh_is_connected(x->conn->session)) {
		link_error(x->conn, cause);
		return -2;
	}
	return 0;
}

int ssh_exec_finish(struct ssh_exec *x, int *status, struct gg_buf *err, char **cause)
{
	char buf[IO_CHUNK > 65536 ? 65536 : IO_CHUNK];
	size_t drained = 0;
	int r = 0, n, waited_ms = 0;

	*status = -1;
	/*
	 * Read stdout to its end so the exit status can arrive behind it; but no further
	 * than FINISH_DRAIN_MAX bytes and FINISH_WAIT_MS of silence: a command (a VM) that
	 * goes on writing or never ends would hold the caller for ever.
	 */
	for (;;) {
		n = ssh_channel_read_timeout(x->channel, buf, sizeof buf, 0, 500);
		drain_stderr(x);
		if (n > 0) {
			drained += (size_t)n;
			waited_ms = 0;
		} else if (n == 0 && !ssh_channel_is_eof(x->channel) &&
			   !ssh_channel_is_closed(x->channel) && ssh_is_connected(x->conn->session)) {
			waited_ms += 500;
		} else {
			break;
		}
		if (drained > FINISH_DRAIN_MAX || waited_ms >= FINISH_WAIT_MS) {
			r = gg_fail(cause, GG_EXIT_REMOTE, "the command on '%s' did not end after "
				    "its answer", x->conn->name);
			goto out;
		}
	}
	if (n == SSH_ERROR || !ssh_is_connected(x->conn->session))
		r = link_error(x->conn, cause);
	else
		*status = ssh_channel_get_exit_status(x->channel);
out:
	if (err != NULL)
		gg_buf_add(err, x->err.data, x->err.len);
	ssh_exec_abort(x);
	return r;
}

void ssh_exec_abort(struct ssh_exec *x)
{
	if (x == NULL)
		return;
	if (ssh_is_connected(x->conn->session))
		ssh_channel_close(x->channel);
	ssh_channel_free(x->channel);
	gg_buf_release(&x->err);
	free(x);
}

int ssh_conn_run(struct ssh_conn *c, const char *command, const void *in, size_t in_len,
		 struct gg_buf *out, struct gg_buf *err, int *status, char **cause)
{
	struct ssh_exec *x = NULL;
	char *buf = xmalloc(IO_CHUNK);
	long n;
	int r;

	*status = -1;
	if ((r = ssh_exec_start(c, command, &x, cause)) != 0)
		goto out;
	if (in != NULL && in_len > 0 && (r = ssh_exec_write(x, in, in_len, cause)) != 0)
		goto out;
	if ((r = ssh_exec_close_stdin(x, cause)) != 0)
		goto out;
	while ((n = ssh_exec_read(x, buf, IO_CHUNK, 1000, cause)) >= 0) {
		if (n > 0 && out != NULL && gg_buf_add(out, buf, (size_t)n) != 0) {
			r = gg_fail(cause, GG_EXIT_ERROR, "out of memory");
			goto out;
		}
		if (n == 0)
			ssh_conn_keepalive(c);
	}
	if (n == -2) {
		r = GG_EXIT_SSH;
		goto out;
	}
	r = ssh_exec_finish(x, status, err, cause);
	x = NULL;
out:
	ssh_exec_abort(x);
	free(buf);
	return r;
}

/* Whether host:port answers from the server's side (a direct-tcpip channel opens). */
static int can_forward(struct ssh_conn *c, const char *host, int port)
{
	ssh_channel ch = ssh_channel_new(c->session);
	int ok = ch != NULL && ssh_channel_open_forward(ch, host, port, "127.0.0.1", 0) == SSH_OK;

	if (ch != NULL) {
		if (ok)
			ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	return ok;
}

/* One forwarded connection of the tunnel. */
struct forward {
	int fd;
	ssh_channel channel;
};

static void forward_close(struct forward *f)
{
	close(f->fd);
	ssh_channel_close(f->channel);
	ssh_channel_free(f->channel);
	f->fd = -1;
	f->channel = NULL;
}

int ssh_conn_tunnel(struct ssh_conn *c, int listen_fd, const char *host, int port,
		    volatile sig_atomic_t *stop, char **cause)
{
	struct forward fw[SSH_TUNNEL_MAX];
	struct pollfd pfd[SSH_TUNNEL_MAX + 2];
	char *buf = xmalloc(IO_CHUNK);
	size_t i, p, count = 0, polled;
	int r = 0, refused = !can_forward(c, host, port);

	/* Asked once at the start: a tunnel to nothing says so before the browser does. */
	if (refused)
		fprintf(stderr, "gcloud-gpu: nothing answers on the VM's %s:%d yet (is Jupyter "
			"running? see 'gcloud-gpu status'); the tunnel stays up\n", host, port);
	while (!*stop) {
		pfd[0].fd = listen_fd;
		pfd[0].events = count < SSH_TUNNEL_MAX ? POLLIN : 0;
		/*
		 * The SSH socket too: the VM's replies wake the loop as they arrive, rather
		 * than waiting out the poll timeout for every chunk (~90 KB/s otherwise).
		 */
		pfd[1].fd = ssh_get_fd(c->session);
		pfd[1].events = POLLIN;
		for (i = 0; i < count; i++) {
			pfd[i + 2].fd = fw[i].fd;
			pfd[i + 2].events = POLLIN;
		}
		polled = count;
		if (poll(pfd, count + 2, 50) < 0 && errno != EINTR) {
			r = gg_fail_errno(cause, GG_EXIT_ERROR, errno, "cannot wait on the tunnel");
			break;
		}
		if (!ssh_is_connected(c->session)) {
			r = link_error(c, cause);
			break;
		}
		/*
		 * Connections first, the new one after: fw[i] stays paired with pfd[p] while
		 * closed ones are removed (in order), so a poll result is never read as
		 * another connection's (a blocking read on an idle one stopped them all).
		 */
		for (i = 0, p = 2; p < polled + 2; p++) {
			int n, dead = 0;

			if (pfd[p].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t got = read(fw[i].fd, buf, IO_CHUNK);

				if (got <= 0 || ssh_channel_write(fw[i].channel, buf, (uint32_t)got) == SSH_ERROR)
					dead = 1;
			}
			while (!dead && (n = ssh_channel_read_nonblocking(fw[i].channel, buf, IO_CHUNK, 0)) > 0)
				if (write(fw[i].fd, buf, (size_t)n) != n)
					dead = 1;
			if (!dead && (ssh_channel_is_eof(fw[i].channel) || ssh_channel_is_closed(fw[i].channel)))
				dead = 1;
			if (dead) {
				forward_close(&fw[i]);
				memmove(&fw[i], &fw[i + 1], (count - i - 1) * sizeof fw[0]);
				count--;
			} else {
				i++;
			}
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept(listen_fd, NULL, NULL);
			ssh_channel ch = fd >= 0 ? ssh_channel_new(c->session) : NULL;

			if (ch != NULL && ssh_channel_open_forward(ch, host, port, "127.0.0.1", 0) == SSH_OK) {
				fw[count].fd = fd;
				fw[count].channel = ch;
				count++;
				refused = 0;
			} else {
				/*
				 * One readable line while nothing listens there, not one for every
				 * request a browser makes.  The refusal's text is the server's:
				 * printable first (error.h).
				 */
				char *why = xstrdup(ssh_get_error(c->session));

				gg_printable(why, 0);
				if (!refused)
					fprintf(stderr, "gcloud-gpu: nothing answers on the VM's %s:%d (%s; "
						"is Jupyter running? see 'gcloud-gpu status'); the tunnel "
						"stays up\n", host, port, why);
				refused = 1;
				free(why);
				if (ch != NULL)
					ssh_channel_free(ch);
				if (fd >= 0)
					close(fd);
			}
		}
		ssh_conn_keepalive(c);
	}
	for (i = 0; i < count; i++)
		forward_close(&fw[i]);
	free(buf);
	return r;
}

static volatile sig_atomic_t window_changed;

static void on_winch(int sig)
{
	(void)sig;
	window_changed = 1;
}

/* The local terminal's size into cols and rows (80x24 when unknown). */
static void window_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* Copy what the channel holds to our stdout and stderr; to_end: wait for its end. */
static void pass_output(ssh_channel ch, int to_end)
{
	char buf[16384];
	int n, is_stderr;

	for (is_stderr = 0; is_stderr <= 1; is_stderr++)
		while ((n = to_end && !is_stderr ? ssh_channel_read(ch, buf, sizeof buf, 0)
				 : ssh_channel_read_nonblocking(ch, buf, sizeof buf, is_stderr)) > 0)
			if (write(is_stderr ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)n) != n)
				break;
}

int ssh_conn_session(struct ssh_conn *c, const char *command, int *status, char **cause)
{
	ssh_channel ch = ssh_channel_new(c->session);
	int tty = isatty(STDIN_FILENO), raw = 0, cols, rows, r = 0, n, stdin_open = 1;
	struct termios saved, t;
	struct sigaction sa, old_winch;
	char buf[16384];
	const char *term = getenv("TERM");

	*status = 255;
	if (ch == NULL || ssh_channel_open_session(ch) != SSH_OK) {
		r = link_error(c, cause);
		goto out;
	}
	if (tty) {
		window_size(&cols, &rows);
		if (ssh_channel_request_pty_size(ch, term != NULL && term[0] != '\0' ? term : "xterm",
						 cols, rows) != SSH_OK) {
			r = link_error(c, cause);
			goto out;
		}
	}
	if ((command != NULL ? ssh_channel_request_exec(ch, command)
			     : ssh_channel_request_shell(ch)) != SSH_OK) {
		r = link_error(c, cause);
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_winch;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, &old_winch);
	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	while (!ssh_channel_is_closed(ch) && !ssh_channel_is_eof(ch)) {
		struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { ssh_get_fd(c->session), POLLIN, 0 } };

		if (poll(p, 2, 100) < 0 && errno != EINTR)
			break;
		if (window_changed) {
			window_changed = 0;
			window_size(&cols, &rows);
			ssh_channel_change_pty_size(ch, cols, rows);
		}
		if (stdin_open && (p[0].revents & (POLLIN | POLLHUP))) {
			ssize_t got = read(STDIN_FILENO, buf, sizeof buf);

			if (got > 0) {
				if (ssh_channel_write(ch, buf, (uint32_t)got) == SSH_ERROR)
					break;
			} else {
				stdin_open = 0;
				ssh_channel_send_eof(ch);
			}
		}
		pass_output(ch, 0);
		if (!ssh_is_connected(c->session))
			break;
	}
	/* What came with the end of the channel, and its exit status behind it. */
	pass_output(ch, 1);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigaction(SIGWINCH, &old_winch, NULL);
	if (!ssh_is_connected(c->session)) {
		r = link_error(c, cause);
		goto out;
	}
	n = ssh_channel_get_exit_status(ch);
	*status = n >= 0 ? n : 255;
out:
	if (ch != NULL) {
		if (ssh_is_connected(c->session))
			ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	return r;
}
