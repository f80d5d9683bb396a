#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables set here are read in the single-quoted test bodies
# Steps in parallel: the order their `# needs:` lines give, at most three at a time,
# recipes refused before the plan starts, a failure while others run, a reboot asked
# while others run, and the runner killed after every durable write it makes (each
# followed by a resume to done, and the whole record checked).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"

RECIPE=$TEST_DIR/recipe

# step NAME NEEDS-LINE BODY: a step of $RECIPE.  NEEDS-LINE is written as is after the
# `#!` line ("" for none).  The step's effect is a marker ($TEST_DIR/done-NAME): its
# check passes once it is there.  Its apply traces "start", how many steps run beside
# it (itself included), then BODY, then "end", to $TEST_DIR/trace.
step() {
	mkdir -p "$RECIPE/steps"
	cat >"$RECIPE/steps/$1.sh" <<STEP
#!/bin/bash
$2
set -eu
dir=\$GCLOUD_GPU_ROOT/..
case "\$1" in
check) [ -f "\$dir/done-\$GCLOUD_GPU_STEP" ] ;;
apply)
	echo "start \$GCLOUD_GPU_STEP" >>"\$dir/trace"
	mkdir -p "\$dir/running" && touch "\$dir/running/\$GCLOUD_GPU_STEP"
	echo "beside \$(ls "\$dir/running" | wc -l) \$GCLOUD_GPU_STEP" >>"\$dir/trace"
	$3
	rm -f "\$dir/running/\$GCLOUD_GPU_STEP"
	echo "end \$GCLOUD_GPU_STEP" >>"\$dir/trace"
	touch "\$dir/done-\$GCLOUD_GPU_STEP"
	;;
esac
STEP
	chmod +x "$RECIPE/steps/$1.sh"
}

# Bodies: wait (30 s at most) until three steps ran at once (the first to see three
# says so in a file, as they stop running one by one); until state.json says
# something (a jq filter); ask for a reboot once.
DEADLINE='end=$(($(date +%s) + 30))'
TIMEOUT='[ "$(date +%s)" -lt "$end" ] || exit 9'
WAIT3="$DEADLINE; until [ -f \"\$dir/three\" ]; do [ \"\$(ls \"\$dir/running\" | wc -l)\" -lt 3 ] || touch \"\$dir/three\"; sleep 0.02; $TIMEOUT; done"
wait_state() {
	echo "$DEADLINE; until jq -e '$1' \"\$GCLOUD_GPU_ROOT/state.json\" >/dev/null; do sleep 0.02; $TIMEOUT; done"
}
REBOOT_ONCE='[ -f "$dir/rebooted-once" ] || { rm -f "$dir/running/$GCLOUD_GPU_STEP"; echo "end $GCLOUD_GPU_STEP" >>"$dir/trace"; touch "$dir/rebooted-once" "$dir/done-$GCLOUD_GPU_STEP"; exit 100; }'

fresh_recipe() {
	rm -rf "$RECIPE" "$TEST_DIR/root" "$TEST_DIR"/done-* "$TEST_DIR/running" "$TEST_DIR/trace" \
		"$TEST_DIR/reboots" "$TEST_DIR/rebooted-once" "$TEST_DIR/three"
	mkdir -p "$RECIPE/steps"
}

fresh_root() {
	rm -rf "$TEST_DIR/root" "$TEST_DIR"/done-* "$TEST_DIR/running" "$TEST_DIR/trace" \
		"$TEST_DIR/reboots" "$TEST_DIR/rebooted-once" "$TEST_DIR/three"
	helper_env
	sha=$(helper_push "$RECIPE")
}

