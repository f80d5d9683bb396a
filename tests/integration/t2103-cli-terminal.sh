#!/usr/bin/env bash
# What a person sees in a real terminal (issue 16, items 4 and 6): push in a 100x30
# tmux pane, the screen read with capture-pane while a step runs (its elapsed time)
# and at the end (the step list stays, with marks and times, nothing half-erased);
# and `gcloud-gpu ssh` giving an interactive shell on a pty whose exit status comes back.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
command -v tmux >/dev/null || { echo "tmux not found: run tools/deps"; exit 1; }

SOCK=$TEST_DIR/tmux.sock
tm() {
	tmux -S "$SOCK" "$@"
}

# The pane's text now, into FILE.
screen() {
	tm capture-pane -p -t gg >"$1"
}

# Wait (up to 60 s) until the pane shows PATTERN; the screen is in FILE.
wait_screen() {
	local _
	for _ in $(seq 600); do
		screen "$1" && grep -q -e "$2" "$1" && return 0
		sleep 0.1
	done
	echo "no '$2' on the screen:"; cat "$1"
	return 1
}

copy_demo && add_slow_step
printf "cd %q\n" "$TEST_DIR" >"$TEST_DIR/env.sh"
for v in HOME XDG_CACHE_HOME XDG_STATE_HOME GCLOUD_GPU_REMOTE_ROOT GCLOUD_GPU_REMOTE_BOOT_ID_FILE GCLOUD_GPU_HELPER; do
	printf "export %s=%q\n" "$v" "${!v}" >>"$TEST_DIR/env.sh"
done
printf "export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen PS1='$ '\n" >>"$TEST_DIR/env.sh"
# shellcheck disable=SC2034 # used in the test bodies
TARGET_WORDS=$(printf "%q " "${TARGET[@]}")

tm -u -f /dev/null new-session -d -s gg -x 100 -y 30 "bash --norc --noprofile -i" || exit 1
test_track_pid "$(tm display -p -t gg '#{pid}')"
tm send-keys -t gg ". $TEST_DIR/env.sh; clear" Enter

test_expect_success '6: while a step runs the pane shows the list and its elapsed time' '
	tm send-keys -t gg "$GG_CLI push $TARGET_WORDS --payload $TEST_DIR/recipe; echo push-exit=\$?" Enter &&
	wait_screen "$TEST_DIR/during" "▸ 25-slow  *[0-9.]*s" &&
	test_grep "✓ 10-hello" "$TEST_DIR/during" && test_grep "· 30-check" "$TEST_DIR/during" &&
	awk "length > 100 { exit 1 }" "$TEST_DIR/during"
'

test_expect_success '6: at the end the summary stays: marks, times, the ready line with its hint' '
	wait_screen "$TEST_DIR/after" "push-exit=[0-9]" &&
	test_grep "push-exit=0" "$TEST_DIR/after" &&
	test_grep "^steps: 4 done, 0 already in place, 0 failed, 0 not run; [0-9.ms]* in all" "$TEST_DIR/after" &&
	test_grep "^  ✓ 25-slow  *[0-9.]*s$" "$TEST_DIR/after" &&
	test_grep "is ready: run .gcloud-gpu tunnel --ssh" "$TEST_DIR/after" &&
	! grep -q "▸" "$TEST_DIR/after" && ! grep -q "\[#" "$TEST_DIR/after"
'

test_expect_success '6: a second push shows what it skipped (=) and what ran again' '
	tm send-keys -t gg "clear; $GG_CLI push $TARGET_WORDS --payload $TEST_DIR/recipe; echo push-exit=\$?" Enter &&
	wait_screen "$TEST_DIR/again" "push-exit=[0-9]" && test_grep "push-exit=0" "$TEST_DIR/again" &&
	test_grep "^  = 10-hello  *already in place" "$TEST_DIR/again" &&
	test_grep "^steps: 2 done, 2 already in place" "$TEST_DIR/again"
'

test_expect_success '4: ssh gives a shell on a pty; its exit status comes back' '
	tm send-keys -t gg "clear; $GG_CLI ssh $TARGET_WORDS; echo ssh-exit=\$?" Enter &&
	tm send-keys -t gg "tty; echo \$((6 * 7)); exit 3" Enter &&
	wait_screen "$TEST_DIR/ssh" "ssh-exit=[0-9]" &&
	test_grep "^/dev/pts/" "$TEST_DIR/ssh" && test_grep "^42" "$TEST_DIR/ssh" &&
	test_grep "ssh-exit=3" "$TEST_DIR/ssh"
'

test_done
