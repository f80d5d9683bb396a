#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables set here are read in the single-quoted test bodies
# The step runner: a plan's events in order, a failed step's tail, kill -9 mid-step
# then a restart, a torn log line, a simulated reboot, two applies at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"

# A fresh state root, markers and trace for each scenario.
fresh() {
	rm -rf "$TEST_DIR/root" "$TEST_DIR"/*.done "$TEST_DIR/unblock" "$TEST_DIR/trace" \
		"$TEST_DIR/reboots" "$TEST_DIR/runner.pid"
	helper_env
	sha=$(helper_push "$HELPER_RECIPE")
}

# Wait (up to 10 s) for a file to appear.
wait_for_file() {
	local i
	for i in $(seq 1 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	echo "no $1"
	return 1
}

# A process is gone, or a zombie nobody reaps (this container's init may not).
gone() {
	! kill -0 "$1" 2>/dev/null || grep -q "^[0-9]* (.*) Z" "/proc/$1/stat"
}

# One of the applies said it follows the plan the other started.
attached() {
	cat "$@" 2>/dev/null | grep -q "already running"
}

# The types (and steps) of an event stream, one per line.
event_types() {
	jq -r '.type + (if .step then " " + .step else "" end)' "$1"
}

fresh
test_expect_success 'apply runs the plan: hello first, done last, seq without gaps' '
	GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	helper_events_check "$TEST_DIR/ev" &&
	event_types "$TEST_DIR/ev" | grep -v "^log\|^progress" >"$TEST_DIR/types" &&
	printf "%s\n" hello plan "step-start 10-first" "step-done 10-first" \
		"step-start 20-reboot" "step-done 20-reboot" "step-start 30-last" \
		"step-done 30-last" done | test_cmp - "$TEST_DIR/types"
'

test_expect_success 'only steps/NN-*.sh run, each once, in order' '
	printf "%s\n" "first apply" "reboot step apply" "last apply" | test_cmp - "$TEST_DIR/trace"
'

test_expect_success 'output lines become log events, fd 3 lines progress events (clamped, junk dropped)' '
	jq -c "select(.type == \"progress\") | [.step, .pct, .msg]" "$TEST_DIR/ev" >"$TEST_DIR/progress" &&
	printf "%s\n" "[\"10-first\",50,\"halfway\"]" "[\"10-first\",100,\"over the top\"]" |
		test_cmp - "$TEST_DIR/progress" &&
	jq -r "select(.type == \"log\") | .msg" "$TEST_DIR/ev" >"$TEST_DIR/logs" &&
	test_grep "^first: to stderr$" "$TEST_DIR/logs" &&
	test_grep "^first: apply in $GCLOUD_GPU_ROOT/releases/$sha$" "$TEST_DIR/logs"
'

test_expect_success 'status reports the plan done, every step done' '
	"$GG_HELPER" status >"$TEST_DIR/status" &&
	jq -e ".plan == \"$sha\" and .state == \"done\" and .boot_id == \"boot-1\" and
		([.steps[].state] == [\"done\",\"done\",\"done\"]) and .last_seq > 10" "$TEST_DIR/status"
'

test_expect_success 'follow --from replays the log from there and stops at the end' '
	"$GG_HELPER" follow --from 3 --no-wait >"$TEST_DIR/follow" &&
	[ "$(sed -n 2p "$TEST_DIR/follow" | jq .seq)" -eq 3 ] &&
	[ "$(tail -n 1 "$TEST_DIR/follow" | jq -r .type)" = done ] &&
	"$GG_HELPER" follow --from 3 >"$TEST_DIR/follow2" &&
	tail -n +2 "$TEST_DIR/follow" | test_cmp - <(tail -n +2 "$TEST_DIR/follow2")
'

test_expect_success 'ensure runs every check again and applies only what fails' '
	: >"$TEST_DIR/trace" &&
	GG_NO_REBOOT=1 "$GG_HELPER" ensure >"$TEST_DIR/ev" &&
	event_types "$TEST_DIR/ev" | grep "^step-skipped" >"$TEST_DIR/skipped" &&
	printf "%s\n" "step-skipped 10-first" "step-skipped 20-reboot" | test_cmp - "$TEST_DIR/skipped" &&
	echo "last apply" | test_cmp - "$TEST_DIR/trace"
'

fresh
test_expect_success 'a failed step: step-failed with its code and last 20 lines, then failed' '
	test_expect_code 1 env GG_NO_REBOOT=1 GG_FAIL=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	jq -c "select(.type == \"step-failed\") | [.step, .code, (.tail | length), .tail[0], .tail[19]]" \
		"$TEST_DIR/ev" >"$TEST_DIR/failed" &&
	echo "[\"30-last\",7,20,\"line 10\",\"line 29\"]" | test_cmp - "$TEST_DIR/failed" &&
	[ "$(tail -n 1 "$TEST_DIR/ev" | jq -r .type)" = failed ] &&
	"$GG_HELPER" status | jq -e ".state == \"failed\" and .steps[2].state == \"failed\""
'

fresh
test_expect_success 'kill -9 of the runner mid-step, then resume: that step again, none twice after done' '
	{ GG_BLOCK=1 GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev1" 2>&1 & } &&
	follower=$! && test_track_pid "$follower" &&
	wait_for_file "$TEST_DIR/runner.pid" &&
	runner=$(cat "$TEST_DIR/runner.pid") &&
	kill -9 "$runner" && kill "$follower" && wait "$follower";
	wait_until gone "$runner" &&
	"$GG_HELPER" status | jq -e ".state == \"running\" and .steps[1].state == \"running\"" &&
	touch "$TEST_DIR/unblock" &&
	GG_NO_REBOOT=1 "$GG_HELPER" resume --from 1 >"$TEST_DIR/ev" &&
	helper_events_check "$TEST_DIR/ev" &&
	[ "$(tail -n 1 "$TEST_DIR/ev" | jq -r .type)" = done ] &&
	printf "%s\n" "first apply" "reboot step apply" "reboot step apply" "last apply" |
		test_cmp - "$TEST_DIR/trace" &&
	[ "$(event_types "$TEST_DIR/ev" | grep -c "^step-start 20-reboot")" -eq 2 ] &&
	[ "$(event_types "$TEST_DIR/ev" | grep -c "^step-start 10-first")" -eq 1 ]
'

test_expect_success 'a torn last line (power cut) is cut off; seq goes on without gaps' '
	last=$("$GG_HELPER" status | jq .last_seq) &&
	printf "{\"seq\":%d,\"ty" $((last + 1)) >>"$GCLOUD_GPU_ROOT/events.jsonl" &&
	GG_NO_REBOOT=1 "$GG_HELPER" ensure >"$TEST_DIR/ev" &&
	"$GG_HELPER" follow --from 1 --no-wait >"$TEST_DIR/all" &&
	helper_events_check "$TEST_DIR/all" &&
	[ "$(sed -n 2p "$TEST_DIR/ev" | jq .seq)" -eq $((last + 1)) ] &&
	jq -e . "$GCLOUD_GPU_ROOT/events.jsonl" >/dev/null
'

fresh
export GCLOUD_GPU_UNIT_DIR="$TEST_DIR/units"
test_expect_success 'exit 100: state rebooting, boot unit enabled, reboot event, reboot command run' '
	test_expect_code 6 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev1" 2>"$TEST_DIR/err" &&
	test_grep "rebooting" "$TEST_DIR/err" &&
	[ "$(tail -n 1 "$TEST_DIR/ev1" | jq -r .type)" = reboot ] &&
	[ "$(tail -n 1 "$TEST_DIR/ev1" | jq -r .boot_id)" = boot-1 ] &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
	"$GG_HELPER" status | jq -e ".state == \"rebooting\"" &&
	test_grep "^ExecStart=$GG_HELPER run$" "$GCLOUD_GPU_UNIT_DIR/gcloud-gpu-resume.service" &&
	[ -L "$GCLOUD_GPU_UNIT_DIR/multi-user.target.wants/gcloud-gpu-resume.service" ]
'

test_expect_success 'resume before the boot does not ask for a second reboot' '
	test_expect_code 6 "$GG_HELPER" resume >/dev/null 2>&1 &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots"
'

test_expect_success 'after the boot (new boot id) the runner goes on with the next step and finishes' '
	echo boot-2 >"$GCLOUD_GPU_BOOT_ID_FILE" &&
	"$GG_HELPER" run &&
	"$GG_HELPER" follow --from 1 >"$TEST_DIR/ev" &&
	helper_events_check "$TEST_DIR/ev" &&
	event_types "$TEST_DIR/ev" | grep -v "^log\|^progress\|^hello\|^plan" >"$TEST_DIR/types" &&
	printf "%s\n" "step-start 10-first" "step-done 10-first" "step-start 20-reboot" \
		"step-done 20-reboot" "reboot 20-reboot" "step-start 30-last" "step-done 30-last" done |
		test_cmp - "$TEST_DIR/types" &&
	printf "%s\n" "first apply" "reboot step apply" "last apply" | test_cmp - "$TEST_DIR/trace" &&
	[ ! -e "$GCLOUD_GPU_UNIT_DIR/gcloud-gpu-resume.service" ] &&
	[ ! -e "$GCLOUD_GPU_UNIT_DIR/multi-user.target.wants/gcloud-gpu-resume.service" ]
'
unset GCLOUD_GPU_UNIT_DIR

fresh
test_expect_success 'two applies at once: one plan, one runner, both follow it to done' '
	{ GG_BLOCK=1 GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/a.ev" 2>"$TEST_DIR/a.err" & } &&
	a=$! && test_track_pid "$a" &&
	{ GG_BLOCK=1 GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/b.ev" 2>"$TEST_DIR/b.err" & } &&
	b=$! && test_track_pid "$b" &&
	wait_for_file "$TEST_DIR/runner.pid" &&
	wait_until attached "$TEST_DIR/a.err" "$TEST_DIR/b.err" &&
	touch "$TEST_DIR/unblock" &&
	wait "$a" && wait "$b" &&
	cat "$TEST_DIR/a.err" "$TEST_DIR/b.err" | grep -c "already running" &&
	for f in a b; do
		helper_events_check "$TEST_DIR/$f.ev" &&
		[ "$(tail -n 1 "$TEST_DIR/$f.ev" | jq -r .type)" = done ] || return 1
	done &&
	[ "$(grep -c "\"type\":\"plan\"" "$GCLOUD_GPU_ROOT/events.jsonl")" -eq 1 ] &&
	printf "%s\n" "first apply" "reboot step apply" "last apply" | test_cmp - "$TEST_DIR/trace"
'

# A recipe of one step that writes what a hostile or careless step writes: a NUL in
# a line, progress bars redrawn with \r (20 lines of 8 KiB), and its open descriptors.
noisy_recipe() {
	mkdir -p "$TEST_DIR/noisy/steps" &&
	cat >"$TEST_DIR/noisy/steps/10-noisy.sh" <<'STEP' &&
#!/bin/sh
case "$1" in
check) exit 1 ;;
apply)
	ls -l "/proc/$$/fd" >"$GG_FDS"
	printf 'before\000after\n'
	i=0
	while [ "$i" -lt 30 ]; do
		head -c 8100 /dev/zero | tr '\0' '#'
		printf '\r\n'
		i=$((i + 1))
	done
	[ -n "${GG_NOISY_FAIL:-}" ] && exit 9
	exit 0 ;;
esac
STEP
	chmod +x "$TEST_DIR/noisy/steps/10-noisy.sh"
}

test_expect_success 'a NUL in step output becomes ?, and the event reads back' '
	rm -rf "$TEST_DIR/root" && helper_env && noisy_recipe &&
	sha=$(helper_push "$TEST_DIR/noisy") &&
	GG_FDS=$TEST_DIR/fds "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	! grep -q "u0000" "$GCLOUD_GPU_ROOT/events.jsonl" &&
	"$GG_HELPER" follow --from 1 --no-wait >"$TEST_DIR/all" &&
	helper_events_check "$TEST_DIR/all" &&
	jq -r "select(.type == \"log\") | .msg" "$TEST_DIR/all" | grep -qx "before?after"
'

test_expect_success 'a step gets stdin, stdout, stderr and fd 3 open, nothing else of the runner' '
	[ "$(grep -c " -> /dev/null" "$TEST_DIR/fds")" = 1 ] ||
		{ cat "$TEST_DIR/fds"; false; }
'

test_expect_success 'a failing step with long lines: a bounded step-failed, then failed, once' '
	rm -rf "$TEST_DIR/root" && helper_env &&
	sha=$(helper_push "$TEST_DIR/noisy") &&
	test_expect_code 1 env GG_FDS=/dev/null GG_NOISY_FAIL=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	jq -c "select(.type == \"step-failed\") | [.step, .code]" "$TEST_DIR/ev" >"$TEST_DIR/failed" &&
	echo "[\"10-noisy\",9]" | test_cmp - "$TEST_DIR/failed" &&
	[ "$(grep "step-failed" "$TEST_DIR/ev" | wc -c)" -le 20000 ] &&
	[ "$(tail -n 1 "$TEST_DIR/ev" | jq -r .type)" = failed ] &&
	"$GG_HELPER" status | jq -e ".state == \"failed\""
'

test_done
