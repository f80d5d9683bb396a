#!/usr/bin/env bash
# A non-root SSH user with passwordless sudo works as root does: the helper goes up and
# runs through `sudo -n`; a user without it is refused with one clear line.  Needs
# root here (to make the users); they are removed on exit.
. "$(dirname "$0")/lib-cli.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v sudo >/dev/null || ! command -v useradd >/dev/null; then
	say "skipped: needs root, sudo and useradd (tools/deps installs sudo)"
	test_done
fi
require_helper have recv apply follow

user=ggcli$$
nosudo=ggcli$$n
cleanup_users() {
	rm -f "/etc/sudoers.d/$user"
	userdel -r "$user" >/dev/null 2>&1
	userdel -r "$nosudo" >/dev/null 2>&1
	test_cleanup
}
trap cleanup_users EXIT

# A locked account (useradd's '!' password) may not log in at all, even with a key.
useradd -m -p '*' -s /bin/sh "$user" && useradd -m -p '*' -s /bin/sh "$nosudo" || exit 1
echo "$user ALL=(root) NOPASSWD: ALL" >"/etc/sudoers.d/$user" && chmod 440 "/etc/sudoers.d/$user"
keys=$TEST_DIR/users_keys
mkdir -p "$keys" && chmod 755 "$TEST_DIR" "$keys"
# shellcheck disable=SC2034 # read by sshd_start
SSHD_EXTRA_CONFIG="AllowUsers $user $nosudo
Match User $user,$nosudo
  AuthorizedKeysFile $keys/authorized_keys"
cli_setup || exit 1
cp "$SSHD_DIR/authorized_keys" "$keys/authorized_keys" && chmod 644 "$keys/authorized_keys"
# shellcheck disable=SC2034 # used in the test bodies
as_user=(--ssh "$user@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" --known-hosts "$SSHD_KNOWN_HOSTS")

test_expect_success 'a sudo user pushes the demo recipe as root would' '
	gg push "${as_user[@]}" --payload "$DEMO" >"$TEST_DIR/push" 2>&1 &&
	test_grep "^done: the plan finished" "$TEST_DIR/push" &&
	[ "$(stat -c %U "$TEST_DIR/vm/bin")" = root ] &&
	gg logs "${as_user[@]}" >"$TEST_DIR/logs" 2>&1 &&
	test_grep "\[30-check\] done" "$TEST_DIR/logs"
'

test_expect_success 'a user without passwordless sudo is refused clearly, exit 8' '
	{ gg logs --ssh "$nosudo@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$SSHD_KNOWN_HOSTS" 2>"$TEST_DIR/err"; [ $? -eq 8 ]; } &&
	test_grep "with .sudo -n. (passwordless sudo is needed" "$TEST_DIR/err"
'

test_expect_success 'tunnel for a user without passwordless sudo says why there is no token' '
	local_port=$(free_port) &&
	{ "$GG_CLI" tunnel --ssh "$nosudo@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$SSHD_KNOWN_HOSTS" --port "$local_port" >"$TEST_DIR/tun.out" 2>&1 & pid=$!; } &&
	test_track_pid "$pid" &&
	for _ in $(seq 50); do grep -q "^forwarding" "$TEST_DIR/tun.out" && break; sleep 0.1; done &&
	test_grep "^Jupyter on .*.sudo -n. refused (passwordless sudo is needed" "$TEST_DIR/tun.out" &&
	kill -INT "$pid" && wait "$pid"
'

test_done
