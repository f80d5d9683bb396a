# shellcheck shell=bash
# tests/integration/lib-faults.sh: what the fault-injection schedules (t9NNN) share, on
# top of lib-cli.sh (whose start_relay/stop_relay give the relay that cuts the link):
# the runner's PIDs to kill, and the checks of the end state every schedule must reach:
#
#   check_journal RELEASE   every step ran to completion exactly once after the last
#                           time it was started (the steps of recipes/faults log
#                           "start" and "end" to $JOURNAL, outside the VM root)
#   check_event_log         the VM's event log is seq 1..N, each once, in order
#   check_streams FILE...   no stream the CLI printed shows a logged event twice
#   check_blobs             every blob in the store has the sha256 of its name (seals,
#                           what the helper knows of a blob's inode, are not blobs)
#   check_no_leftovers      no half-written file: no .tmp, staging directory or
#                           partial blob under the VM root
#
# Each schedule picks its faults with bash's RANDOM seeded by its seed, and a failed
# one prints the seed, so that GG_FAULT_SEEDS=S replays it alone.

# shellcheck disable=SC2034 # used by the scripts that source this
FAULT_RECIPE=$GG_SOURCE_DIR/tests/integration/recipes/faults
VM=$TEST_DIR/vm
JOURNAL=$TEST_DIR/fault-journal
PIDS=$TEST_DIR/fault-pids

# The seeds to run: GG_FAULT_SEEDS, else GG_FAULT_SCHEDULES (default $1; $2 under the
# sanitizers) seeds from GG_FAULT_SEED (default 1).
fault_seeds() {
	local schedules first
	if [ "${GG_SANITIZE:-0}" = 1 ]; then
		schedules=${GG_FAULT_SCHEDULES:-$2}
	else
		schedules=${GG_FAULT_SCHEDULES:-$1}
	fi
	first=${GG_FAULT_SEED:-1}
	echo "${GG_FAULT_SEEDS:-$(seq "$first" "$((first + schedules - 1))")}"
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

# recover_plan DIR OUT SEED TARGET...: bring the schedule's plan to done as a user
# would after the fault.  A push that started no plan leaves nothing to reattach to, so
# it is run again (the blobs already sent are not sent twice); then reattach, up to
# three times.  Sets RECOVERED_PLAN and RECOVERED_STREAMS (the event streams the CLI
# printed for this target, in order: the push that started the plan, the reattaches).
recover_plan() {
	local dir=$1 out=$2 seed=$3 i
	shift 3
	RECOVERED_STREAMS=("$out/push.json")
	RECOVERED_PLAN=$(plan_of "$out/push.json")
	if [ -z "$RECOVERED_PLAN" ]; then
		RECOVERED_STREAMS=("$out/push-again.json")
		timeout 60 "$GG_CLI" push "$@" --payload "$dir/recipe" --json \
			>"$out/push-again.json" 2>"$out/push-again.err"
		RECOVERED_PLAN=$(plan_of "$out/push-again.json")
	fi
	[ -n "$RECOVERED_PLAN" ] || { echo "seed $seed: no plan started"; tail -n 3 "$out"/*.err; return 1; }
	for i in 1 2 3; do
		plan_done "$RECOVERED_PLAN" && break
		timeout 60 "$GG_CLI" reattach "$@" --json >"$out/reattach-$i.json" 2>"$out/reattach-$i.err"
		RECOVERED_STREAMS+=("$out/reattach-$i.json")
	done
	plan_done "$RECOVERED_PLAN" && return 0
	echo "seed $seed: plan $RECOVERED_PLAN is not done after three reattaches"
	cat "$VM/state.json"
	tail -n 3 "$out"/*.err "$VM/runner.log"
	return 1
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
		case $name in *.partial|*.tmp|*.seal) continue ;; esac
		[ "$(sha256sum <"$f" | cut -d" " -f1)" = "$name" ] || { echo "blob $name fails its sha256"; return 1; }
	done
}

# No half-written state under the VM root: a temporary file (".tmp"), a staging
# directory (".tmp-XXXXXX") or a partial blob.
check_no_leftovers() {
	find "$VM" \( -name "*.tmp" -o -name "*.tmp-*" -o -name "*.partial" \) >"$TEST_DIR/leftovers"
	[ ! -s "$TEST_DIR/leftovers" ] || { echo "half-written state left:"; cat "$TEST_DIR/leftovers"; return 1; }
}