# The needs of each step, from the recipe ("" for a step with none).
# check_order TRACE: every "start X" comes after the "end" of each step X needs (as
# state.json lists them), and after its last start every step ended exactly once.
check_order() {
	python3 - "$1" "$GCLOUD_GPU_ROOT/state.json" <<'PY'
import json, sys
trace = [l.split() for l in open(sys.argv[1]) if l.strip()]
steps = json.load(open(sys.argv[2]))["steps"]
needs = {s["name"]: s["needs"] for s in steps}
ended = set()
for i, t in enumerate(trace):
    if t[0] == "start":
        missing = [n for n in needs[t[1]] if n not in ended]
        assert not missing, "%s started before %s ended (line %d)" % (t[1], missing, i + 1)
    if t[0] == "end":
        ended.add(t[1])
for s in needs:
    starts = [i for i, t in enumerate(trace) if t[:2] == ["start", s]]
    assert starts, "%s never started" % s
    ends = [t for t in trace[starts[-1]:] if t[:2] == ["end", s]]
    assert len(ends) == 1, "%s: %d ends after its last start" % (s, len(ends))
PY
}

# The most steps that ran at once, from the trace.
most_beside() {
	awk '$1 == "beside" && $2 > m { m = $2 } END { print m + 0 }' "$1"
}

# once_each EVENTS STEP...: one step-start and one step-done of each.
once_each() {
	local ev=$1 s
	shift
	for s in "$@"; do
		[ "$(event_types "$ev" | grep -c "^step-start $s$")" -eq 1 ] &&
		[ "$(event_types "$ev" | grep -c "^step-done $s$")" -eq 1 ] ||
			{ echo "$s: not one start and one done"; return 1; }
	done
}

event_types() {
	jq -r '.type + (if .step then " " + .step else "" end)' "$1"
}

