#!/usr/bin/env bash
# shellcheck disable=SC2317 # run_schedule and its helpers are called from test bodies
# Fault injection, continued: the disk filling up under the store and the clock
# jumping, in seeded random schedules over a real push (as t9001, whose end-state
# checks, lib-faults.sh, these share).
#
# The VM root is a small tmpfs of its own (the test runs as root, as CI does; it is
# skipped otherwise).  Each schedule (seed S) pushes a new payload with fresh random
# data and injects one fault, of kind (S - 1) mod 6, so that any six seeds in a row
# cover every kind; where, when and how much is random:
#   0  the disk full before the push: `have` cannot store the manifest
#   1  the disk fills during the upload: less room than the payload's big blob
#   2  room for the blobs and a little more, not for a second copy of them: the
#      release is hard links to the blobs, so the push must go through
#   3  the disk fills while the steps run and journal: filled at the start of a random
#      step, so the runner cannot append its events
#   4  the wall clock the helper sees jumps forward or back by hours at the start of a
#      random step, and again at the next one (GCLOUD_GPU_CLOCK_OFFSET_FILE, the
#      helper's clock seam, clock.h: the machine's clock is never changed)
#   5  the monotonic clock jumps: sshd (and so every helper it starts) runs in a time
#      namespace days ahead; at the start of a random step the link is cut and sshd
#      comes back in the machine's own namespace, so the runner and the helpers that
#      follow it disagree on CLOCK_MONOTONIC by days
# The disk is filled either with a filler file or by shrinking the mount to what is
# used, at random, and freed again after the push (the file removed, the mount grown).
# Then, as a user would: when the push failed, its last line must be one clear line
# that says the VM's disk is full and what to do; the push is run again when no plan
# had started, `reattach` (up to three times) otherwise, and the plan must be done:
# every step ran to completion exactly once after it was last started, the event log
# is 1..N, no stream shows an event twice, every blob matches its sha256, and no
# half-written file (.tmp, staging directory, partial blob) is left.  Clock schedules
# must not fail the push at all, and the events the CLI printed stay in seq order
# whatever their times say.  A last test kills the runner and jumps the clock back and
# forth while `follow` waits out its grace: it must end after the grace, not before
# and not never.
#
# A failed schedule prints its seed; replay it alone with
#   GG_FAULT_SEEDS="S" tests/integration/t9002-faults-disk-clock.sh
# GG_FAULT_SCHEDULES (default 12; 6 under the sanitizers) and GG_FAULT_SEED choose the
# run, as in t9001.
. "$(dirname "$0")/lib-cli.sh"
. "$(dirname "$0")/lib-faults.sh"

DISK_SIZE=$((24 * 1024 * 1024))
mkdir -p "$VM"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o "size=$DISK_SIZE,mode=0700" tmpfs "$VM"; then
	say "skipped: needs root to mount a small tmpfs as the VM root"
	test_done
fi
# Stop what runs on the mount before unmounting it, then the usual clean-up.
# shellcheck disable=SC2154 # test_pids is lib.sh's
cleanup_mount() {
	local pid
	for pid in "${test_pids[@]}"; do
		test_stop_pid "$pid"
	done
	umount -l "$VM"
	test_cleanup
}
trap cleanup_mount EXIT

cli_setup || exit 1
require_helper have recv apply follow resume status

CLOCK=$TEST_DIR/clock-offset
GCLOUD_GPU_REMOTE_CLOCK_OFFSET_FILE=$CLOCK
export GCLOUD_GPU_REMOTE_CLOCK_OFFSET_FILE
echo 0 >"$CLOCK"
have_timens=0
unshare --fork --time --monotonic 1 true 2>/dev/null && have_timens=1
STEPS=(10-first 20-second 30-third)

seeds=$(fault_seeds 12 6)

disk_avail() {
	df -B1 --output=avail "$VM" | tail -n 1 | tr -d " "
}

# fill_disk LEAVE METHOD: leave about LEAVE bytes free on the VM's disk, with a filler
# file (METHOD 0) or by shrinking the mount to what it holds (METHOD 1).
fill_disk() {
	local leave=$1 method=$2 avail used
	avail=$(disk_avail)
	[ "$avail" -gt "$leave" ] || return 0
	if [ "$method" = 0 ]; then
		fallocate -l "$((avail - leave))" "$VM/filler"
	else
		used=$(df -B1 --output=used "$VM" | tail -n 1 | tr -d " ")
		mount -o "remount,size=$((used + leave))" "$VM"
	fi
}

free_disk() {
	rm -f "$VM/filler"
	mount -o "remount,size=$DISK_SIZE" "$VM"
}

