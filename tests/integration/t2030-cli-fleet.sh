#!/usr/bin/env bash
# gcloud-gpu over many targets at once (plugin/fleet.c): several loopback "VMs", each
# its own sshd whose shell starts in its own directory, so that the relative helper
# root (GCLOUD_GPU_REMOTE_ROOT=vm) is a different VM's state for each.  Four pushes run
# in parallel and each ends done; a link cut to one VM mid-upload leaves the others
# alone and that VM resumes; one VM whose step fails gives exit 6 with its name; the
# payload is hashed once; --json prefixes every line with its target; status over many.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow resume
GCLOUD_GPU_REMOTE_ROOT=vm
GCLOUD_GPU_REMOTE_BOOT_ID_FILE=boot_id
export GCLOUD_GPU_REMOTE_ROOT GCLOUD_GPU_REMOTE_BOOT_ID_FILE

# vm_add NAME: another sshd with the harness's keys, whose remote commands run in
# $TEST_DIR/NAME (through ForceCommand: bash run by sshd ignores BASH_ENV), on a port
# of its own.  Sets PORT_<NAME>.
vm_add() {
	local name=$1 dir=$TEST_DIR/$1 port pid sshd_bin
	sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
	mkdir -p "$dir" && echo "boot-1" >"$dir/boot_id" || return 1
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		sed -e "s/^Port .*/Port $port/" -e "s|^PidFile .*|PidFile $dir/sshd.pid|" \
			"$SSHD_DIR/sshd_config" >"$dir/sshd_config" &&
		printf 'ForceCommand cd %q || exit 1; exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n' "$dir" \
			>>"$dir/sshd_config" || return 1
		"$sshd_bin" -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
		pid=$!
		test_track_pid "$pid"
		if wait_for_port "$port" 50 && kill -0 "$pid" 2>/dev/null; then
			break
		fi
		port=
	done
	[ -n "$port" ] || { cat "$dir/sshd.log"; return 1; }
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$SSHD_DIR/host_ed25519.pub")" \
		>>"$TEST_DIR/fleet_known_hosts"
	printf -v "PORT_$name" '%s' "$port"
}

# The --ssh options for the named VMs, into the array SSH_ARGS.
ssh_args() {
	local name port
	SSH_ARGS=()
	for name in "$@"; do
		port=PORT_$name
		SSH_ARGS+=(--ssh "$SSHD_USER@127.0.0.1:${!port}")
	done
}
# shellcheck disable=SC2034 # used in the test bodies
KEYS=(-i "$SSHD_CLIENT_KEY" --known-hosts "$TEST_DIR/fleet_known_hosts" --connect-timeout 5)

# A recipe with a step that takes ~3 s, so that parallel and serial differ, and a step
# that fails on a VM whose directory holds "fail-here".
fleet_recipe() {
	copy_demo && add_slow_step &&
	cat >"$TEST_DIR/recipe/steps/40-maybe-fail.sh" <<'STEP' &&
#!/bin/sh
case "$1" in
check) exit 1 ;;
apply) if [ -e "$GCLOUD_GPU_ROOT/../fail-here" ]; then echo "this VM is broken"; exit 3; fi ;;
esac
STEP
	chmod +x "$TEST_DIR/recipe/steps/40-maybe-fail.sh"
}
fleet_recipe

test_expect_success 'five loopback VMs, each with its own sshd and directory' '
	for v in one a b c d; do vm_add "$v" || return 1; done &&
	[ -n "$PORT_d" ] &&
	ssh -F "$SSHD_SSH_CONFIG" -p "$PORT_a" -o UserKnownHostsFile="$TEST_DIR/fleet_known_hosts" gg-test pwd >"$TEST_DIR/pwd" &&
	test_cmp - "$TEST_DIR/pwd" <<<"$TEST_DIR/a"
'

# Without a directory of its own per VM the relative root would land in the user's home.
# shellcheck disable=SC2154 # lib.sh counts them
[ "$test_failures" -eq 0 ] || test_done

test_expect_success 'one push alone, timed' '
	ssh_args one &&
	start=$(date +%s.%N) &&
	gg push "${SSH_ARGS[@]}" "${KEYS[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/one.out" 2>&1 &&
	end=$(date +%s.%N) &&
	echo "$start $end" >"$TEST_DIR/one.time" &&
	test_grep "^done: the plan finished" "$TEST_DIR/one.out" &&
	[ -f "$TEST_DIR/one/vm/demo-hello" ]
'

