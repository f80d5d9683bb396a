#!/usr/bin/env bash
# t0010: idle stop on a real Debian 12 VM: systemd runs the timer, a real Jupyter
# Notebook 6.4.12 (Debian's, baked into the VM's cached tree) answers with its token,
# and the VM really powers off.  Two test hooks make it take minutes, not a quarter of
# an hour: the timer checks every 15 s instead of every minute (the first case sees the
# real unit's minute first), and the period is 60 s (so the warning comes 30 s before).
# What keeps the VM up is shown by moving the check's clock a day on
# (GCLOUD_GPU_CLOCK_OFFSET_FILE) while it holds: without it the next check would warn.
# The period is an hour while those cases run, then 60 s for the last, on the real
# clock again: a cell that outlasts the period keeps the VM up, and the VM stops a
# period after the cell's end (Jupyter's own time for it).  The test reads the check's
# state from the VM's disk on the host (the overlay's upper layer), never over SSH,
# since an SSH session is itself a use.
. "${GG_SOURCE_DIR:-.}/tests/integration/lib.sh"
. "$GG_SOURCE_DIR/tests/vm/lib-vm.sh"

vm_start jupyter || exit 1
vm_cli_env
vm_target root
export GCLOUD_GPU_TEST_HOOKS=1 GCLOUD_GPU_REMOTE_TEST_HOOKS=1
export GCLOUD_GPU_REMOTE_CLOCK_OFFSET_FILE=/var/lib/gg-test-clock
ROOT=/var/lib/gcloud-gpu
STATE=$VM_DIR/upper$ROOT/idle-state.json
# shellcheck disable=SC2034 # used in the test bodies
{ PERIOD=60; INTERVAL=15; TOKEN=$ROOT/jupyter-token; URL=http://127.0.0.1:8888; }

# In the foreground only: in the background, $! of a function is its subshell's, and
# stopping that would leave the CLI (and its SSH session) running.
gg() { "$GG_CLI" "$@"; }

# The `checked` time of the last check, "" before the first.
last_check() { jq -r '.checked // empty' "$STATE" 2>/dev/null || true; }

# wait_checks N: wait (up to 75 s each) for N checks after this moment; the last one's
# kind is in CHECK_KIND, and every kind seen in KINDS_SEEN.
wait_checks() {
	local n=$1 before now deadline
	KINDS_SEEN=
	while [ "$n" -gt 0 ]; do
		before=$(last_check)
		deadline=$((SECONDS + 75))
		while now=$(last_check) && [ "$now" = "$before" ]; do
			[ "$SECONDS" -lt "$deadline" ] || { echo "no idle check within 75 s"; return 1; }
			sleep 1
		done
		CHECK_KIND=$(jq -r .kind "$STATE" 2>/dev/null) || CHECK_KIND=none
		KINDS_SEEN="$KINDS_SEEN $CHECK_KIND"
		n=$((n - 1))
	done
}

# holds KIND: a day passes on the check's clock, and the second check after that
# (surely made after the jump; the first may still have seen the SSH session that
# moved the clock) says KIND: no warning, and the VM is up.
holds() {
	vm_ssh "echo \$(( \$(cat /var/lib/gg-test-clock) + 86400 )) >/var/lib/gg-test-clock" &&
	wait_checks 2 &&
	[ "$CHECK_KIND" = "$1" ] || { echo "expected '$1', saw:$KINDS_SEEN"; jq . "$STATE"; return 1; }
	case "$KINDS_SEEN" in *warn* | *stop*) echo "a warning came:$KINDS_SEEN"; return 1 ;; esac
	[ ! -e "$VM_DIR/exit" ] || { echo "the VM went down"; return 1; }
}

# quiet_again: the use of the case before is gone: within three checks one says
# the VM is quiet again (so no SSH session lingers into the next case).
quiet_again() {
	wait_checks 1 || return 1
	case "$CHECK_KIND" in idle | warn | warned) return 0 ;; esac
	wait_checks 1 || return 1
	case "$CHECK_KIND" in idle | warn | warned) return 0 ;; esac
	wait_checks 1 || return 1
	case "$CHECK_KIND" in idle | warn | warned) return 0 ;; esac
	echo "still '$CHECK_KIND' three checks later"; jq . "$STATE"; return 1
}

# wait_grep PATTERN FILE SECONDS: until FILE (on the host) has a line with PATTERN.
wait_grep() {
	local deadline=$((SECONDS + $3))
	until grep -q -e "$1" "$2" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "no '$1' in $2 within $3 s"; return 1; }
		sleep 0.5
	done
}

test_expect_success 'setup: a real Jupyter with the token, the helper there (a push)' '
	gg push "${VM_TARGET[@]}" --accept-new-host-key --payload "$GG_SOURCE_DIR/tests/integration/recipes/demo" \
		>"$TEST_DIR/push.out" 2>&1 &&
	vm_ssh "echo 0 >/var/lib/gg-test-clock && umask 077 &&
		od -An -N24 -tx1 /dev/urandom | tr -d \" \\n\" >$TOKEN &&
		printf \"JUPYTER_TOKEN=%s\\n\" \$(cat $TOKEN) >/root/jupyter.env &&
		systemd-run --unit=gg-jupyter -p EnvironmentFile=/root/jupyter.env \
			jupyter notebook --no-browser --allow-root --ip=127.0.0.1 --port=8888 \
			--notebook-dir=/root >/dev/null 2>&1 &&
		for i in \$(seq 120); do curl -s -o /dev/null $URL/api && exit 0; sleep 0.5; done; exit 1" &&
	vm_ssh "cat >/root/kernel-cell.py" <"$GG_SOURCE_DIR/tests/vm/kernel-cell.py"
'

