#!/bin/bash
# t2015-cli-hostile: what a compromised or broken VM can send the CLI (docs/SECURITY.md).
#
# The VM's helper is played by tools/hostile-helper.sh, which the CLI uploads and runs
# as it would the real one (GCLOUD_GPU_HELPER).  Whatever it sends, nothing that
# reaches the user's terminal may drive it (no escape sequence, no C0 but newline and
# tab, no C1, valid UTF-8), --json output is ASCII, reads are bounded and end on ^C,
# and the CLI never reports work it did not do.
. "$(dirname "$0")/lib-cli.sh"
cli_setup || exit 1
cd "$TEST_DIR" || exit 1
HOSTILE=$GG_SOURCE_DIR/tests/integration/tools/hostile-helper.sh

hostile() {
	echo "$1" >"$TEST_DIR/hostile.mode"
}

# Is every byte of FILE something a terminal only shows?  UTF-8, and no control
# character but newline and tab (C0, DEL, C1 U+0080..U+009F).
inert() {
	python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
bad = [hex(ord(c)) for c in text
       if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f]
if bad:
    sys.exit("control characters %s in %r" % (bad[:5], text[:400]))
PY
}

# Is FILE JSON lines of ASCII only?
ascii_json() {
	python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
if any(b >= 0x80 or (b < 0x20 and b != 0x0a) for b in data):
    sys.exit("non-ASCII or control bytes in %r" % data[:400])
for line in data.decode().splitlines():
    json.loads(line)
PY
}

export GCLOUD_GPU_HELPER=$HOSTILE

test_expect_success 'the VM had a push: its (hostile) helper is there' '
	hostile escapes &&
	{ "$GG_CLI" logs "${TARGET[@]}" >/dev/null 2>&1; true; } &&
	ls "$GCLOUD_GPU_REMOTE_ROOT"/bin/gcloud-gpu-helper-* >/dev/null
'

test_expect_success 'status prints nothing that drives the terminal' '
	hostile escapes &&
	"$GG_CLI" status "${TARGET[@]}" >out 2>err &&
	inert out && inert err &&
	test_grep "?\]52;c;cHduZWQ=?" out
'

test_expect_success 'status --json is ASCII JSON, the escapes escaped' '
	hostile escapes &&
	"$GG_CLI" status "${TARGET[@]}" --json >out 2>err &&
	ascii_json out && inert err &&
	grep -qi "u001b\]0;pwned" out
'

test_expect_success 'logs: the events shown plain, and as ASCII JSON with --json' '
	hostile escapes &&
	{ "$GG_CLI" logs "${TARGET[@]}" >out 2>err; true; } &&
	inert out && inert err && test_grep "^[0-9-]* [0-9:]* failed: ?\[2Jgone" out &&
	{ "$GG_CLI" logs "${TARGET[@]}" --json >json 2>err; true; } &&
	ascii_json json && inert err &&
	[ "$(grep -c . json)" = 5 ]
'

test_expect_success 'a refusal quoting the VM (raw 8-bit C1 too) is printable' '
	hostile refuse &&
	{ "$GG_CLI" status "${TARGET[@]}" >out 2>err; [ $? = 8 ]; } &&
	inert out && inert err &&
	test_grep "refused ?\[2J" err
'

test_expect_success 'tunnel shows a token only when it is 64 hex digits' '
	hostile escapes &&
	mkdir -p "$GCLOUD_GPU_REMOTE_ROOT" &&
	printf "abc\033]52;c;eA==\007\n" >"$GCLOUD_GPU_REMOTE_ROOT/jupyter-token" &&
	port=$(free_port) &&
	{ "$GG_CLI" tunnel "${TARGET[@]}" --port "$port" >tun.out 2>&1 & pid=$!; } &&
	test_track_pid "$pid" &&
	wait_for_line tun.out "^forwarding" &&
	test_stop_pid "$pid" &&
	inert tun.out &&
	test_grep "does not hold a token" tun.out &&
	printf "%064d\n" 7 >"$GCLOUD_GPU_REMOTE_ROOT/jupyter-token" &&
	{ "$GG_CLI" tunnel "${TARGET[@]}" --port "$port" >tun.out 2>&1 & pid=$!; } &&
	test_track_pid "$pid" &&
	wait_for_line tun.out "^forwarding" &&
	test_stop_pid "$pid" &&
	test_grep "token=0\{63\}7$" tun.out