test_expect_success 'four pushes in parallel: each VM done, one table, the payload hashed once' '
	ssh_args a b c d &&
	start=$(date +%s.%N) &&
	gg push "${SSH_ARGS[@]}" "${KEYS[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/four.out" 2>"$TEST_DIR/four.err" &&
	end=$(date +%s.%N) &&
	echo "$start $end" >"$TEST_DIR/four.time" &&
	test_grep "packed once for 4 targets" "$TEST_DIR/four.out" &&
	for v in a b c d; do
		port=PORT_$v &&
		grep -q "^$SSHD_USER@127.0.0.1:${!port} *done " "$TEST_DIR/four.out" &&
		grep -q "^$SSHD_USER@127.0.0.1:${!port}: payload .*(0 hashed)" "$TEST_DIR/four.err" &&
		[ -f "$TEST_DIR/$v/vm/demo-hello" ] || { cat "$TEST_DIR/four.out" "$TEST_DIR/four.err"; return 1; }
	done &&
	read -r s1 e1 <"$TEST_DIR/one.time" && read -r s4 e4 <"$TEST_DIR/four.time" &&
	awk -v a="$(echo "$e1 - $s1" | bc)" -v b="$(echo "$e4 - $s4" | bc)" \
		"BEGIN { printf \"measured: one VM %.2f s, four in parallel %.2f s (%.2fx)\n\", a, b, b / a }" |
		tee "$TEST_DIR/measured" &&
	cp "$TEST_DIR/measured" "${GG_FLEET_MEASURE:-/dev/null}"
'
say "$(cat "$TEST_DIR/measured" 2>/dev/null)"

test_expect_success 'a link cut to one VM mid-upload: it resumes alone, the others are untouched' '
	fleet_recipe && cp "$TEST_DIR/recipe/steps/25-slow.sh" "$TEST_DIR/recipe/steps/26-slow.sh" &&
	head -c 3000000 /dev/urandom >"$TEST_DIR/recipe/data/big.bin" &&
	SSHD_PORT=$PORT_b start_relay --cut-after 1500000 --rate 10000000 &&
	printf "[127.0.0.1]:%s %s\n" "$RELAY_PORT" "$(cut -d" " -f1-2 "$SSHD_DIR/host_ed25519.pub")" >>"$TEST_DIR/fleet_known_hosts" &&
	ssh_args a c d &&
	gg push "${SSH_ARGS[@]}" --ssh "$SSHD_USER@127.0.0.1:$RELAY_PORT" "${KEYS[@]}" --payload "$TEST_DIR/recipe" \
		>"$TEST_DIR/cut.out" 2>"$TEST_DIR/cut.err" &&
	grep -q "^$SSHD_USER@127.0.0.1:$RELAY_PORT: lost the connection" "$TEST_DIR/cut.err" &&
	grep -q "^$SSHD_USER@127.0.0.1:$RELAY_PORT: resuming the upload" "$TEST_DIR/cut.err" &&
	! grep -q ": uploading [0-9]* of" "$TEST_DIR/cut.err" &&
	[ "$(grep -c "lost the connection" "$TEST_DIR/cut.err")" -eq "$(grep -c "^$SSHD_USER@127.0.0.1:$RELAY_PORT: lost the connection" "$TEST_DIR/cut.err")" ] &&
	! grep -q "resuming the upload" <(grep -v "^$SSHD_USER@127.0.0.1:$RELAY_PORT:" "$TEST_DIR/cut.err") &&
	[ "$(grep -c "^$SSHD_USER@127.0.0.1:[0-9]* *done " "$TEST_DIR/cut.out")" -eq 4 ] &&
	for v in a b c d; do cmp "$TEST_DIR/recipe/data/big.bin" "$TEST_DIR/$v/vm/blobs/$(sha256sum <"$TEST_DIR/recipe/data/big.bin" | cut -d" " -f1)" || return 1; done
'
stop_relay

test_expect_success 'one VM whose step fails: exit 6 naming it, the others end done' '
	touch "$TEST_DIR/c/fail-here" &&
	ssh_args a b c d &&
	{ gg push "${SSH_ARGS[@]}" "${KEYS[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/fail.out" 2>"$TEST_DIR/fail.err"; rc=$?; } &&
	{ [ "$rc" -eq 6 ] || { echo "exit $rc"; cat "$TEST_DIR/fail.out" "$TEST_DIR/fail.err"; false; }; } &&
	test_grep "^gcloud-gpu: $SSHD_USER@127.0.0.1:$PORT_c failed (exit 6): .*40-maybe-fail" "$TEST_DIR/fail.err" &&
	test_grep "^gcloud-gpu: 1 of 4 targets failed: $SSHD_USER@127.0.0.1:$PORT_c$" "$TEST_DIR/fail.err" &&
	grep -q "^$SSHD_USER@127.0.0.1:$PORT_c *failed " "$TEST_DIR/fail.out" &&
	for v in a b d; do port=PORT_$v; grep -q "^$SSHD_USER@127.0.0.1:${!port} *done " "$TEST_DIR/fail.out" || return 1; done
'