test_expect_success 'idle-stop 60m: the timer runs, Jupyter is asked with its token, the check says quiet' '
	timer=$VM_DIR/upper/etc/systemd/system/gcloud-gpu-idle.timer &&
	gg idle-stop "${VM_TARGET[@]}" 60m >"$TEST_DIR/out" &&
	test_grep "^OnUnitActiveSec=60$" "$timer" &&
	export GCLOUD_GPU_REMOTE_IDLE_INTERVAL=$INTERVAL &&
	gg idle-stop "${VM_TARGET[@]}" 60m >"$TEST_DIR/out" &&
	test_grep "^OnUnitActiveSec=$INTERVAL$" "$timer" &&
	vm_ssh "systemctl is-active gcloud-gpu-idle.timer" &&
	wait_checks 2 &&
	jq -e ".verdict == \"waiting\" or .verdict == \"warn\"" "$STATE" &&
	! jq -r .reason "$STATE" | grep -q "cannot tell"
'

test_expect_success 'an SSH session open keeps it up' '
	{ ssh -tt -F "$VM_SSH_CONFIG" vm "sleep 300" </dev/null >/dev/null 2>&1 & } &&
	session=$! && test_track_pid "$session" &&
	holds ssh &&
	test_stop_pid "$session" &&
	quiet_again
'

test_expect_success 'gcloud-gpu tunnel open keeps it up' '
	{ "$GG_CLI" tunnel "${VM_TARGET[@]}" --port 0 </dev/null >"$TEST_DIR/tunnel.out" 2>&1 & } &&
	tunnel=$! && test_track_pid "$tunnel" &&
	holds ssh &&
	test_stop_pid "$tunnel" &&
	quiet_again
'

test_expect_success 'a running plan (its CLI gone) keeps it up' '
	rm -rf "$TEST_DIR/recipe" && cp -a "$GG_SOURCE_DIR/tests/integration/recipes/demo" "$TEST_DIR/recipe" &&
	printf "#!/bin/sh\ncase \"\$1\" in check) exit 1 ;; apply) while [ ! -e /root/gate ]; do sleep 1; done ;; esac\n" \
		>"$TEST_DIR/recipe/steps/25-gate.sh" && chmod +x "$TEST_DIR/recipe/steps/25-gate.sh" &&
	{ "$GG_CLI" push "${VM_TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push2.out" 2>&1 & } &&
	pusher=$! && test_track_pid "$pusher" &&
	wait_grep "\"step-start\".*25-gate" "$VM_DIR/upper$ROOT/events.jsonl" 150 &&
	test_stop_pid "$pusher" &&
	holds plan &&
	vm_ssh "touch /root/gate" &&
	wait_grep "\"type\":\"done\"" "$VM_DIR/upper$ROOT/events.jsonl" 60 &&
	quiet_again
'

test_expect_success 'a kernel running a long cell keeps it up past the period; after the cell, the period passes and it powers off within the period + 90 s' '
	vm_ssh "echo 0 >/var/lib/gg-test-clock && rm -f /root/cell.done &&
		systemd-run --unit=gg-cell /usr/bin/python3 /root/kernel-cell.py \
		$URL $TOKEN \"import time; time.sleep($((PERIOD + 45)))\" /root/cell.done >/dev/null 2>&1" &&
	gg idle-stop "${VM_TARGET[@]}" ${PERIOD}s >"$TEST_DIR/out" &&
	set_at=$SECONDS && kinds= &&
	while [ $((SECONDS - set_at)) -le $((PERIOD + INTERVAL)) ]; do
		wait_checks 1 || return 1
		kinds="$kinds $CHECK_KIND"
	done &&
	echo "checks while the cell ran:$kinds" >"$TEST_DIR/measured" &&
	case "$kinds" in *warn* | *stop*) false ;; esac &&
	[ "$CHECK_KIND" = kernel ] || { jq . "$STATE"; false; } &&
	[ ! -e "$VM_DIR/exit" ] &&
	wait_grep ok "$VM_DIR/upper/root/cell.done" 300 &&
	ended=$SECONDS &&
	vm_wait_down $((PERIOD + 90)) &&
	echo "powered off $((SECONDS - ended)) s after the cell ended (period $PERIOD s, checks every $INTERVAL s)" >>"$TEST_DIR/measured" &&
	[ $((SECONDS - ended)) -ge $((PERIOD - 2)) ] &&
	grep -q "\"idle\":\"warn\"" "$VM_DIR/upper$ROOT/events.jsonl" &&
	grep -q "\"idle\":\"stop\"" "$VM_DIR/upper$ROOT/events.jsonl"
'

test_expect_success 'booted again: logs say why it went down; idle-stop off removes the timer; status says off' '
	vm_boot && vm_target root &&
	gg logs "${VM_TARGET[@]}" >"$TEST_DIR/logs" 2>&1 &&
	test_grep "\[idle-stop\] 1 Jupyter kernel is busy" "$TEST_DIR/logs" &&
	test_grep "\[idle-stop\] .*powering off" "$TEST_DIR/logs" &&
	gg idle-stop "${VM_TARGET[@]}" off >"$TEST_DIR/off.out" &&
	! vm_ssh "systemctl is-active gcloud-gpu-idle.timer" &&
	vm_ssh "! ls /etc/systemd/system/gcloud-gpu-idle.timer /etc/systemd/system/timers.target.wants/gcloud-gpu-idle.timer 2>/dev/null" &&
	gg status "${VM_TARGET[@]}" >"$TEST_DIR/status" &&
	test_grep "^idle  *stop off" "$TEST_DIR/status"
'

# What the last case measured, in the test's output (a passing body's own is not kept).
if [ -f "$TEST_DIR/measured" ]; then
	while read -r line; do say "$line"; done <"$TEST_DIR/measured"
fi
test_done
