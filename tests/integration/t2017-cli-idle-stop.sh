#!/usr/bin/env bash
# t2017: idle stop over the loopback sshd.  `gcloud-gpu idle-stop` writes the setting
# and the timer's units (into a test unit directory: no systemd here); the test then
# runs the service's ExecStart with exactly its Environment= lines, as the timer
# would, and moves the check's clock with the clock seam (GCLOUD_GPU_CLOCK_OFFSET_FILE)
# instead of waiting an hour.  Jupyter is tools/fake-jupyter.py, nvidia-smi and wall
# are stand-ins first on PATH, the power-off is a command that writes a line, and the
# check counts only the sessions of this test's sshd (GCLOUD_GPU_IDLE_SSHD_PID).  The
# real thing on a real VM (systemd, Jupyter, a power-off) is tests/vm/t0010.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper idle-set idle-check

UNITS=$TEST_DIR/units
SERVICE=$UNITS/gcloud-gpu-idle.service
# shellcheck disable=SC2034 # used in the test bodies
TIMER_LINK=$UNITS/timers.target.wants/gcloud-gpu-idle.timer
J=$TEST_DIR/jupyter
mkdir -p "$TEST_DIR/bin" "$J" "$TEST_DIR/vm"
echo 0 >"$TEST_DIR/clock"
export GCLOUD_GPU_TEST_HOOKS=1 GCLOUD_GPU_REMOTE_TEST_HOOKS=1
export GCLOUD_GPU_REMOTE_UNIT_DIR=$UNITS
export GCLOUD_GPU_REMOTE_CLOCK_OFFSET_FILE=$TEST_DIR/clock
export GCLOUD_GPU_REMOTE_POWEROFF_COMMAND="echo off >>$TEST_DIR/poweroffs"
export GCLOUD_GPU_REMOTE_UTMP_FILE=$TEST_DIR/utmp
export GCLOUD_GPU_REMOTE_IDLE_SSHD_PID=$SSHD_PID

# The stand-ins the check finds first on PATH.
cat >"$TEST_DIR/bin/nvidia-smi" <<STANDIN
#!/bin/sh
[ -e "$TEST_DIR/gpu-hang" ] && exec sleep 60
case "\$1" in
--query-gpu=utilization.gpu) cat "$TEST_DIR/gpu-util" ;;
--query-compute-apps=pid) cat "$TEST_DIR/gpu-apps" ;;
*) exit 2 ;;
esac
STANDIN
cat >"$TEST_DIR/bin/wall" <<STANDIN
#!/bin/sh
printf '%s\n' "\$*" >>"$TEST_DIR/wall"
STANDIN
chmod +x "$TEST_DIR/bin/nvidia-smi" "$TEST_DIR/bin/wall"
echo 0 >"$TEST_DIR/gpu-util"
: >"$TEST_DIR/gpu-apps"

# Jupyter: quiet since an hour before the test began.
OLD=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.000000Z)
kernels() { # STATE
	printf '[{"id": "5d9c1a8e-2f04-4b7e-9a61-0c3e8f2b7d15", "name": "python3", "last_activity": "%s", "execution_state": "%s", "connections": 1}]' \
		"$OLD" "$1" >"$J/kernels.json"
}
printf '{"started": "%s", "last_activity": "%s", "connections": 1, "kernels": 1}' "$OLD" "$OLD" >"$J/status.json"
kernels idle
cp "$GG_SOURCE_DIR/tests/fixtures/jupyter/forbidden.json" "$J/"
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef >"$J/token"
cp "$J/token" "$TEST_DIR/vm/jupyter-token"
python3 "$GG_SOURCE_DIR/tests/integration/tools/fake-jupyter.py" "$J" "$J/token" \
	"$TEST_DIR/jupyter.port" &