fresh_recipe
step 10-a "" ":"
step 20-b "# needs: 10-a" "$WAIT3"
step 30-c "# needs: 10-a" "$WAIT3"
step 40-d "# needs: 10-a" "$WAIT3"
step 50-e "# needs: 10-a" ":"
step 60-f "# needs: 20-b 30-c
# needs: 40-d" ":"
step 70-g "# no needs line: after 60-f" ":"
fresh_root
test_expect_success 'steps start once what they need is done, three at most at once' '
	GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	helper_events_check "$TEST_DIR/ev" &&
	[ "$(tail -n 1 "$TEST_DIR/ev" | jq -r .type)" = "done" ] &&
	check_order "$TEST_DIR/trace" &&
	[ "$(most_beside "$TEST_DIR/trace")" -eq 3 ] &&
	jq -e "[.steps[] | .needs] == [[], [\"10-a\"], [\"10-a\"], [\"10-a\"], [\"10-a\"],
		[\"20-b\", \"30-c\", \"40-d\"], [\"60-f\"]]" "$GCLOUD_GPU_ROOT/state.json" &&
	for s in 10-a 20-b 30-c 40-d 50-e 60-f 70-g; do
		[ "$(event_types "$TEST_DIR/ev" | grep -c "^step-start $s$")" -eq 1 ] &&
		[ "$(event_types "$TEST_DIR/ev" | grep -c "^step-done $s$")" -eq 1 ] || return 1
	done
'

test_expect_success 'the fourth step waits for a slot: 50-e starts after one of the three ended' '
	first_end=$(grep -n "^end \(20-b\|30-c\|40-d\)$" "$TEST_DIR/trace" | head -n 1 | cut -d: -f1) &&
	e_start=$(grep -n "^start 50-e$" "$TEST_DIR/trace" | cut -d: -f1) &&
	[ "$e_start" -gt "$first_end" ]
'

# Recipes refused before the plan starts: nothing written, one line saying why.
refused_case() {
	local what=$1 want=$2
	fresh_root
	test_expect_success "refused before the plan starts: $what" '
		test_expect_code 3 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" 2>"$TEST_DIR/err" &&
		test_grep "$want" "$TEST_DIR/err" &&
		[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] &&
		[ ! -e "$GCLOUD_GPU_ROOT/state.json" ] &&
		! grep -q "\"type\":\"plan\"" "$GCLOUD_GPU_ROOT/events.jsonl" 2>/dev/null &&
		[ ! -e "$TEST_DIR/trace" ]
	'
}
fresh_recipe
step 10-a "" ":"
step 20-b "# needs: 10-a, 40-nothere" ":"
refused_case "an unknown name" "step '20-b' needs '40-nothere', which is not a step"
fresh_recipe
step 10-a "# needs: 10-a" ":"
refused_case "a step that needs itself" "step '10-a' needs itself"
fresh_recipe
step 10-a "" ":"
step 20-b "# needs: 30-c" ":"
step 30-c "# needs: 10-a 20-b" ":"
step 40-d "" ":"
refused_case "needs in a circle" "steps '20-b', '30-c', '40-d' go in a circle"
fresh_recipe
step 10-a "" ":"
printf 'echo no interpreter line\n' >"$RECIPE/steps/20-b.sh"
refused_case "a step without #!" "step '20-b' has no '#!' first line"

fresh_recipe
step 10-a "" ":"
step 20-b "# needs: 10-a" "$WAIT3; exit 3"
step 30-c "# needs: 10-a" "$WAIT3; $(wait_state '.steps[1].state == "failed"')"
step 40-d "# needs: 10-a" "$WAIT3; $(wait_state '.steps[1].state == "failed"')"
step 50-e "# needs: 10-a" ":"
fresh_root
test_expect_success 'a step fails while others run: they end, nothing new starts, one failed' '
	test_expect_code 1 env GG_NO_REBOOT=1 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" &&
	helper_events_check "$TEST_DIR/ev" &&
	event_types "$TEST_DIR/ev" | grep -v "^log\|^progress\|^hello\|^plan" >"$TEST_DIR/types" &&
	[ "$(grep -c "^failed" "$TEST_DIR/types")" -eq 1 ] &&
	[ "$(tail -n 1 "$TEST_DIR/types")" = "failed 20-b" ] &&
	test_grep "^step-failed 20-b$" "$TEST_DIR/types" &&
	test_grep "^step-done 30-c$" "$TEST_DIR/types" &&
	test_grep "^step-done 40-d$" "$TEST_DIR/types" &&
	! grep -q "50-e" "$TEST_DIR/types" &&
	! grep -q "start 50-e" "$TEST_DIR/trace" &&
	jq -e ".state == \"failed\" and ([.steps[].state] ==
		[\"done\", \"failed\", \"done\", \"done\", \"pending\"])" "$GCLOUD_GPU_ROOT/state.json"
'

fresh_recipe
step 10-a "" ":"
step 20-b "# needs: 10-a" "$WAIT3; $REBOOT_ONCE"
step 30-c "# needs: 10-a" "$WAIT3; $(wait_state '.reboot_step == "20-b"')"
step 40-d "# needs: 10-a" "$WAIT3; $(wait_state '.reboot_step == "20-b"')"
step 50-e "# needs: 10-a" ":"
fresh_root
export GCLOUD_GPU_REBOOT_COMMAND="echo reboot >>$TEST_DIR/trace"
test_expect_success 'a reboot asked while others run waits for them; nothing new starts meanwhile' '
	test_expect_code 6 "$GG_HELPER" apply "$sha" >"$TEST_DIR/ev" 2>/dev/null &&
	helper_events_check "$TEST_DIR/ev" &&
	[ "$(tail -n 1 "$TEST_DIR/ev" | jq -r .type)" = reboot ] &&
	grep -v "^beside" "$TEST_DIR/trace" | tail -n 1 | grep -qx reboot &&
	test_grep "^end 30-c$" "$TEST_DIR/trace" && test_grep "^end 40-d$" "$TEST_DIR/trace" &&
	! grep -q "start 50-e" "$TEST_DIR/trace" &&
	! event_types "$TEST_DIR/ev" | grep -q "50-e" &&
	jq -e ".state == \"rebooting\" and .reboot_step == \"20-b\"" "$GCLOUD_GPU_ROOT/state.json"
'

test_expect_success 'after the boot the plan goes on: the waiting step runs, done' '
	echo boot-2 >"$GCLOUD_GPU_BOOT_ID_FILE" &&
	"$GG_HELPER" run &&
	"$GG_HELPER" follow --from 1 --no-wait >"$TEST_DIR/all" &&
	helper_events_check "$TEST_DIR/all" &&
	[ "$(tail -n 1 "$TEST_DIR/all" | jq -r .type)" = "done" ] &&
	[ "$(grep -n "^reboot$" "$TEST_DIR/trace" | cut -d: -f1)" -lt \
	  "$(grep -n "^start 50-e$" "$TEST_DIR/trace" | cut -d: -f1)" ] &&
	check_order "$TEST_DIR/trace"
'

# The shipped recipe's graph: stand-ins that keep each payloads/steps script's `#!` and
# `# needs:` lines; the driver's waits until the image's has started (they must run
# side by side) and asks for a reboot once.
fresh_recipe
for f in "$GG_SOURCE_DIR"/payloads/steps/[0-9][0-9]-*.sh; do
	name=$(basename "$f" .sh)
	body=":"
	[ "$name" = 20-nvidia-driver ] &&
		body="$DEADLINE; until grep -q '^start 60-image$' \"\$dir/trace\"; do sleep 0.02; $TIMEOUT; done; $REBOOT_ONCE"
	step "$name" "$(awk 'NR > 1 && !/^#/ { exit } /^# *needs:/' "$f")" "$body"
done
fresh_root
export GCLOUD_GPU_REBOOT_COMMAND="echo reboot >>$TEST_DIR/trace"
test_expect_success 'the shipped recipe makes a plan: the image beside the driver, its order kept' '
	test_expect_code 6 "$GG_HELPER" apply "$sha" >/dev/null 2>&1 &&
	echo boot-2 >"$GCLOUD_GPU_BOOT_ID_FILE" &&
	"$GG_HELPER" run &&
	jq -e ".state == \"done\"" "$GCLOUD_GPU_ROOT/state.json" &&
	check_order "$TEST_DIR/trace" &&
	[ "$(grep -n "^start 60-image$" "$TEST_DIR/trace" | cut -d: -f1)" -lt \
	  "$(grep -n "^end 20-nvidia-driver$" "$TEST_DIR/trace" | cut -d: -f1)" ]
'

# The runner killed after its Nth durable write, for every N until a run goes
# through: then resumed (and rebooted: the reboot command gives a new boot id) until
# the plan is done, and the whole record checked.
fresh_recipe
step 10-a "" "echo a; echo 'progress 50 half' >&3"
step 20-b "# needs: 10-a" "echo b"
step 30-c "# needs: 10-a" "echo c; $REBOOT_ONCE"
step 40-d "# needs: 20-b 30-c" "echo d"
step 50-e "# needs: 10-a" "echo e"
step 60-f "" "echo f"
fresh_root
cp -a "$GCLOUD_GPU_ROOT" "$TEST_DIR/root-pushed"
export GCLOUD_GPU_REBOOT_COMMAND="echo \"\$(cat $TEST_DIR/boot_id)x\" >$TEST_DIR/boot_id"
export GCLOUD_GPU_REBOOT_WAIT=0

# What the runner has written: state.json's inode and the log's size.
written() {
	stat -c %i "$GCLOUD_GPU_ROOT/state.json" 2>/dev/null
	stat -c %s "$GCLOUD_GPU_ROOT/events.jsonl" 2>/dev/null
}

# killable N CMD...: CMD (apply or resume) with its runner killed after its Nth write;
# waits until a runner wrote something and none holds the lock any more.  0 when
# the runner was killed (the hook says so in runner.log), 1 when it went through.
killable() {
	local n=$1 pid i before
	shift
	before=$(written)
	{ GCLOUD_GPU_TEST_HOOKS=1 GCLOUD_GPU_TEST_KILL_AT=$n "$@" >/dev/null 2>&1 & }
	pid=$!
	test_track_pid "$pid"
	for i in $(seq 1 1500); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$(written)" != "$before" ] && flock -n "$GCLOUD_GPU_ROOT/lock" true && break
		sleep 0.02
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# The runner may still be writing after its follower saw the reboot: its end.
	flock -w 30 "$GCLOUD_GPU_ROOT/lock" true || { echo "kill at $n: the runner does not end"; return 2; }
	grep -q "test hook: killed after write $n$" "$GCLOUD_GPU_ROOT/runner.log" 2>/dev/null
}

# kill_at PHASE N: the pushed root afresh; phase 1 kills the runner that apply
# starts, phase 2 the runner after the reboot (apply first runs to the reboot).
kill_at() {
	local phase=$1 n=$2
	rm -rf "$GCLOUD_GPU_ROOT" "$TEST_DIR"/done-* "$TEST_DIR/running" "$TEST_DIR/trace" \
		"$TEST_DIR/rebooted-once"
	echo boot-1 >"$GCLOUD_GPU_BOOT_ID_FILE"
	cp -a "$TEST_DIR/root-pushed" "$GCLOUD_GPU_ROOT"
	if [ "$phase" = 1 ]; then
		killable "$n" "$GG_HELPER" apply "$sha"
		return
	fi
	"$GG_HELPER" apply "$sha" >/dev/null 2>&1
	[ "$(jq -r .state "$GCLOUD_GPU_ROOT/state.json")" = rebooting ] ||
		{ echo "phase 2: apply did not end at the reboot"; return 2; }
	killable "$n" "$GG_HELPER" resume
}

# What a reader may see right after the kill, then resume until done, then the record.
after_kill() {
	local n=$1 i last
	last=$(tail -n 1 "$GCLOUD_GPU_ROOT/events.jsonl" | jq -r .type)
	if [ "$last" = "done" ] || [ "$last" = "failed" ]; then
		jq -e ".state == \"$last\"" "$GCLOUD_GPU_ROOT/state.json" >/dev/null ||
			{ echo "kill at $n: log ends with $last, state.json says otherwise"; return 1; }
	fi
	# As the CLI's reattach does: resume, which also logs an end the runner saved
	# but was killed before logging.
	for i in 1 2 3 4; do
		[ "$(jq -r .state "$GCLOUD_GPU_ROOT/state.json")" = "done" ] && [ "$i" -gt 1 ] && break
		# A reboot recorded or asked for: the VM reboots (killed before its command,
		# the runner's wait for it ends at once: GCLOUD_GPU_REBOOT_WAIT=0).
		jq -e ".state == \"rebooting\" or .reboot_failed == true" "$GCLOUD_GPU_ROOT/state.json" \
			>/dev/null && echo "boot-after-$n-$i" >"$GCLOUD_GPU_BOOT_ID_FILE"
		"$GG_HELPER" resume >/dev/null 2>&1
	done
	[ "$(jq -r .state "$GCLOUD_GPU_ROOT/state.json")" = "done" ] ||
		{ echo "kill at $n: not done after four resumes"; cat "$GCLOUD_GPU_ROOT/state.json"; return 1; }
	"$GG_HELPER" follow --from 1 --no-wait >"$TEST_DIR/all" &&
	helper_events_check "$TEST_DIR/all" ||
		{ echo "kill at $n: the event log has a gap or a repeat"; return 1; }
	[ "$(tail -n 1 "$TEST_DIR/all" | jq -r .type)" = "done" ] &&
	[ "$(grep -c "\"type\":\"done\"" "$GCLOUD_GPU_ROOT/events.jsonl")" -eq 1 ] ||
		{ echo "kill at $n: not exactly one done, last"; return 1; }
	check_order "$TEST_DIR/trace" || { echo "kill at $n: steps out of order"; return 1; }
}

# Every point of a phase in turn, until one past the last; KILL_POINTS counts them.
kill_every_point() {
	local phase=$1 n=0 rc
	while n=$((n + 1)); do
		kill_at "$phase" "$n"
		rc=$?
		[ "$rc" -le 1 ] || return 1
		after_kill "$phase.$n" || return 1
		[ "$rc" -eq 0 ] || break
		[ "$n" -lt 400 ] || { echo "no end after 400 kills"; return 1; }
	done
	KILL_POINTS=$((n - 1))
	echo "phase $phase: killed at $KILL_POINTS points"
}

test_expect_success 'killed after every write before the reboot, resumed: done, whole' '
	kill_every_point 1 && [ "$KILL_POINTS" -gt 20 ]
'

test_expect_success 'killed after every write after the reboot, resumed: done, whole' '
	kill_every_point 2 && [ "$KILL_POINTS" -gt 5 ]
'

test_done
