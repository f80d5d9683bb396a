# shellcheck shell=bash
# tests/integration/lib-cli.sh: what the gcloud-gpu CLI tests (t2NNN) share, on top of
# lib.sh: a real sshd as the "VM", the helper relocated into the test's scratch
# directory through GCLOUD_GPU_REMOTE_* (docs/ARCHITECTURE.md), and a private HOME and
# XDG directories so that nothing of the user's is read or written.
#
#   . "$(dirname "$0")/lib-cli.sh"
#   cli_setup || exit 1
#   gg push "${TARGET[@]}" --payload "$DEMO" ...
#
# GG_TEST_HELPER=PATH runs the tests against another helper build than the one in
# $GG_BUILD_DIR (the CLI uploads that one instead, through GCLOUD_GPU_HELPER).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO=$GG_SOURCE_DIR/tests/integration/recipes/demo
RELAY=$GG_SOURCE_DIR/tests/integration/tools/relay.py
export DEMO RELAY

if [ -n "${GG_TEST_HELPER:-}" ]; then
	GG_HELPER=$GG_TEST_HELPER
fi

gg() {
	"$GG_CLI" "$@"
}

# Does the helper built here have COMMAND yet?
helper_has() {
	"$GG_HELPER" --help 2>/dev/null | grep -q "^  $1 "
}

# Skip the whole script (an ok plan of 0 tests) when the helper lacks a command.
require_helper() {
	local c
	for c in "$@"; do
		if ! helper_has "$c"; then
			say "skipped: the helper has no '$c' command yet"
			test_done
		fi
	done
}

# The boot id the helper sees; rewrite it to simulate a reboot.
set_boot_id() {
	echo "$1" >"$TEST_DIR/boot_id"
}

cli_setup() {
	sshd_start || return 1
	HOME=$TEST_DIR/home
	XDG_CACHE_HOME=$HOME/.cache
	XDG_STATE_HOME=$HOME/.local/state
	mkdir -p "$HOME"
	GCLOUD_GPU_REMOTE_ROOT=$TEST_DIR/vm
	GCLOUD_GPU_REMOTE_BOOT_ID_FILE=$TEST_DIR/boot_id
	set_boot_id boot-1
	export HOME XDG_CACHE_HOME XDG_STATE_HOME GCLOUD_GPU_REMOTE_ROOT GCLOUD_GPU_REMOTE_BOOT_ID_FILE
	unset SSH_AUTH_SOCK
	GCLOUD_GPU_HELPER=$GG_HELPER
	export GCLOUD_GPU_HELPER
	# shellcheck disable=SC2034 # used by the scripts that source this
	TARGET=(--ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY"
		--known-hosts "$SSHD_KNOWN_HOSTS" --connect-timeout 5)
}

# A copy of the demo recipe the test may change: $TEST_DIR/recipe.
copy_demo() {
	rm -rf "$TEST_DIR/recipe" && cp -a "$DEMO" "$TEST_DIR/recipe"
}

# The payload byte count a push reported ("sent N payload bytes").
sent_bytes() {
	sed -n 's/^sent \([0-9]*\) payload bytes.*/\1/p' "$1"
}

# A relay (tools/relay.py, options passed on) in front of sshd, with the same host key
# for its port in a known_hosts file: VIA_RELAY is the target through it, RELAY_PORT
# its port and RELAY_PID its process (stop_relay stops it; the EXIT trap does too).
start_relay() {
	rm -f "$TEST_DIR/relay.port"
	python3 "$RELAY" "$TEST_DIR/relay.port" "$SSHD_PORT" "$@" &
	RELAY_PID=$!
	test_track_pid "$RELAY_PID"
	for _ in $(seq 50); do [ -s "$TEST_DIR/relay.port" ] && break; sleep 0.1; done
	RELAY_PORT=$(cat "$TEST_DIR/relay.port")
	printf "[127.0.0.1]:%s %s\n" "$RELAY_PORT" "$(cut -d" " -f1-2 "$SSHD_DIR/host_ed25519.pub")" \
		>"$TEST_DIR/relay_known_hosts"
	# shellcheck disable=SC2034 # used by the scripts that source this
	VIA_RELAY=(--ssh "$SSHD_USER@127.0.0.1:$RELAY_PORT" -i "$SSHD_CLIENT_KEY"
		--known-hosts "$TEST_DIR/relay_known_hosts" --connect-timeout 5)
}

stop_relay() {
	test_stop_pid "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	return 0
}

# Add a step to $TEST_DIR/recipe that prints N lines, one each 0.3 s (a long step).
add_slow_step() {
	cat >"$TEST_DIR/recipe/steps/25-slow.sh" <<'STEP'
#!/bin/sh
set -eu
case "$1" in
check) exit 1 ;;
apply) for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 0.3; done ;;
esac
STEP
	chmod +x "$TEST_DIR/recipe/steps/25-slow.sh"
}

# Wait (up to 60 s: CI may share the machine) until FILE has a line matching PATTERN.
wait_for_line() {
	local _
	for _ in $(seq 600); do
		grep -q -e "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no '$2' in $1:"; cat "$1"
	return 1
}

# The seq numbers of the logged events (not hello) in JSON-lines FILEs, one a line.
event_seqs() {
	cat "$@" | grep -v '"type":"hello"' | sed -n 's/^{"seq":\([0-9]*\),.*/\1/p'
}

# Are the logged events of FILEs exactly FIRST..LAST, each once?
seqs_exactly() {
	local first=$1 last=$2
	shift 2
	event_seqs "$@" >"$TEST_DIR/seqs.got" &&
	seq "$first" "$last" >"$TEST_DIR/seqs.want" &&
	test_cmp "$TEST_DIR/seqs.want" "$TEST_DIR/seqs.got"
}
