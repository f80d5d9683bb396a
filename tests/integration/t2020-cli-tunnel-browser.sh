#!/usr/bin/env bash
# gcloud-gpu tunnel as a browser uses it (found by the VM test t0003, where headless
# Chromium hung on Jupyter's login page): several connections at once, one of them
# closed while another stays idle, and large replies.  A closed connection must not
# leave the tunnel acting on another's poll result (a blocking read on an idle
# connection stopped every other one), and replies must flow without waiting for the
# tunnel's poll timeout on every chunk.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
TOOL=$GG_SOURCE_DIR/tests/integration/tools/tunnel-idle.py

echo_port=$(free_port)
python3 "$TOOL" echo "$echo_port" >/dev/null 2>&1 &
test_track_pid $!
wait_for_port "$echo_port" 100 || { echo "the echo server did not start"; exit 1; }
local_port=$(free_port)
gg tunnel "${TARGET[@]}" --port "$local_port" --remote-port "$echo_port" >"$TEST_DIR/tun.out" 2>&1 &
TUNNEL_PID=$!
test_track_pid "$TUNNEL_PID"
# Its "forwarding" line, not a probe connection: every connection counts here.
for _ in $(seq 1 300); do
	grep -q "^forwarding" "$TEST_DIR/tun.out" && break
	kill -0 "$TUNNEL_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q "^forwarding" "$TEST_DIR/tun.out" || { echo "the tunnel did not start:"; cat "$TEST_DIR/tun.out"; exit 1; }

test_expect_success 'a closed connection does not stall the others while one stays idle' '
	served=0 &&
	for _ in 1 2 3; do
		timeout 60 python3 "$TOOL" idle "$local_port" && served=$((served + 1))
	done &&
	[ "$served" = 3 ] &&
	kill -0 "$TUNNEL_PID"
'

test_expect_success 'a 4 MiB reply comes through in under 2 s' '
	secs=$(timeout 60 python3 "$TOOL" bulk "$local_port" 4194304) &&
	say "4 MiB in $secs s" &&
	python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2 else 1)" "$secs" ||
		{ echo "4 MiB took ${secs:-more than 60} s"; false; }
'

test_done
