#!/usr/bin/env bash
# shellcheck disable=SC2317 # run_schedule is called from test bodies
# Fault injection: seeded random schedules of faults over a real push, each followed
# by `reattach` until the plan is done, and then the end state is checked.
#
# Each schedule (seed S) pushes a new payload (tests/integration/recipes/faults, with
# fresh random data) through tools/relay.py and injects one fault at a random point:
#   0  the link cut during the upload (after a random number of bytes)
#   1  the link cut while the plan runs (after a random delay)
#   2  the link cut and sshd killed and restarted (the VM's sshd coming back)
#   3  the runner and its step killed with SIGKILL at a random point, the push
#      interrupted (^C), as a crash of the runner's process tree leaves it
# Then, whatever happened, `reattach` (up to three times) must bring the plan to done,
# and:
#   - every step ran to completion exactly once after the last time it was started
#     (the steps log "start" and "end" to a journal outside the VM root);
#   - the event log on the VM is 1..N with no gap or repeat, and the streams the CLI
#     printed for the same target (the push, then every reattach) show no event twice;
#   - every blob in the store has the sha256 of its name.
# A failed schedule prints its seed; replay it alone with
#   GG_FAULT_SEEDS="S" tests/integration/t9001-faults-schedules.sh
# GG_FAULT_SCHEDULES (default 50; 10 under the sanitizers) and GG_FAULT_SEED (the
# first seed, default 1) choose the run.  The end-state checks are lib-faults.sh's.
# The disk filling up and the clock jumping have their own schedules, on a VM root
# of its own small mount: t9002-faults-disk-clock.sh.
. "$(dirname "$0")/lib-cli.sh"
. "$(dirname "$0")/lib-faults.sh"

cli_setup || exit 1
require_helper have recv apply follow resume status

seeds=$(fault_seeds 50 10)

# run_schedule SEED: one push with one fault, reattach until done, the end state.
run_schedule() {
	local seed=$1 kind delay dir out push_pid rc
	RANDOM=$seed
	kind=$((RANDOM % 4))
	delay=$((RANDOM % 8))
	dir=$TEST_DIR/s$seed
	out=$dir/out
	mkdir -p "$out"
	cp -a "$FAULT_RECIPE" "$dir/recipe" &&
	echo "schedule $seed" >"$dir/recipe/data/seed.txt" &&
	head -c "$((20000 + RANDOM * 4))" /dev/urandom >"$dir/recipe/data/bulk.bin" || return 1
	rm -f "$PIDS" "$TEST_DIR/cut"
	case $kind in
	0) start_relay --cut-after "$((4000 + RANDOM * 4))" ;;
	*) start_relay --cut-file "$TEST_DIR/cut" ;;
	esac
	echo "seed $seed: fault $kind, delay 0.$delay s"
	"$GG_CLI" push "${VIA_RELAY[@]}" --payload "$dir/recipe" --json \
		>"$out/push.json" 2>"$out/push.err" &
	push_pid=$!
	case $kind in
	0) wait_or_interrupt "$push_pid" 30 ;;
	1) sleep "0.$delay"; touch "$TEST_DIR/cut"; wait_or_interrupt "$push_pid" 30 ;;
	2) sleep "0.$delay"; touch "$TEST_DIR/cut"; sleep 0.2; sshd_restart || return 1
	   wait_or_interrupt "$push_pid" 30 ;;
	3) sleep "0.$delay"; kill_runner; sleep 0.2; wait_or_interrupt "$push_pid" 0 ;;
	esac
	# Recovery goes through the same relay (whose faults are spent): the CLI keeps
	# what it saw per target, so "nothing twice" holds for the same target only.
	recover_plan "$dir" "$out" "$seed" "${VIA_RELAY[@]}"
	rc=$?
	stop_relay
	[ "$rc" -eq 0 ] || return 1
	check_journal "$RECOVERED_PLAN" &&
	check_event_log &&
	check_streams "${RECOVERED_STREAMS[@]}" &&
	check_blobs
}

# The helper in place and a first plan done, so that every schedule starts the same.
test_expect_success 'a first push puts the helper in place' '
	gg push "${TARGET[@]}" --payload "$FAULT_RECIPE" >"$TEST_DIR/first.out" 2>&1 &&
	plan_done && gg status "${TARGET[@]}" | grep -q "^plan  *done: all"
'

test_expect_success 'reattach after a plan that already ended returns at once' '
	timeout 20 "$GG_CLI" reattach "${TARGET[@]}" >"$TEST_DIR/again.out" 2>&1
'

for seed in $seeds; do
	test_expect_success "fault schedule seed $seed (replay: GG_FAULT_SEEDS=$seed)" "
		run_schedule $seed || { echo 'FAILED fault schedule: GG_FAULT_SEEDS=$seed $0'; false; }
	"
done

test_done
