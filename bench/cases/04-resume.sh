# shellcheck shell=bash
# Case 4, resume after the link is cut at 50%, through a relay
# (tests/integration/tools/relay.py) that cuts the first connection once half the
# payload's size has gone through it.  Two ways:
#
# - across a reconnect: the relay stays up (the network comes back), and the push
#   reconnects and finishes by itself.  Counted with bench_wire on the relay's port:
#   every byte the push wrote on both connections; beyond the payload's size is what
#   was sent twice (plus SSH and tar framing and two handshakes).
# - a second push: the relay is stopped (the VM is gone) and the push interrupted;
#   what the VM held then (bench_vm_held), and what a second push sends: its payload
#   bytes beyond what was missing are the figure.
#
# Goal: under 1% of the payload re-sent.  The relay is lib-cli.sh's start_relay.

case_resume() {
	local log=$TEST_DIR/resume push_pid held sent saved_target=("${TARGET[@]}") rc
	for _ in $(seq "$BENCH_RUNS"); do
		bench_vm_reset && bench_settle
		start_relay --cut-after "$((BENCH_SIZE / 2))"
		TARGET=("${VIA_RELAY[@]}")
		BENCH_WIRE_PORT=$RELAY_PORT bench_push_wire "$log"
		rc=$?
		TARGET=("${saved_target[@]}")
		test_stop_pid "$RELAY_PID"
		[ "$rc" -eq 0 ] || return 1
		grep -q "lost the connection" "$log" || { echo "bench: the relay did not cut the link" >&2; return 1; }
		bench_record resume "one push across a reconnect" wire_bytes "$(bench_wire_last)"
		bench_record resume "one push across a reconnect, beyond the payload" bytes \
			"$(($(bench_wire_last) - $(bench_payload_bytes)))"

		bench_vm_reset && bench_settle
		start_relay --cut-after "$((BENCH_SIZE / 2))"
		"$GG_CLI" push "${VIA_RELAY[@]}" --payload "$PAYLOAD" >"$log.cut" 2>&1 &
		push_pid=$!
		test_track_pid "$push_pid"
		wait_for_line "$log.cut" "lost the connection" >/dev/null || { cat "$log.cut" >&2; return 1; }
		test_stop_pid "$RELAY_PID"
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