JUPYTER_PID=$!
test_track_pid "$JUPYTER_PID"
for _ in $(seq 100); do [ -s "$TEST_DIR/jupyter.port" ] && break; sleep 0.1; done
GCLOUD_GPU_REMOTE_JUPYTER_URL=http://127.0.0.1:$(cat "$TEST_DIR/jupyter.port")
export GCLOUD_GPU_REMOTE_JUPYTER_URL

# One check as the timer runs it: the service's ExecStart with its Environment= lines.
run_check() {
	local exec_start envs
	exec_start=$(sed -n 's/^ExecStart=//p' "$SERVICE")
	mapfile -t envs < <(sed -n 's/^Environment="\(.*\)"$/\1/p' "$SERVICE")
	# shellcheck disable=SC2086 # ExecStart is "HELPER idle-check"
	env -i PATH="$TEST_DIR/bin:/usr/bin:/bin" "${envs[@]}" $exec_start \
		>"$TEST_DIR/check.out" 2>"$TEST_DIR/check.err"
}

# Run checks until the decision's kind is KIND (up to 20 s: a session comes and goes).
check_until() {
	local _
	for _ in $(seq 40); do
		run_check && [ "$(jq -r .kind "$TEST_DIR/check.out")" = "$1" ] && return 0
		sleep 0.5
	done
	echo "the check never said '$1'; last:"; cat "$TEST_DIR/check.out" "$TEST_DIR/check.err"
	return 1
}

verdict_is() { # VERDICT KIND
	[ "$(jq -r '.verdict + " " + .kind' "$TEST_DIR/check.out")" = "$1 $2" ] ||
		{ echo "expected '$1 $2', got:"; cat "$TEST_DIR/check.out" "$TEST_DIR/check.err"; return 1; }
}

jump() { # SECONDS: move the check's clock on
	echo $(($(cat "$TEST_DIR/clock") + $1)) >"$TEST_DIR/clock"
}

test_expect_success 'a duration that is not one is refused before connecting' '
	test_expect_code 2 gg idle-stop "${TARGET[@]}" 45 2>"$TEST_DIR/err" &&
	test_grep "idle period .45. is not" "$TEST_DIR/err" &&
	test_expect_code 2 gg idle-stop "${TARGET[@]}" 45x 2>"$TEST_DIR/err" &&
	test_expect_code 2 gg idle-stop "${TARGET[@]}" 2>"$TEST_DIR/err" &&
	test_grep "needs a duration" "$TEST_DIR/err" &&
	GCLOUD_GPU_TEST_HOOKS= test_expect_code 2 gg idle-stop "${TARGET[@]}" 5m 2>"$TEST_DIR/err" &&
	test_grep "from 10m to 7d" "$TEST_DIR/err" &&
	[ ! -e "$SERVICE" ]
'

test_expect_success 'a machine without systemd: idle-stop says so, exit 8, nothing written' '
	test_expect_code 8 env GCLOUD_GPU_REMOTE_UNIT_DIR= "$GG_CLI" idle-stop "${TARGET[@]}" 4m \
		2>"$TEST_DIR/err" &&
	test_grep "idle stop needs systemd" "$TEST_DIR/err" &&
	[ ! -e "$TEST_DIR/vm/idle.json" ] && [ ! -e "$SERVICE" ]
'

test_expect_success 'idle-stop 4m writes the setting and the timer; status shows it' '
	gg idle-stop "${TARGET[@]}" 4m >"$TEST_DIR/out" &&
	test_grep "powers itself off after 4 min without use" "$TEST_DIR/out" &&
	[ "$(jq -c . "$TEST_DIR/vm/idle.json")" = "{\"period\":240,\"warning\":120}" ] &&
	test_grep "^ExecStart=.*/gcloud-gpu-helper-[0-9a-f]* idle-check$" "$SERVICE" &&
	test_grep "^OnUnitActiveSec=60$" "$UNITS/gcloud-gpu-idle.timer" &&
	[ -L "$TIMER_LINK" ] &&
	gg status "${TARGET[@]}" >"$TEST_DIR/status" &&
	test_grep "^idle  *stop after 4 min without use$" "$TEST_DIR/status" &&
	test_grep "not checked yet" "$TEST_DIR/status"
