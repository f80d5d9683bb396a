#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables set here are read in the single-quoted test bodies
# A reboot a step asks for is never lost, and a reboot that does not happen ends the
# plan with a cause instead of "rebooting" for ever:
#   - the runner killed (SIGKILL) between the step's exit 100 and the reboot being
#     recorded: the step runs again and asks again, the plan never goes on unrebooted;
#   - the boot unit's disk full at that moment (its own small tmpfs; root only): same;
#   - the reboot recorded but never asked for (a runner killed in between): a runner
#     started on the same boot id asks for it;
#   - the reboot command failing, or returning while the boot id stays the same past
#     GCLOUD_GPU_REBOOT_WAIT: the plan fails saying to reboot by hand and reattach,
#     and after that reboot `resume` goes on with the next step.
# The kill point is deterministic: the boot unit's temporary file is a FIFO, so the
# runner blocks opening it (in the kernel's wait_for_partner) right where the reboot
# is about to be recorded, and is killed there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"

RECIPE=$TEST_DIR/recipe
UNITS=$TEST_DIR/units
UNIT=gcloud-gpu-resume.service
mkdir -p "$RECIPE/steps"
cat >"$RECIPE/steps/10-first.sh" <<'STEP'
#!/bin/sh
case "$1" in
check) [ -f "$GCLOUD_GPU_ROOT/../first.done" ] ;;
apply) echo "first apply" >>"$GG_TRACE"; touch "$GCLOUD_GPU_ROOT/../first.done" ;;
esac
STEP
# As a driver install: in place once installed AND booted since (check looks at the
# machine, here the boot id, not at a marker alone).
cat >"$RECIPE/steps/20-driver.sh" <<'STEP'
#!/bin/sh
m=$GCLOUD_GPU_ROOT/../driver.installed-on
case "$1" in
check) [ -f "$m" ] && [ "$(cat "$m")" != "$(cat "$GCLOUD_GPU_BOOT_ID_FILE")" ] ;;
apply)
	echo "driver apply $(cat "$GCLOUD_GPU_BOOT_ID_FILE")" >>"$GG_TRACE"
	echo "$PPID" >"$GCLOUD_GPU_ROOT/../runner.pid"
	cat "$GCLOUD_GPU_BOOT_ID_FILE" >"$m"
	exit 100
	;;
