#!/usr/bin/env bash
# gcloud-gpu push, logs and status through a real sshd and the real helper: the whole
# flow, uploads of only what changed, a failing step, and --json.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow status

test_expect_success 'a full push of the demo recipe ends with exit 0, events in order' '
	gg push "${TARGET[@]}" --payload "$DEMO" >"$TEST_DIR/push1" 2>&1 &&
	test_grep "^plan: 3 steps" "$TEST_DIR/push1" &&
	grep "^\[" "$TEST_DIR/push1" | grep -E "started|done$" >"$TEST_DIR/order" &&
	printf "%s\n" "[10-hello] started" "[10-hello] done" "[20-work] started" "[20-work] done" \
		"[30-check] started" "[30-check] done" >"$TEST_DIR/order.want" &&
	test_cmp "$TEST_DIR/order.want" "$TEST_DIR/order" &&
	test_grep "^\[20-work\] 50% unpacking part 50" "$TEST_DIR/push1" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push1" &&
	[ "$(sent_bytes "$TEST_DIR/push1")" -eq "$(cat "$DEMO"/steps/* "$DEMO"/data/* | wc -c)" ]
'

test_expect_success 'logs shows the same events' '
	gg logs "${TARGET[@]}" >"$TEST_DIR/logs" 2>&1 &&
	grep -E "^(\[|plan:|done:)" "$TEST_DIR/push1" >"$TEST_DIR/push1.events" &&
	sed -E "s/^[0-9-]{10} [0-9:]{8} //" "$TEST_DIR/logs" | grep -E "^(\[|plan:|done:)" >"$TEST_DIR/logs.events" &&
	test_cmp "$TEST_DIR/push1.events" "$TEST_DIR/logs.events"
'

test_expect_success 'a second push with nothing changed uploads no payload bytes' '
	gg push "${TARGET[@]}" --payload "$DEMO" >"$TEST_DIR/push2" 2>&1 &&
	[ "$(sent_bytes "$TEST_DIR/push2")" -eq 0 ] &&
	test_grep "^\[10-hello\] skipped" "$TEST_DIR/push2" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push2"
'

test_expect_success 'changing one script uploads only that blob' '
	copy_demo &&
	echo "echo changed" >>"$TEST_DIR/recipe/steps/30-check.sh" &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push3" 2>&1 &&
	[ "$(sent_bytes "$TEST_DIR/push3")" -eq "$(wc -c <"$TEST_DIR/recipe/steps/30-check.sh")" ] &&
	test_grep "in 1 file (" "$TEST_DIR/push3" &&
	test_grep "^\[30-check\] changed" "$TEST_DIR/push3"
'

test_expect_success 'the hash cache spares re-reading unchanged files' '
	sleep 1.1 && gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push4a" 2>&1 &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push4" 2>&1 &&
	test_grep "4 files, .* (0 hashed)" "$TEST_DIR/push4" &&
	[ -s "$XDG_CACHE_HOME/gcloud-gpu/hashes.json" ]
'

test_expect_success '--json passes the events through unchanged' '
	gg logs "${TARGET[@]}" --json >"$TEST_DIR/logs.json" 2>"$TEST_DIR/logs.err" &&
	head -1 "$TEST_DIR/logs.json" | grep -q "\"type\":\"hello\"" &&
	python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$TEST_DIR/logs.json" &&
	[ "$(grep -c "\"type\":\"done\"" "$TEST_DIR/logs.json")" -ge 4 ] &&
	grep "\"seq\":[1-9]" "$TEST_DIR/logs.json" >"$TEST_DIR/logs.logged" &&
	cut -d, -f1 "$TEST_DIR/logs.logged" | sort | uniq -d >"$TEST_DIR/dups" && [ ! -s "$TEST_DIR/dups" ]
'

test_expect_success 'status shows the plan and each step' '
	gg status "${TARGET[@]}" >"$TEST_DIR/status" 2>&1 &&
	test_grep "^plan  *done: all" "$TEST_DIR/status" &&
	test_grep "^  *+ 30-check  *done" "$TEST_DIR/status" &&
	gg status "${TARGET[@]}" --json >"$TEST_DIR/status.json" &&
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"status\"][\"state\"]==\"done\"" "$TEST_DIR/status.json"
'