'

test_expect_success 'the timer checks every minute: a shorter interval only with the helper'"'"'s test hooks' '
	timer=$UNITS/gcloud-gpu-idle.timer &&
	GCLOUD_GPU_REMOTE_IDLE_INTERVAL=15 gg idle-stop "${TARGET[@]}" 4m >/dev/null &&
	test_grep "^OnUnitActiveSec=15$" "$timer" && test_grep "^OnBootSec=15$" "$timer" &&
	GCLOUD_GPU_REMOTE_IDLE_INTERVAL=15x gg idle-stop "${TARGET[@]}" 4m >/dev/null &&
	test_grep "^OnUnitActiveSec=60$" "$timer" &&
	GCLOUD_GPU_REMOTE_IDLE_INTERVAL=0 gg idle-stop "${TARGET[@]}" 4m >/dev/null &&
	test_grep "^OnUnitActiveSec=60$" "$timer" &&
	GCLOUD_GPU_REMOTE_IDLE_INTERVAL=15 GCLOUD_GPU_REMOTE_TEST_HOOKS=0 \
		gg idle-stop "${TARGET[@]}" 10m >/dev/null &&
	test_grep "^OnUnitActiveSec=60$" "$timer" && test_grep "^OnBootSec=60$" "$timer" &&
	gg idle-stop "${TARGET[@]}" 4m >/dev/null &&
	[ "$(jq -c . "$TEST_DIR/vm/idle.json")" = "{\"period\":240,\"warning\":120}" ]
'

test_expect_success 'quiet: the first check starts the count and logs it once' '
	run_check && verdict_is waiting idle &&
	run_check && verdict_is waiting idle &&
	[ "$(grep -c "\"step\":\"idle-stop\"" "$TEST_DIR/vm/events.jsonl")" -eq 1 ] &&
	grep -q "^/api/status token$" "$J/requests" &&
	grep -q "^/api/kernels token$" "$J/requests" &&
	! grep -q -e 0123456789abcdef "$TEST_DIR/check.err"
'

test_expect_success 'an interactive SSH session keeps the VM up; it counts again after' '
	{ ssh -tt -F "$SSHD_SSH_CONFIG" gg-test "sleep 600" </dev/null >/dev/null 2>&1 & } &&
	session=$! && test_track_pid "$session" &&
	check_until ssh && verdict_is active ssh &&
	test_stop_pid "$session" &&
	check_until idle
'

test_expect_success 'a tunnel alone (ssh -N -L) keeps the VM up' '
	port=$(free_port) &&
	{ ssh -N -L "$port:127.0.0.1:$SSHD_PORT" -F "$SSHD_SSH_CONFIG" gg-test </dev/null >/dev/null 2>&1 & } &&
	tunnel=$! && test_track_pid "$tunnel" &&
	check_until ssh &&
	test_stop_pid "$tunnel" &&
	check_until idle
'

test_expect_success 'a running plan keeps the VM up' '
	copy_demo && add_slow_step &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push" 2>&1 & } &&
	pusher=$! && test_track_pid "$pusher" &&
	wait_for_line "$TEST_DIR/vm/events.jsonl" "tick 1" &&
	check_until plan &&
	wait "$pusher" &&
	check_until idle
'

test_expect_success 'a busy kernel, a busy GPU and a GPU program keep it up; an idle kernel on the GPU does not' '
	kernels busy && run_check && verdict_is active kernel &&
	kernels idle && echo 37 >"$TEST_DIR/gpu-util" && run_check && verdict_is active gpu &&
	echo 0 >"$TEST_DIR/gpu-util" &&
	{ sleep 600 & } && program=$! && test_track_pid "$program" &&
	echo "$program" >"$TEST_DIR/gpu-apps" && run_check && verdict_is active gpu-process &&
	test_stop_pid "$program" &&
	{ bash -c "exec -a ipykernel_launcher sleep 600" & } && kernel=$! && test_track_pid "$kernel" &&
	echo "$kernel" >"$TEST_DIR/gpu-apps" && run_check && verdict_is waiting idle &&
	test_stop_pid "$kernel" && : >"$TEST_DIR/gpu-apps"