# Wait (up to 20 s) for step NAME to start, in the journal's lines after line FROM.
wait_for_start() {
	local from=$1 name=$2 _
	for _ in $(seq 2000); do
		tail -n "+$((from + 1))" "$JOURNAL" 2>/dev/null | grep -q "^start .* $name\$" && return 0
		sleep 0.01
	done
	return 1
}

# A push that failed ends with one line: the VM's disk is full, and what to do.
check_disk_message() {
	local err=$1 last
	last=$(tail -n 1 "$err")
	case $last in
	"gcloud-gpu: "*"disk is full"*"free some space"*) ;;
	*) echo "the push's last line does not say the disk is full and what to do:"; cat "$err"; return 1 ;;
	esac
	[ "$(grep -c "disk is full" "$err")" -eq 1 ] || { echo "said more than once:"; cat "$err"; return 1; }
}

# The events a CLI stream printed are in strictly increasing seq order.
check_seq_order() {
	event_seqs "$1" | awk 'NR > 1 && $1 <= prev { print "seq " $1 " after " prev; bad = 1 }
		{ prev = $1 } END { exit bad }'
}

# Did the times of plan RELEASE's events jump by an hour or more (either way)?
clock_jumped() {
	python3 - "$VM/events.jsonl" "$1" <<'PY'
import datetime, json, sys
plan, times = sys.argv[2], []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev["type"] == "plan":
        times = [] if ev.get("plan") != plan else [ev["time"]]
    elif times:
        times.append(ev["time"])
t = [datetime.datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for x in times]
sys.exit(0 if any(abs(b - a) >= 3600 for a, b in zip(t, t[1:])) else 1)
PY
}

# sshd again on its port, in a time namespace whose monotonic and boot-time clocks are
# OFFSET seconds ahead (0: the machine's own namespace).
sshd_restart_in_time() {
	local offset=$1 sshd_bin
	sshd_stop
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null || break; sleep 0.05; done
	[ "$offset" -ne 0 ] || { sshd_restart; return; }
	sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
	unshare --fork --kill-child --time --monotonic "$offset" --boottime "$offset" \
		"$sshd_bin" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	test_track_pid "$SSHD_PID"
	wait_for_port "$SSHD_PORT" 100 || { echo "sshd did not come back"; return 1; }
}

# run_schedule SEED: one push with one fault, recovery as a user would, the end state.
run_schedule() {
	local seed=$1 kind method bulk name next dir out release push_pid push_rc i rc
	local before target
	RANDOM=$seed
	kind=$(((seed - 1) % 6))
	[ "$kind" = 5 ] && [ "$have_timens" = 0 ] && kind=4
	method=$((RANDOM % 2))
	bulk=$((100000 + RANDOM * 16))
	i=$((RANDOM % 3))
	name=${STEPS[$i]}
	next=${STEPS[$(((i + 1) % 3))]}
	dir=$TEST_DIR/s$seed
	out=$dir/out
	mkdir -p "$out"
	cp -a "$FAULT_RECIPE" "$dir/recipe" &&
	echo "schedule $seed" >"$dir/recipe/data/seed.txt" &&
	head -c "$bulk" /dev/urandom >"$dir/recipe/data/bulk.bin" || return 1
	echo 0 >"$CLOCK"
	before=$(wc -l <"$JOURNAL" 2>/dev/null || echo 0)
	target=("${TARGET[@]}")
	echo "seed $seed: fault $kind (fill method $method, $bulk bytes of data, step $name)"
	case $kind in
	0) fill_disk 0 "$method" ;;
	1) fill_disk "$((16384 + RANDOM * (bulk - 32768) / 32768))" "$method" ;;
	2) fill_disk "$((bulk + 65536 + RANDOM * bulk / 65536))" "$method" ;;
	5) start_relay --cut-file "$TEST_DIR/cut" && target=("${VIA_RELAY[@]}") &&
	   sshd_restart_in_time "$(((1 + RANDOM % 30) * 86400))" || return 1 ;;
	esac
	rm -f "$TEST_DIR/cut"
	timeout 60 "$GG_CLI" push "${target[@]}" --payload "$dir/recipe" --json \
		>"$out/push.json" 2>"$out/push.err" &
	push_pid=$!
	case $kind in
	3) wait_for_start "$before" "$name" && fill_disk 0 "$method" ;;
	4) wait_for_start "$before" "$name" && echo "$(((RANDOM % 2 * 2 - 1) * (1 + RANDOM % 12) * 3600))" >"$CLOCK" &&
	   wait_for_start "$before" "$next" && echo "$(((RANDOM % 2 * 2 - 1) * (1 + RANDOM % 12) * 3600))" >"$CLOCK" ;;
	5) wait_for_start "$before" "$name" && touch "$TEST_DIR/cut" && sshd_restart_in_time 0 ;;
	esac
	wait "$push_pid"
	push_rc=$?
	case $kind in
	0|1) [ "$push_rc" -ne 0 ] || { echo "seed $seed: the push did not fail on a full disk"; return 1; } ;;
	2|4|5) [ "$push_rc" -eq 0 ] || { echo "seed $seed: the push failed (exit $push_rc)"; cat "$out/push.err"; return 1; } ;;
	esac
	if [ "$push_rc" -ne 0 ]; then
		check_disk_message "$out/push.err" || return 1
		echo "disk $kind" >>"$TEST_DIR/hits"
	fi
	[ "$kind" -le 3 ] && free_disk
	# Recovery: a push that started no plan is run again; otherwise reattach.
	recover_plan "$dir" "$out" "$seed" "${target[@]}"
	rc=$?
	[ "$kind" = 5 ] && stop_relay
	[ "$rc" -eq 0 ] || return 1
	release=$RECOVERED_PLAN
	if [ "$kind" = 4 ] && clock_jumped "$release"; then
		echo "clock" >>"$TEST_DIR/hits"
	fi
	echo 0 >"$CLOCK"
	check_journal "$release" &&
	check_event_log &&
	check_streams "${RECOVERED_STREAMS[@]}" &&
	for i in "${RECOVERED_STREAMS[@]}"; do check_seq_order "$i" || return 1; done &&
	check_blobs &&
	check_no_leftovers
}