esac
STEP
cat >"$RECIPE/steps/30-last.sh" <<'STEP'
#!/bin/sh
case "$1" in
check) exit 1 ;;
apply) echo "last apply" >>"$GG_TRACE" ;;
esac
STEP
chmod +x "$RECIPE"/steps/*.sh

fresh() {
	rm -rf "$TEST_DIR/root" "$TEST_DIR"/*.done "$TEST_DIR/driver.installed-on" \
		"$TEST_DIR/trace" "$TEST_DIR/reboots" "$TEST_DIR/runner.pid" "${UNITS:?}"/*
	mkdir -p "$UNITS"
	helper_env
	export GCLOUD_GPU_UNIT_DIR=$UNITS
	unset GCLOUD_GPU_REBOOT_WAIT
	sha=$(helper_push "$RECIPE")
}

blocked_on_fifo() {
	[ -s "$TEST_DIR/runner.pid" ] && [ "$(cat "/proc/$(cat "$TEST_DIR/runner.pid")/wchan" 2>/dev/null)" = wait_for_partner ]
}

# The types (and steps) of an event stream, one per line, without output.
event_types() {
	jq -r 'select(.type != "log" and .type != "progress") | .type + (if .step then " " + .step else "" end)' "$1"
}

state_is() {
	"$GG_HELPER" status >"$TEST_DIR/status" || return 1
	if ! jq -e "$1" "$TEST_DIR/status" >/dev/null; then
		echo "status is not $1:"
		cat "$TEST_DIR/status"
		return 1
	fi
}

# After the boot: the plan goes on with 30-last and ends done, the log 1..N.
finishes_after_boot() {
	echo boot-2 >"$GCLOUD_GPU_BOOT_ID_FILE" &&
	"$GG_HELPER" "$@" >"$TEST_DIR/after" &&
	"$GG_HELPER" follow --from 1 --no-wait >"$TEST_DIR/all" &&
	[ "$(tail -n 1 "$TEST_DIR/all" | jq -r .type)" = "done" ] &&
	helper_events_check "$TEST_DIR/all" &&
	[ "$(grep -c "^last apply$" "$TEST_DIR/trace")" -eq 1 ] &&
	[ "$(tail -n 1 "$TEST_DIR/trace")" = "last apply" ] &&
	[ ! -e "$UNITS/$UNIT" ]
}

fresh
test_expect_success 'killed between the exit 100 and the reboot being recorded: the step asks again' '
	mkfifo "$UNITS/$UNIT.tmp" &&
	{ "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev1" 2>&1 & } &&
	follower=$! && test_track_pid "$follower" &&
	wait_until blocked_on_fifo &&
	kill -9 "$(cat "$TEST_DIR/runner.pid")" && kill "$follower" && wait "$follower";
	rm -f "$UNITS/$UNIT.tmp" &&
	test_expect_code 6 "$GG_HELPER" resume >"$TEST_DIR/ev2" 2>"$TEST_DIR/err" &&
	test_grep "rebooting" "$TEST_DIR/err" &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
	printf "%s\n" "first apply" "driver apply boot-1" "driver apply boot-1" | test_cmp - "$TEST_DIR/trace" &&
	state_is ".state == \"rebooting\" and ([.steps[].state] == [\"done\",\"done\",\"pending\"])" &&
	[ "$(event_types "$TEST_DIR/ev2" | grep -c "^step-start 20-driver")" -eq 2 ] &&
	[ "$(event_types "$TEST_DIR/ev2" | tail -n 1)" = "reboot 20-driver" ]
'

test_expect_success '... and after the boot it goes on, one reboot event in a log without gaps' '
	finishes_after_boot run &&
	[ "$(event_types "$TEST_DIR/all" | grep -c "^reboot")" -eq 1 ]
'

fresh
test_expect_success 'recorded but never asked for: a runner on the same boot id asks for the reboot' '
	test_expect_code 6 "$GG_HELPER" apply "$sha" >/dev/null 2>&1 &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
	jq "del(.reboot_asked)" "$GCLOUD_GPU_ROOT/state.json" >"$TEST_DIR/state.json" &&
	cp "$TEST_DIR/state.json" "$GCLOUD_GPU_ROOT/state.json" &&
	test_expect_code 6 "$GG_HELPER" resume >/dev/null 2>&1 &&
	printf "%s\n" rebooted rebooted | test_cmp - "$TEST_DIR/reboots" &&
	test_expect_code 6 "$GG_HELPER" resume >/dev/null 2>&1 &&
	[ "$(wc -l <"$TEST_DIR/reboots")" -eq 2 ] &&
	! grep -q "last apply" "$TEST_DIR/trace" &&
	finishes_after_boot resume
'

fresh
test_expect_success 'the reboot command fails: failed, with its exit status and what to do' '
	export GCLOUD_GPU_REBOOT_COMMAND="echo tried >>$TEST_DIR/reboots; exit 3" &&
	test_expect_code 1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev1" 2>/dev/null &&
	helper_events_check "$TEST_DIR/ev1" &&
	event_types "$TEST_DIR/ev1" | tail -n 3 >"$TEST_DIR/types" &&
	printf "%s\n" "step-done 20-driver" "reboot 20-driver" "failed 20-driver" | test_cmp - "$TEST_DIR/types" &&
	jq -s -e "any(.[]; .type == \"log\" and .code == 3 and .step == \"20-driver\")" "$TEST_DIR/ev1" &&
	tail -n 1 "$TEST_DIR/ev1" | jq -r .msg >"$TEST_DIR/msg" &&
	test_grep "reboot command failed (exit 3)" "$TEST_DIR/msg" &&
	test_grep "reboot it yourself, then run .gcloud-gpu reattach." "$TEST_DIR/msg" &&
	state_is ".state == \"failed\" and ([.steps[].state] == [\"done\",\"done\",\"pending\"])" &&
	[ -e "$UNITS/$UNIT" ] &&
	test_expect_code 1 "$GG_HELPER" resume >/dev/null 2>&1 &&
	echo tried | test_cmp - "$TEST_DIR/reboots" &&
	! grep -q "last apply" "$TEST_DIR/trace"
'

test_expect_success '... rebooted by hand, resume goes on with the next step' '
	finishes_after_boot resume &&
	event_types "$TEST_DIR/after" | sed -n 1,3p >"$TEST_DIR/types" &&
	printf "%s\n" hello plan "step-start 30-last" | test_cmp - "$TEST_DIR/types" &&
	state_is ".state == \"done\" and ([.steps[].state] == [\"done\",\"done\",\"done\"])"
'

fresh
# resume, while the reboot's wait lasts: exit 6 (waiting), asking nothing again; once it
# is over, exit 1 (failed).  Polled until it fails, never timed: a loaded machine
# makes any fixed pause too short or the first resume too late.
resume_until_failed() {
	local rc _
	for _ in $(seq 600); do
		"$GG_HELPER" resume >"$TEST_DIR/ev" 2>/dev/null
		rc=$?
		[ "$rc" = 1 ] && return 0
		[ "$rc" = 6 ] || { echo "resume exited $rc"; return 1; }
		echo rebooted | test_cmp - "$TEST_DIR/reboots" || return 1
		sleep 0.1
	done
	echo "the reboot's wait never ended"
	return 1
}

test_expect_success 'the command returns and the VM does not go down: failed once the wait is over' '
	export GCLOUD_GPU_REBOOT_WAIT=3 &&
	test_expect_code 6 "$GG_HELPER" apply "$sha" >/dev/null 2>&1 &&
	test_expect_code 6 "$GG_HELPER" resume >/dev/null 2>&1 &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
	resume_until_failed &&
	tail -n 1 "$TEST_DIR/ev" | jq -r .msg >"$TEST_DIR/msg" &&
	test_grep "did not go down within 3 s of the reboot command" "$TEST_DIR/msg" &&
	echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
	finishes_after_boot run
'

fresh
test_expect_success 'the plan ends after the boot: the unit is gone, durably (directories fsync'"'"'d)' '
	test_expect_code 6 "$GG_HELPER" apply "$sha" >/dev/null 2>&1 &&
	[ -e "$UNITS/$UNIT" ] &&
	echo boot-2 >"$GCLOUD_GPU_BOOT_ID_FILE" &&
	strace_to "$TEST_DIR/strace" unlink,unlinkat,openat,fsync "$GG_HELPER" run &&
	[ ! -e "$UNITS/$UNIT" ] &&
	n=$(grep -nF "\"$UNITS/$UNIT\"" "$TEST_DIR/strace" | grep unlink | tail -n 1 | cut -d: -f1) &&
	tail -n +"${n:?no unlink of the unit}" "$TEST_DIR/strace" >"$TEST_DIR/after" &&
	test_grep "\"$UNITS\", O_RDONLY.*O_DIRECTORY" "$TEST_DIR/after" &&
	test_grep "fsync" "$TEST_DIR/after"
'

# The boot unit's disk full right when the step asks for the reboot (its own small
# tmpfs, as /etc on a disk of its own): nothing may be recorded half.
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k,mode=0755 tmpfs "$UNITS" 2>/dev/null; then
	cleanup_mount() {
		umount -l "$UNITS"
		test_cleanup
	}
	trap cleanup_mount EXIT
	fresh
	test_expect_success 'the boot unit cannot be written (disk full): the step is not done, and asks again' '
		dd if=/dev/zero of="$UNITS/filler" bs=4k 2>/dev/null;
		{ "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev1" 2>&1 & } &&
		follower=$! && test_track_pid "$follower" &&
		wait_until grep -qs "No space left" "$GCLOUD_GPU_ROOT/runner.log" &&
		kill "$follower" && wait "$follower";
		state_is ".state == \"running\" and .steps[1].state != \"done\"" &&
		rm -f "$UNITS/filler" &&
		test_expect_code 6 "$GG_HELPER" resume >/dev/null 2>&1 &&
		echo rebooted | test_cmp - "$TEST_DIR/reboots" &&
		! grep -q "last apply" "$TEST_DIR/trace" &&
		finishes_after_boot run
	'
else
	say "skipped the full-disk case: needs root to mount a small tmpfs"
fi

fresh
test_expect_success 'a unit value with a newline (a second line of its own) is refused; the plan fails' '
	export GCLOUD_GPU_REBOOT_COMMAND="echo rebooted >>$TEST_DIR/reboots
ExecStartPre=/bin/touch $TEST_DIR/injected" &&
	test_expect_code 1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" 2>"$TEST_DIR/err";
	rc=$?; helper_env; export GCLOUD_GPU_UNIT_DIR=$UNITS; [ "$rc" = 0 ] &&
	! grep -rq "ExecStartPre" "$UNITS" &&
	[ ! -e "$UNITS/$UNIT" ] &&
	tail -n 1 "$TEST_DIR/ev" | jq -r .msg >"$TEST_DIR/msg" &&
	test_grep "GCLOUD_GPU_REBOOT_COMMAND. has a control character" "$TEST_DIR/msg" &&
	state_is ".state == \"failed\""
'

test_done