'

test_expect_success 'a Jupyter that refuses the token, or hangs, or a hung nvidia-smi: unsure, stays up' '
	echo fedcba9876543210fedcba9876543210fedcba9876543210 >"$TEST_DIR/vm/jupyter-token" &&
	run_check && verdict_is unsure unknown-jupyter &&
	test_grep "HTTP 403" "$TEST_DIR/check.out" &&
	cp "$J/token" "$TEST_DIR/vm/jupyter-token" &&
	touch "$J/hang" && run_check && verdict_is unsure unknown-jupyter &&
	rm "$J/hang" &&
	touch "$TEST_DIR/gpu-hang" && run_check && verdict_is unsure unknown-gpu &&
	test_grep "did not finish within 10 s" "$TEST_DIR/check.out" &&
	rm "$TEST_DIR/gpu-hang" &&
	jump 100000 && run_check && verdict_is warn warn
'

test_expect_success 'quiet for the period: a warning (log and terminals), then the power-off' '
	gg idle-stop "${TARGET[@]}" 4m >/dev/null &&
	run_check && verdict_is waiting idle &&
	jump 50 && run_check && verdict_is waiting idle &&
	jump 10 && run_check && verdict_is warn warn &&
	test_grep "idle for 1 min: the VM powers off in 3 min" "$TEST_DIR/wall" &&
	jump 170 && run_check && verdict_is waiting warned &&
	[ ! -e "$TEST_DIR/poweroffs" ] &&
	jump 10 && run_check && verdict_is stop stop &&
	echo off | test_cmp - "$TEST_DIR/poweroffs" &&
	gg logs "${TARGET[@]}" >"$TEST_DIR/logs" &&
	test_grep "\[idle-stop\] idle for 1 min: the VM powers off in 3 min" "$TEST_DIR/logs" &&
	test_grep "\[idle-stop\] idle for 4 min .*: powering off" "$TEST_DIR/logs"
'

test_expect_success 'a new boot forgets the stretch: the started VM counts anew' '
	set_boot_id boot-2 &&
	run_check && verdict_is waiting idle &&
	echo off | test_cmp - "$TEST_DIR/poweroffs"
'

test_expect_success 'use after the warning cancels it: the next stop needs a new warning' '
	jump 120 && run_check && verdict_is warn warn &&
	kernels busy && run_check && verdict_is active kernel &&
	kernels idle && run_check && verdict_is waiting idle &&
	jump 239 && run_check && verdict_is warn warn &&
	echo off | test_cmp - "$TEST_DIR/poweroffs"
'

test_expect_success 'a Jupyter that is down is no reason to stay up' '
	test_stop_pid "$JUPYTER_PID" &&
	jump 1000 && run_check && verdict_is stop stop &&
	printf "off\noff\n" | test_cmp - "$TEST_DIR/poweroffs"
'

test_expect_success 'a warning that cannot be logged does not count: no stop follows it' '
	set_boot_id boot-3 &&
	run_check && verdict_is waiting idle &&
	mv "$TEST_DIR/vm/events.jsonl" "$TEST_DIR/events.saved" && mkdir "$TEST_DIR/vm/events.jsonl" &&
	jump 120 && run_check && verdict_is warn warn &&
	jump 1000 && run_check && verdict_is warn warn &&
	rmdir "$TEST_DIR/vm/events.jsonl" && mv "$TEST_DIR/events.saved" "$TEST_DIR/vm/events.jsonl" &&
	jump 1 && run_check && verdict_is warn warn &&
	printf "off\noff\n" | test_cmp - "$TEST_DIR/poweroffs" &&
	jump 120 && run_check && verdict_is stop stop &&
	printf "off\noff\noff\n" | test_cmp - "$TEST_DIR/poweroffs"
