#!/usr/bin/env bash
# The harness every end-to-end test stands on: a real sshd on loopback that OpenSSH's
# own client can use, stopped by its PID when the test ends.
. "$(dirname "$0")/lib.sh"

sshd_start || exit 1

test_expect_success 'sshd listens on 127.0.0.1 only' '
	grep -q "^ListenAddress 127.0.0.1$" "$SSHD_SSH_CONFIG" "$SSHD_DIR/sshd_config" &&
	[ "$SSHD_PORT" -gt 0 ] && kill -0 "$SSHD_PID"
'

test_expect_success 'OpenSSH ssh connects with the test key and runs a command' '
	out=$(ssh -F "$SSHD_SSH_CONFIG" gg-test "echo hello from \$(id -un)") &&
	[ "$out" = "hello from $SSHD_USER" ]
'

test_expect_success 'the host key is checked strictly' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/other" &&
	printf "[127.0.0.1]:%s %s\n" "$SSHD_PORT" "$(cut -d" " -f1-2 "$TEST_DIR/other.pub")" >"$TEST_DIR/wrong_known_hosts" &&
	test_must_fail ssh -F "$SSHD_SSH_CONFIG" -o UserKnownHostsFile="$TEST_DIR/wrong_known_hosts" gg-test true
'

test_expect_success 'a key that is not authorized is refused' '
	test_must_fail ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -i "$TEST_DIR/other" \
		-p "$SSHD_PORT" "$SSHD_USER@127.0.0.1" true
'

test_expect_success 'sshd_restart brings it back on the same port' '
	old=$SSHD_PID &&
	sshd_restart &&
	[ "$SSHD_PID" != "$old" ] &&
	! kill -0 "$old" 2>/dev/null &&
	ssh -F "$SSHD_SSH_CONFIG" gg-test true
'

test_expect_success 'stopping by PID leaves the port free' '
	port=$SSHD_PORT &&
	sshd_stop &&
	! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
'

test_done
