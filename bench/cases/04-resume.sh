# shellcheck shell=bash
# Case 4, resume after the link is cut at 50%: a cold push through a relay
# (tests/integration/tools/relay.py) that cuts the link once half the archive's bytes
# went through; the relay is then stopped (the VM is "gone") and the push interrupted.
# What the VM held then (bench_vm_held), and what a second push sends: the payload
# bytes beyond what was missing are the figure (goal: under 1% of the payload), and
# the bytes it wrote to the wire (bench_wire).

case_resume() {
	local log=$TEST_DIR/resume relay_pid push_pid port held sent
	for _ in $(seq "$BENCH_RUNS"); do
		bench_vm_reset && bench_settle
		rm -f "$TEST_DIR/relay.port"
		python3 "$RELAY" "$TEST_DIR/relay.port" "$SSHD_PORT" --cut-after "$((BENCH_SIZE / 2))" &
		relay_pid=$!
		test_track_pid "$relay_pid"
		for _ in $(seq 50); do [ -s "$TEST_DIR/relay.port" ] && break; sleep 0.1; done
		port=$(cat "$TEST_DIR/relay.port")
		printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$SSHD_DIR/host_ed25519.pub")" \
			>"$TEST_DIR/relay_known_hosts"
		"$GG_CLI" push --ssh "$SSHD_USER@127.0.0.1:$port" -i "$SSHD_CLIENT_KEY" \
			--known-hosts "$TEST_DIR/relay_known_hosts" --connect-timeout 5 \
			--payload "$PAYLOAD" >"$log.cut" 2>&1 &
		push_pid=$!
		test_track_pid "$push_pid"
		wait_for_line "$log.cut" "lost the connection" >/dev/null || { cat "$log.cut" >&2; return 1; }
		test_stop_pid "$relay_pid"
		kill -INT "$push_pid"
		wait "$push_pid" 2>/dev/null
		held=$(bench_vm_held)
		bench_record resume "VM held after the cut" bytes "$held"
		bench_push_wire "$log" || return 1
		sent=$(bench_push_sent "$log")
		bench_record resume "second push" payload_bytes "$sent"
		bench_record resume "second push" wire_bytes "$(bench_wire_last)"
		bench_record resume "second push, beyond what was missing" bytes \
			"$((sent - ($(bench_payload_bytes) - held)))"
	done
}