test_expect_success 'a first push puts the helper in place on the small disk' '
	gg push "${TARGET[@]}" --payload "$FAULT_RECIPE" >"$TEST_DIR/first.out" 2>&1 &&
	plan_done
'

for seed in $seeds; do
	test_expect_success "disk/clock schedule seed $seed (replay: GG_FAULT_SEEDS=$seed)" "
		run_schedule $seed || { echo 'FAILED fault schedule: GG_FAULT_SEEDS=$seed $0'; false; }
	"
done
say "faults that landed: $(sort "$TEST_DIR/hits" 2>/dev/null | uniq -c | tr -s ' \n' ' ')"

# `helper follow` of the plan's end, in the background: $follow_pid, its exit status
# in $TEST_DIR/grace/rc.
follow_in_background() {
	{
		GCLOUD_GPU_ROOT=$VM GCLOUD_GPU_BOOT_ID_FILE=$TEST_DIR/boot_id \
		GCLOUD_GPU_CLOCK_OFFSET_FILE=$CLOCK timeout 30 "$GG_HELPER" follow --from 999999 \
			>/dev/null 2>"$TEST_DIR/grace/follow.err"
		echo $? >"$TEST_DIR/grace/rc"
	} &
	# shellcheck disable=SC2034 # waited for in the test body
	follow_pid=$!
}

# A runner killed mid-plan, then the clock jumps back and forth while `follow` waits
# for a runner: it must give up after its grace (GG_FOLLOW_GRACE_MS, 5 s of real
# time), neither at once nor never.
test_expect_success 'follow waits out its grace in real time while the clock jumps' '
	mkdir -p "$TEST_DIR/grace" && cp -a "$FAULT_RECIPE" "$TEST_DIR/grace/recipe" &&
	echo grace >"$TEST_DIR/grace/recipe/data/seed.txt" &&
	before=$(wc -l <"$JOURNAL") && rm -f "$PIDS" &&
	{ "$GG_CLI" push "${TARGET[@]}" --payload "$TEST_DIR/grace/recipe" --json \
		>"$TEST_DIR/grace/push.json" 2>&1 & } && push_pid=$! &&
	wait_for_start "$before" 20-second && kill_runner && wait_or_interrupt "$push_pid" 0 &&
	echo -7200 >"$CLOCK" && start=$(date +%s.%N) &&
	follow_in_background &&
	sleep 1 && echo 36000 >"$CLOCK" && sleep 1 && echo -36000 >"$CLOCK" &&
	wait "$follow_pid" &&
	elapsed=$(echo "$(date +%s.%N) - $start" | bc) &&
	echo "follow ended with exit $(cat "$TEST_DIR/grace/rc") after $elapsed s" &&
	[ "$(cat "$TEST_DIR/grace/rc")" -eq 6 ] &&
	[ "$(echo "$elapsed >= 4.9 && $elapsed < 15" | bc)" = 1 ] &&
	echo 0 >"$CLOCK" &&
	release=$(plan_of "$TEST_DIR/grace/push.json") && [ -n "$release" ] &&
	timeout 60 "$GG_CLI" reattach "${TARGET[@]}" --json >"$TEST_DIR/grace/reattach.json" 2>&1 &&
	plan_done "$release" && check_journal "$release" && check_event_log && check_blobs
'

test_done