test_expect_success '--json: every line is an object whose first key is its target' '
	rm -f "$TEST_DIR/c/fail-here" &&
	ssh_args a b &&
	gg push "${SSH_ARGS[@]}" "${KEYS[@]}" --payload "$TEST_DIR/recipe" --json >"$TEST_DIR/json.out" 2>"$TEST_DIR/json.err" &&
	python3 - "$TEST_DIR/json.out" "$SSHD_USER@127.0.0.1:$PORT_a" "$SSHD_USER@127.0.0.1:$PORT_b" <<-"PY"
	import json, sys
	lines = open(sys.argv[1]).read().splitlines()
	seen = {t: set() for t in sys.argv[2:]}
	for line in lines:
	    obj = json.loads(line)
	    first = next(iter(obj))
	    assert first == "target", line
	    seen[obj["target"]].add(obj.get("type"))
	for t, types in seen.items():
	    assert {"hello", "plan", "step-start", "done", "result"} <= types, (t, types)
	PY
'

test_expect_success 'on a terminal: one line per VM redrawn in place (upload or step, percentage), then the table' '
	head -c 3000000 /dev/urandom >"$TEST_DIR/recipe/data/more.bin" &&
	SSHD_PORT=$PORT_b start_relay --rate 1000000 &&
	printf "[127.0.0.1]:%s %s\n" "$RELAY_PORT" "$(cut -d" " -f1-2 "$SSHD_DIR/host_ed25519.pub")" >>"$TEST_DIR/fleet_known_hosts" &&
	ssh_args a &&
	cmd=$(printf "%q " "$GG_CLI" push "${SSH_ARGS[@]}" --ssh "$SSHD_USER@127.0.0.1:$RELAY_PORT" "${KEYS[@]}" --payload "$TEST_DIR/recipe") &&
	TERM=xterm script -qec "$cmd" /dev/null >"$TEST_DIR/tty.out" 2>&1 &&
	grep -q $'"'"'\033\[[0-9]*A'"'"' "$TEST_DIR/tty.out" &&
	grep -q "127.0.0.1:$RELAY_PORT *uploading *[0-9]*%" "$TEST_DIR/tty.out" &&
	for port in "$PORT_a" "$RELAY_PORT"; do
		grep -q "127.0.0.1:$port *running *step [0-9]/[0-9] [0-9a-z-]* *[0-9]*%" "$TEST_DIR/tty.out" &&
		grep -q "^$SSHD_USER@127.0.0.1:$port *done " "$TEST_DIR/tty.out" || { cat -v "$TEST_DIR/tty.out"; return 1; }
	done
'
stop_relay

test_expect_success 'status over many: a table with each plan state, a target named twice runs once, --parallel 1' '
	ssh_args a b d &&
	gg status "${SSH_ARGS[@]}" "${KEYS[@]}" --parallel 1 "${SSH_ARGS[@]:0:2}" >"$TEST_DIR/status.out" 2>&1 &&
	[ "$(grep -c "^$SSHD_USER@127.0.0.1:[0-9]* *done " "$TEST_DIR/status.out")" -eq 3 ]
'

test_expect_success '^C: every target stops following, exit 7, each named with how to reattach' '
	ssh_args a b &&
	{ "$GG_CLI" push "${SSH_ARGS[@]}" "${KEYS[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/int.out" 2>"$TEST_DIR/int.err" & pid=$!; } &&
	wait_for_line "$TEST_DIR/int.out" "^$SSHD_USER@127.0.0.1:$PORT_a: step [0-9]/[0-9] 25-slow" &&
	wait_for_line "$TEST_DIR/int.out" "^$SSHD_USER@127.0.0.1:$PORT_b: step [0-9]/[0-9] 25-slow" &&
	kill -INT "$pid" && { wait "$pid"; [ $? -eq 7 ]; } &&
	test_grep "^gcloud-gpu: $SSHD_USER@127.0.0.1:$PORT_a was interrupted (exit 7): .*reattach" "$TEST_DIR/int.err" &&
	test_grep "^gcloud-gpu: $SSHD_USER@127.0.0.1:$PORT_b was interrupted (exit 7): .*reattach" "$TEST_DIR/int.err" &&
	test_grep "^gcloud-gpu: 2 of 2 targets were interrupted" "$TEST_DIR/int.err" &&
	gg reattach "${SSH_ARGS[@]}" "${KEYS[@]}" >"$TEST_DIR/re.out" 2>&1 &&
	[ "$(grep -c "^$SSHD_USER@127.0.0.1:[0-9]* *done " "$TEST_DIR/re.out")" -eq 2 ]
'

test_expect_success 'bad input says what is wrong: --parallel 0, --yes for push, no target' '
	ssh_args a b &&
	{ gg push "${SSH_ARGS[@]}" --parallel 0 2>"$TEST_DIR/u1.err"; [ $? -eq 2 ]; } &&
	test_grep "for --parallel is not a number from 1 to 256" "$TEST_DIR/u1.err" &&
	{ gg push "${SSH_ARGS[@]}" --yes 2>"$TEST_DIR/u2.err"; [ $? -eq 2 ]; } &&
	test_grep "yes is for delete" "$TEST_DIR/u2.err"
'

test_done
