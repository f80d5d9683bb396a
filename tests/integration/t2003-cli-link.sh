#!/usr/bin/env bash
# gcloud-gpu across dropped links and restarts: an upload cut midway resumes, a plan
# cut from its follower finishes on the VM and reattach shows the rest (nothing lost,
# nothing twice), ^C says how to reattach, and a "VM restart" (sshd restarted, boot id
# changed) is told apart from a network blip.  The link is cut by tools/relay.py.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow resume

# A relay in front of sshd; its port gets the same host key in a known_hosts file.
start_relay() {
	rm -f "$TEST_DIR/relay.port"
	python3 "$RELAY" "$TEST_DIR/relay.port" "$SSHD_PORT" "$@" & test_track_pid $!
	for _ in $(seq 50); do [ -s "$TEST_DIR/relay.port" ] && break; sleep 0.1; done
	RELAY_PORT=$(cat "$TEST_DIR/relay.port")
	printf "[127.0.0.1]:%s %s\n" "$RELAY_PORT" "$(cut -d" " -f1-2 "$SSHD_DIR/host_ed25519.pub")" \
		>"$TEST_DIR/relay_known_hosts"
	# shellcheck disable=SC2034 # used in the test bodies
	VIA_RELAY=(--ssh "$SSHD_USER@127.0.0.1:$RELAY_PORT" -i "$SSHD_CLIENT_KEY"
		--known-hosts "$TEST_DIR/relay_known_hosts" --connect-timeout 5)
}

test_expect_success 'an upload cut midway resumes where it stopped' '
	copy_demo &&
	head -c 3000000 /dev/urandom >"$TEST_DIR/recipe/data/big.bin" &&
	gg logs "${TARGET[@]}" >/dev/null 2>&1 &&
	start_relay --cut-after 1500000 &&
	gg push "${VIA_RELAY[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/cut.out" 2>&1 &&
	test_grep "lost the connection" "$TEST_DIR/cut.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/cut.out" &&
	sent=$(sent_bytes "$TEST_DIR/cut.out") &&
	[ "$sent" -gt 0 ] && [ "$sent" -lt 2500000 ] &&
	cmp "$TEST_DIR/recipe/data/big.bin" "$TEST_DIR/vm/blobs/$(sha256sum <"$TEST_DIR/recipe/data/big.bin" | cut -d" " -f1)"
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
	test_grep "^state    done" "$TEST_DIR/rb.status"
'

test_done
