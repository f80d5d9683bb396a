#!/usr/bin/env bash
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
# first seed, default 1) choose the run.  Not covered here: the disk filling up (needs
# a mount) and the clock jumping (needs the system clock); see docs/SECURITY.md.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow resume status

FAULT_RECIPE=$GG_SOURCE_DIR/tests/integration/recipes/faults
VM=$TEST_DIR/vm
JOURNAL=$TEST_DIR/fault-journal
PIDS=$TEST_DIR/fault-pids

if [ "${GG_SANITIZE:-0}" = 1 ]; then
	default_schedules=10
else
	default_schedules=50
fi
schedules=${GG_FAULT_SCHEDULES:-$default_schedules}
first_seed=${GG_FAULT_SEED:-1}
seeds=${GG_FAULT_SEEDS:-$(seq "$first_seed" "$((first_seed + schedules - 1))")}

# A relay in front of sshd for this schedule; $RELAY_TARGET reaches sshd through it.
start_relay() {
	rm -f "$TEST_DIR/relay.port"
	python3 "$RELAY" "$TEST_DIR/relay.port" "$SSHD_PORT" "$@" &
	RELAY_PID=$!
	test_track_pid "$RELAY_PID"
	for _ in $(seq 50); do [ -s "$TEST_DIR/relay.port" ] && break; sleep 0.1; done
	RELAY_PORT=$(cat "$TEST_DIR/relay.port")
	printf "[127.0.0.1]:%s %s\n" "$RELAY_PORT" "$(cut -d" " -f1-2 "$SSHD_DIR/host_ed25519.pub")" \
		>"$TEST_DIR/relay_known_hosts"
	RELAY_TARGET=(--ssh "$SSHD_USER@127.0.0.1:$RELAY_PORT" -i "$SSHD_CLIENT_KEY"
		--known-hosts "$TEST_DIR/relay_known_hosts" --connect-timeout 5)
}

stop_relay() {
	test_stop_pid "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	return 0
}

# Is PID a process of this test's VM (its environment names our root)?  Only those
# are ever killed here.
is_ours() {
	[ -n "$1" ] && tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qx "GCLOUD_GPU_ROOT=$VM"
}

# Kill the runner and the step it runs (their PIDs as the step wrote them).
kill_runner() {
	local runner step
	[ -s "$PIDS" ] || return 0
	read -r runner step <"$PIDS"
	is_ours "$runner" && kill -KILL "$runner" 2>/dev/null
	is_ours "$step" && kill -KILL "$step" 2>/dev/null
	return 0
}

# Wait for background PID up to $2 seconds; then interrupt it as ^C would.
wait_or_interrupt() {
	local pid=$1 i
	for i in $(seq "$(($2 * 10))"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# A field of the helper's state.json on the "VM" (a local file here: faster than
# asking `gcloud-gpu status` over SSH between every reattach).
vm_state() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' \
		"$VM/state.json" "$1" 2>/dev/null
}

# Is plan $1 (default: whichever) the VM's plan, and done?
plan_done() {
	[ "$(vm_state state)" = "done" ] && { [ -z "${1:-}" ] || [ "$(vm_state plan)" = "$1" ]; }
}

# The plan a push started, from its --json output (its "plan" event); "" if none.
plan_of() {
	sed -n 's/.*"type":"plan".*"plan":"\([0-9a-f]*\)".*/\1/p' "$1" 2>/dev/null | tail -n 1
}

# For every step of release R: after its last "start", exactly one "end".
check_journal() {
	local release=$1
	awk -v r="$release" '
		$2 == r && $1 == "start" { started[$3] = 1; ends[$3] = 0 }
		$2 == r && $1 == "end"   { ends[$3]++ }
		END {
			n = 0
			for (s in started) {
				n++
				if (ends[s] != 1) { print "step " s ": " ends[s] " ends after its last start"; bad = 1 }
			}
			if (n == 0) { print "no step of " r " ran"; bad = 1 }
			exit bad
		}' "$JOURNAL"
}

# The VM's event log: seq 1..N, each once, in order.
check_event_log() {
	sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$VM/events.jsonl" >"$TEST_DIR/log.seqs"
	if ! seq 1 "$(wc -l <"$TEST_DIR/log.seqs")" | cmp -s - "$TEST_DIR/log.seqs"; then
		echo "event log seqs are not 1..N:"
		uniq -c "$TEST_DIR/log.seqs" | awk '$1 > 1' | head
		return 1
	fi
}

# No stream the CLI printed shows a logged event twice.
check_streams() {
	event_seqs "$@" | sort -n | uniq -d >"$TEST_DIR/dup.seqs"
	[ ! -s "$TEST_DIR/dup.seqs" ] || { echo "events shown twice: $(tr '\n' ' ' <"$TEST_DIR/dup.seqs")"; return 1; }
}

check_blobs() {
	local f name
	for f in "$VM"/blobs/*; do
		name=${f##*/}
		case $name in *.partial|*.tmp) continue ;; esac
		[ "$(sha256sum <"$f" | cut -d" " -f1)" = "$name" ] || { echo "blob $name fails its sha256"; return 1; }
	done
}

# run_schedule SEED: one push with one fault, reattach until done, the end state.
run_schedule() {
	local seed=$1 kind delay dir out release push_pid i last_push reattached
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
	"$GG_CLI" push "${RELAY_TARGET[@]}" --payload "$dir/recipe" --json \
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
	# A push cut off before its plan started leaves nothing to reattach to: the user
	# pushes again (the blobs already sent are not sent twice).
	last_push=$out/push.json
	release=$(plan_of "$last_push")
	if [ -z "$release" ]; then
		last_push=$out/push-again.json
		timeout 60 "$GG_CLI" push "${RELAY_TARGET[@]}" --payload "$dir/recipe" --json \
			>"$out/push-again.json" 2>"$out/push-again.err"
		release=$(plan_of "$out/push-again.json")
	fi
	[ -n "$release" ] || { echo "seed $seed: no plan started"; tail -n 3 "$out"/*.err; stop_relay; return 1; }
	for i in 1 2 3; do
		plan_done "$release" && break
		timeout 60 "$GG_CLI" reattach "${RELAY_TARGET[@]}" --json >"$out/reattach-$i.json" \
			2>"$out/reattach-$i.err"
	done
	stop_relay
	reattached=()
	for i in 1 2 3; do
		[ -e "$out/reattach-$i.json" ] && reattached+=("$out/reattach-$i.json")
	done
	if ! plan_done "$release"; then
		echo "seed $seed: plan $release is not done after three reattaches"
		cat "$VM/state.json"
		tail -n 3 "$out"/*.err "$VM/runner.log"
		return 1
	fi
	[ -n "$release" ] &&
	check_journal "$release" &&
	check_event_log &&
	check_streams "$last_push" "${reattached[@]}" &&
	check_blobs
}

# The helper in place and a first plan done, so that every schedule starts the same.
test_expect_success 'a first push puts the helper in place' '
	gg push "${TARGET[@]}" --payload "$FAULT_RECIPE" >"$TEST_DIR/first.out" 2>&1 &&
	plan_done && gg status "${TARGET[@]}" | grep -q "^state    done"
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