'

test_expect_success 'status of a VM that answers without end: refused at 1 MiB' '
	hostile flood &&
	{ timeout 120 "$GG_CLI" status "${TARGET[@]}" >out 2>err; [ $? = 8 ]; } &&
	test_grep "more than 1048576 bytes" err
'

# Start `status` on a VM that answers without end, wait until it reads, send SIG:
# it ends at once, as interrupted.
interrupted_by() {
	local pid rc
	"$GG_CLI" status "${TARGET[@]}" >out 2>err &
	pid=$!
	test_track_pid "$pid"
	wait_for_line "$GCLOUD_GPU_REMOTE_ROOT/../hostile.reading" . || return 1
	kill -"$1" "$pid"
	# Bounded: a CLI that ignores the signal fails here rather than hang the test.
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "still reading 30 s after SIG$1"
		kill -KILL "$pid"
		wait "$pid"
		return 1
	fi
	wait "$pid"
	rc=$?
	echo "$1: exit $rc"
	[ "$rc" = 7 ] && test_grep "interrupted" err
}

test_expect_success 'a VM that answers without end is left with ^C or SIGTERM' '
	hostile trickle &&
	rm -f "$TEST_DIR/hostile.reading" && interrupted_by INT &&
	rm -f "$TEST_DIR/hostile.reading" && interrupted_by TERM
'

test_expect_success 'a seq beyond 10^12 is refused and never saved' '
	hostile bigseq &&
	{ "$GG_CLI" logs "${TARGET[@]}" >out 2>err; [ $? = 8 ]; } &&
	test_grep "seq" err &&
	! grep -rq 9223372036854775807 "$XDG_STATE_HOME"
'

# A key whose authorized_keys line logs the command the CLI sends and runs nothing.
logging_key() {
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/logkey" &&
	printf '#!/bin/sh\nprintf "%%s" "$SSH_ORIGINAL_COMMAND" >%s/cmdline\nexit 1\n' "$TEST_DIR" \
		>"$TEST_DIR/logcmd.sh" && chmod +x "$TEST_DIR/logcmd.sh" &&
	echo "command=\"$TEST_DIR/logcmd.sh\" $(cat "$TEST_DIR/logkey.pub")" >>"$SSHD_DIR/authorized_keys"
}

test_expect_success 'GCLOUD_GPU_REMOTE_* reach the VM only with GCLOUD_GPU_TEST_HOOKS=1' '
	logging_key &&
	LOGGED=(--ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$TEST_DIR/logkey"
		--known-hosts "$SSHD_KNOWN_HOSTS" --connect-timeout 5) &&
	{ GCLOUD_GPU_REMOTE_EVIL=x env -u GCLOUD_GPU_TEST_HOOKS "$GG_CLI" status "${LOGGED[@]}" >out 2>err; true; } &&
	cat "$TEST_DIR/cmdline" && echo &&
	! grep -q "EVIL\|$GCLOUD_GPU_REMOTE_ROOT" "$TEST_DIR/cmdline" &&
	grep -q "/var/lib/gcloud-gpu/bin" "$TEST_DIR/cmdline" &&
	{ GCLOUD_GPU_REMOTE_EVIL=x "$GG_CLI" status "${LOGGED[@]}" >out 2>err; true; } &&
	grep -q "GCLOUD_GPU_EVIL=x" "$TEST_DIR/cmdline" &&
	grep -q "$GCLOUD_GPU_REMOTE_ROOT/bin" "$TEST_DIR/cmdline"
'

test_done
