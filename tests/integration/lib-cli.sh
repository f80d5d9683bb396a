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