'

test_expect_success 'status shows what the last check found' '
	gg status "${TARGET[@]}" >"$TEST_DIR/status" &&
	test_grep "^  *last check .*powering off (checked" "$TEST_DIR/status" &&
	gg status "${TARGET[@]}" --json | jq -e ".status.idle.period == 240 and .status.idle.timer"
'

test_expect_success 'two idle-set at once: both succeed, the files are whole, no temporary left' '
	setters= &&
	for i in 1 2 3 4 5 6; do
		{ GCLOUD_GPU_ROOT=$TEST_DIR/vm GCLOUD_GPU_UNIT_DIR=$UNITS GCLOUD_GPU_TEST_HOOKS=1 \
			"$GG_HELPER" idle-set $((600 + i)) & } &&
		setters="$setters $!"
	done &&
	failed= && for pid in $setters; do wait "$pid" || failed=1; done && [ -z "$failed" ] &&
	jq -e ".period > 600" "$TEST_DIR/vm/idle.json" &&
	test_grep "^ExecStart=" "$SERVICE" &&
	[ -z "$(find "$UNITS" "$TEST_DIR/vm" -name "*.tmp*")" ]
'

test_expect_success 'a unit value with a newline (a line of its own) is refused: the unit is not rewritten' '
	cp "$SERVICE" "$TEST_DIR/service.before" && cp "$TEST_DIR/vm/idle.json" "$TEST_DIR/idle.before" &&
	test_expect_code 3 env GCLOUD_GPU_ROOT=$TEST_DIR/vm GCLOUD_GPU_UNIT_DIR=$UNITS \
		GCLOUD_GPU_TEST_HOOKS=1 GCLOUD_GPU_POWEROFF_COMMAND="echo off
ExecStartPre=/bin/touch $TEST_DIR/injected" "$GG_HELPER" idle-set 700 2>"$TEST_DIR/err" &&
	test_grep "GCLOUD_GPU_POWEROFF_COMMAND. has a control character" "$TEST_DIR/err" &&
	! grep -q "ExecStartPre" "$SERVICE" &&
	test_cmp "$TEST_DIR/service.before" "$SERVICE" &&
	test_cmp "$TEST_DIR/idle.before" "$TEST_DIR/vm/idle.json"
'

test_expect_success 'push --idle-stop sets it; a push to an --ssh target without it changes nothing' '
	gg push "${TARGET[@]}" --payload "$DEMO" --idle-stop 2h >"$TEST_DIR/push" 2>&1 &&
	jq -e ".period == 7200" "$TEST_DIR/vm/idle.json" &&
	gg push "${TARGET[@]}" --payload "$DEMO" >"$TEST_DIR/push" 2>&1 &&
	jq -e ".period == 7200" "$TEST_DIR/vm/idle.json"
'

test_expect_success 'idle-stop off removes the timer; the check and status say off' '
	gg idle-stop "${TARGET[@]}" off >"$TEST_DIR/out" &&
	test_grep "idle stop is off" "$TEST_DIR/out" &&
	[ ! -e "$SERVICE" ] && [ ! -e "$UNITS/gcloud-gpu-idle.timer" ] && [ ! -L "$TIMER_LINK" ] &&
	GCLOUD_GPU_ROOT=$TEST_DIR/vm "$GG_HELPER" idle-check >"$TEST_DIR/check.out" &&
	[ "$(jq -r .verdict "$TEST_DIR/check.out")" = off ] &&
	gg status "${TARGET[@]}" >"$TEST_DIR/status" &&
	test_grep "^idle  *stop off" "$TEST_DIR/status"
'

test_done