test_expect_success 'a failing step names itself and its last output, exit 6' '
	copy_demo &&
	printf "%s\n" "#!/bin/sh" "[ \"\$1\" = check ] && exit 1" "echo about to fail" \
		"echo disk is on fire >&2" "exit 3" >"$TEST_DIR/recipe/steps/25-fail.sh" &&
	chmod +x "$TEST_DIR/recipe/steps/25-fail.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/fail.out" 2>"$TEST_DIR/fail.err"; [ $? -eq 6 ]; } &&
	test_grep "step .25-fail. failed .*exit 3.*disk is on fire" "$TEST_DIR/fail.err" &&
	test_grep "^\[25-fail\] FAILED" "$TEST_DIR/fail.out" &&
	test_grep "disk is on fire" "$TEST_DIR/fail.out" &&
	! grep -q "^\[30-check\] started" "$TEST_DIR/fail.out"
'

test_expect_success 'what steps print cannot drive the terminal: control characters show as ?' '
	copy_demo &&
	printf "%s\n" "#!/bin/sh" "[ \"\$1\" = check ] && exit 1" \
		"printf \"title\\033]0;pwned\\007 clear\\033[2J bell\\007\\n\"" \
		"printf \"c1 \\302\\233 end\\n\" >&2" "exit 4" >"$TEST_DIR/recipe/steps/25-esc.sh" &&
	chmod +x "$TEST_DIR/recipe/steps/25-esc.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/esc.out" 2>"$TEST_DIR/esc.err"; [ $? -eq 6 ]; } &&
	test_grep "title?\]0;pwned? clear?\[2J bell?" "$TEST_DIR/esc.out" &&
	test_grep "step .25-esc. failed .*c1 ? end" "$TEST_DIR/esc.err" &&
	! LC_ALL=C grep -q "$(printf "[\001-\010\013-\037\177]")" "$TEST_DIR/esc.out" "$TEST_DIR/esc.err" &&
	! LC_ALL=C grep -q "$(printf "\302\233")" "$TEST_DIR/esc.out" "$TEST_DIR/esc.err"
'

test_expect_success 'a push of another recipe while one runs: exit 9 naming the running plan, nothing applied' '
	copy_demo &&
	printf "%s\n" "#!/bin/sh" "[ \"\$1\" = check ] && exit 1" "echo waiting at the gate" \
		"i=0; while [ ! -e %s/gate ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done" \
		>"$TEST_DIR/gate.sh" &&
	sed "s|%s|$TEST_DIR|" "$TEST_DIR/gate.sh" >"$TEST_DIR/recipe/steps/25-gate.sh" &&
	chmod +x "$TEST_DIR/recipe/steps/25-gate.sh" &&
	rm -rf "$TEST_DIR/other" "$TEST_DIR/gate" "$TEST_DIR/other-ran" && cp -a "$TEST_DIR/recipe" "$TEST_DIR/other" &&
	printf "%s\n" "#!/bin/sh" "[ \"\$1\" = check ] && exit 1" "touch $TEST_DIR/other-ran" \
		>"$TEST_DIR/other/steps/26-other.sh" &&
	chmod +x "$TEST_DIR/other/steps/26-other.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/first.out" 2>&1 & first=$!; } &&
	test_track_pid "$first" &&
	wait_for_line "$TEST_DIR/first.out" "waiting at the gate" &&
	running=$(jq -r .plan "$GCLOUD_GPU_REMOTE_ROOT/state.json") &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/other" >"$TEST_DIR/second.out" 2>"$TEST_DIR/second.err"; rc=$?; } ;
	touch "$TEST_DIR/gate" &&
	wait "$first" &&
	cat "$TEST_DIR/second.out" "$TEST_DIR/second.err" &&
	[ "$rc" = 9 ] &&
	test_grep "another plan (${running:0:12}) is running here" "$TEST_DIR/second.err" &&
	! grep -q "is ready\|done: the plan" "$TEST_DIR/second.out" &&
	[ ! -e "$TEST_DIR/other-ran" ] &&
	[ "$(jq -r .plan "$GCLOUD_GPU_REMOTE_ROOT/state.json")" = "$running" ]
'

test_done
