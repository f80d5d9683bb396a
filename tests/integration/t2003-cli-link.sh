#!/usr/bin/env bash
# gcloud-gpu across dropped links and restarts: an upload cut midway resumes, a plan
# cut from its follower finishes on the VM and reattach shows the rest (nothing lost,
# nothing twice), ^C says how to reattach, and a "VM restart" (sshd restarted, boot id
# changed) is told apart from a network blip.  The link is cut by tools/relay.py.
. "$(dirname "$0")/lib-cli.sh"

# A remote shell that is slow to start, as a ~/.bashrc running `pyenv init` makes it,
# while $TEST_DIR/slow-shell exists (bash reads $BASH_ENV when sshd runs it).
printf '[ -e %q/slow-shell ] && sleep 0.5\n' "$TEST_DIR" >"$TEST_DIR/bash_env"
# shellcheck disable=SC2034 # read by sshd_start
SSHD_EXTRA_CONFIG="SetEnv BASH_ENV=$TEST_DIR/bash_env"
cli_setup || exit 1
require_helper have recv apply follow resume

# The link is paced at 10 MB/s (slower than the VM side writes, as a real uplink is)
# and cut after 1.5 MB, while the remote shell takes 0.5 s to start: a CLI that
# streams before the helper runs parks the bytes in sshd, which drops them with the
# link, and the next push has to send everything again.
test_expect_success 'an upload cut midway resumes where it stopped, sending only the rest' '
	copy_demo &&
	head -c 3000000 /dev/urandom >"$TEST_DIR/recipe/data/big.bin" &&
	big_sha=$(sha256sum <"$TEST_DIR/recipe/data/big.bin" | cut -d" " -f1) &&
	gg logs "${TARGET[@]}" >/dev/null 2>&1 &&
	start_relay --cut-after 1500000 --rate 10000000 &&
	touch "$TEST_DIR/slow-shell" &&
	gg push "${VIA_RELAY[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/cut.out" 2>&1 &&
	rm -f "$TEST_DIR/slow-shell" &&
	test_grep "lost the connection" "$TEST_DIR/cut.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/cut.out" &&
	kept=$(sed -n "s/^resuming the upload: \([0-9]*\) of its .*/\1/p" "$TEST_DIR/cut.out") &&
	sent=$(sent_bytes "$TEST_DIR/cut.out") &&
	total=$(cat "$TEST_DIR"/recipe/*/* | wc -c) &&
	echo "kept $kept, sent $sent of $total" &&
	[ "${kept:-0}" -ge 1000000 ] && [ "$((kept + sent))" -eq "$total" ] &&
	cmp "$TEST_DIR/recipe/data/big.bin" "$TEST_DIR/vm/blobs/$big_sha" &&
	! ls "$TEST_DIR"/vm/blobs/*.partial 2>/dev/null
'

test_expect_success 'a link cut while the plan runs: push follows on, nothing lost or repeated' '
	copy_demo && add_slow_step &&
	start_relay --cut-file "$TEST_DIR/cut-now" &&
	gg logs "${TARGET[@]}" --json >"$TEST_DIR/before.json" &&
	last_before=$(event_seqs "$TEST_DIR/before.json" | tail -1) &&
	{ "$GG_CLI" push "${VIA_RELAY[@]}" --payload "$TEST_DIR/recipe" --json >"$TEST_DIR/run.json" 2>"$TEST_DIR/run.err" & pid=$!; } &&
	wait_for_line "$TEST_DIR/run.json" "tick 3" &&
	touch "$TEST_DIR/cut-now" &&
	wait "$pid" &&
	test_grep "lost the connection" "$TEST_DIR/run.err" &&
	grep -q "\"type\":\"done\"" "$TEST_DIR/run.json" &&
	seqs_exactly "$((last_before + 1))" "$(event_seqs "$TEST_DIR/run.json" | tail -1)" "$TEST_DIR/run.json"
'

test_expect_success '^C stops following (exit 7, says reattach); reattach shows the rest once' '
	gg logs "${TARGET[@]}" --json >"$TEST_DIR/before2.json" &&
	last_before=$(event_seqs "$TEST_DIR/before2.json" | tail -1) &&
	echo "echo again" >>"$TEST_DIR/recipe/steps/25-slow.sh" &&
	{ "$GG_CLI" push "${TARGET[@]}" --payload "$TEST_DIR/recipe" --json >"$TEST_DIR/int.json" 2>"$TEST_DIR/int.err" & pid=$!; } &&
	wait_for_line "$TEST_DIR/int.json" "tick 2" &&
	kill -INT "$pid" && { wait "$pid"; [ $? -eq 7 ]; } &&
	test_grep "gcloud-gpu reattach --ssh" "$TEST_DIR/int.err" &&
	! grep -q "\"type\":\"done\"" "$TEST_DIR/int.json" &&
	gg reattach "${TARGET[@]}" --json >"$TEST_DIR/re.json" 2>"$TEST_DIR/re.err" &&
	grep -q "\"type\":\"done\"" "$TEST_DIR/re.json" &&
	last=$(grep -v "\"type\":\"hello\"" "$TEST_DIR/re.json" | grep -m1 -B1000 "\"type\":\"done\"" | event_seqs | tail -1) &&
	event_seqs "$TEST_DIR/int.json" >"$TEST_DIR/a" && event_seqs "$TEST_DIR/re.json" >"$TEST_DIR/b" &&
	cat "$TEST_DIR/a" "$TEST_DIR/b" | awk -v l="$last" "\$1 <= l" >"$TEST_DIR/seqs.got" &&
	seq "$((last_before + 1))" "$last" >"$TEST_DIR/seqs.want" &&
	test_cmp "$TEST_DIR/seqs.want" "$TEST_DIR/seqs.got"
'

test_expect_success 'a restarted VM (new boot id) is reported by reattach, and the plan ends done' '
	echo "echo third" >>"$TEST_DIR/recipe/steps/25-slow.sh" &&
	{ "$GG_CLI" push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/rb.out" 2>&1 & pid=$!; } &&
	wait_for_line "$TEST_DIR/rb.out" "tick 2" &&
	kill -INT "$pid"; wait "$pid";
	set_boot_id boot-2 &&
	sshd_restart &&
	gg reattach "${TARGET[@]}" >"$TEST_DIR/rb2.out" 2>&1 &&
	test_grep "restarted since the last event seen here" "$TEST_DIR/rb2.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/rb2.out" &&
	gg status "${TARGET[@]}" >"$TEST_DIR/rb.status" &&
	test_grep "^plan  *done: all" "$TEST_DIR/rb.status"
'

test_done
