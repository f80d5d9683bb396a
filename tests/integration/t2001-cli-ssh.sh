#!/usr/bin/env bash
# gcloud-gpu's SSH side against a real sshd: host keys checked strictly, clear refusals
# for a wrong key, a wrong user and an unreachable host, the helper bootstrapped once
# by its sha256, and each command's --help.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1

test_expect_success 'every command has --help and the exit codes are documented' '
	for c in push logs reattach status tunnel; do
		gg "$c" --help >"$TEST_DIR/help.$c" && test_grep "usage: gcloud-gpu $c" "$TEST_DIR/help.$c" &&
		test_grep "identity" "$TEST_DIR/help.$c" || return 1
	done &&
	gg --help >"$TEST_DIR/help" && test_grep "7 interrupted" "$TEST_DIR/help" &&
	gg --version | grep -q "^gcloud-gpu "
'

test_expect_success 'a bad command line exits 2 with one line' '
	{ gg push --no-such-option 2>"$TEST_DIR/err"; [ $? -eq 2 ]; } &&
	test_grep "unknown option .--no-such-option." "$TEST_DIR/err" &&
	{ gg status 2>"$TEST_DIR/err"; [ $? -eq 2 ]; } && test_grep "no target" "$TEST_DIR/err" &&
	{ gg status --ssh "root@h:99999" 2>"$TEST_DIR/err"; [ $? -eq 2 ]; } && test_grep "bad port" "$TEST_DIR/err"
'

test_expect_success 'a changed host key is refused with both fingerprints, exit 5, nothing sent' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/other" &&
	printf "[127.0.0.1]:%s %s\n" "$SSHD_PORT" "$(cut -d" " -f1-2 "$TEST_DIR/other.pub")" >"$TEST_DIR/wrong_known_hosts" &&
	{ gg status --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$TEST_DIR/wrong_known_hosts" 2>"$TEST_DIR/err"; [ $? -eq 5 ]; } &&
	test_grep "host key of .* changed" "$TEST_DIR/err" &&
	[ "$(grep -o "SHA256:[A-Za-z0-9+/]*" "$TEST_DIR/err" | sort -u | wc -l)" -eq 2 ] &&
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] &&
	[ ! -e "$TEST_DIR/vm" ]
'

test_expect_success 'a missing payload directory fails before connecting, exit 1' '
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/no-such-dir" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "cannot open the payload directory .*no-such-dir" "$TEST_DIR/err" &&
	[ ! -e "$TEST_DIR/vm/bin" ]
'

test_expect_success 'an unknown host fails without a terminal, and --accept-new-host-key trusts it' '
	{ gg status --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$TEST_DIR/new_known_hosts" </dev/null 2>"$TEST_DIR/err"; [ $? -eq 5 ]; } &&
	test_grep "is not in .*--accept-new-host-key" "$TEST_DIR/err" &&
	[ ! -s "$TEST_DIR/new_known_hosts" ] &&
	{ gg logs --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" --accept-new-host-key \
		--known-hosts "$TEST_DIR/new_known_hosts" </dev/null >/dev/null 2>"$TEST_DIR/err" || true; } &&
	grep -q "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$TEST_DIR/new_known_hosts"
'

test_expect_success 'a key the server does not accept is refused clearly, exit 4' '
	{ gg status --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$TEST_DIR/other" \
		--known-hosts "$SSHD_KNOWN_HOSTS" 2>"$TEST_DIR/err"; [ $? -eq 4 ]; } &&
	test_grep "refused the key .*other. for user" "$TEST_DIR/err"
'

test_expect_success 'reattach with a refused key or a refused host key exits at once (4, 5), not after its wait' '
	{ timeout 30 "$GG_CLI" reattach --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$TEST_DIR/other" \
		--known-hosts "$SSHD_KNOWN_HOSTS" --timeout 600 2>"$TEST_DIR/err"; rc=$?; } &&
	echo "exit $rc" && [ "$rc" -eq 4 ] &&
	test_grep "refused the key .*other. for user" "$TEST_DIR/err" &&
	{ timeout 30 "$GG_CLI" reattach --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$TEST_DIR/wrong_known_hosts" --timeout 600 2>"$TEST_DIR/err"; rc=$?; } &&
	echo "exit $rc" && [ "$rc" -eq 5 ]
'

test_expect_success 'a wrong user is refused clearly, exit 4' '
	{ gg status --ssh "nosuchuser@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$SSHD_KNOWN_HOSTS" 2>"$TEST_DIR/err"; [ $? -eq 4 ]; } &&
	test_grep "for user .nosuchuser.: check the user name" "$TEST_DIR/err"
'

test_expect_success 'a host that never answers times out clearly, exit 4' '
	python3 -c "import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(8); open(sys.argv[1],\"w\").write(str(s.getsockname()[1])); time.sleep(60)" \
		"$TEST_DIR/blackhole.port" & test_track_pid $! &&
	for i in $(seq 50); do [ -s "$TEST_DIR/blackhole.port" ] && break; sleep 0.1; done &&
	start=$(date +%s) &&
	{ gg status --ssh "root@127.0.0.1:$(cat "$TEST_DIR/blackhole.port")" --connect-timeout 2 \
		-i "$SSHD_CLIENT_KEY" --known-hosts "$SSHD_KNOWN_HOSTS" 2>"$TEST_DIR/err"; [ $? -eq 4 ]; } &&
	[ $(($(date +%s) - start)) -le 6 ] &&
	test_grep "cannot connect to .*Timeout" "$TEST_DIR/err" &&
	{ gg status --ssh "root@127.0.0.1:1" -i "$SSHD_CLIENT_KEY" 2>"$TEST_DIR/err"; [ $? -eq 4 ]; } &&
	test_grep "Connection refused" "$TEST_DIR/err"
'

test_expect_success 'the helper goes up once, named by its sha256, and again when tampered with' '
	sum=$(sha256sum "$GG_HELPER" | cut -d" " -f1) &&
	rm -rf "$TEST_DIR/vm/bin" &&
	{ gg logs "${TARGET[@]}" >"$TEST_DIR/out1" 2>&1 || true; } &&
	test_grep "uploading the helper" "$TEST_DIR/out1" &&
	cmp "$GG_HELPER" "$TEST_DIR/vm/bin/gcloud-gpu-helper-$sum" &&
	[ "$(stat -c %a "$TEST_DIR/vm/bin/gcloud-gpu-helper-$sum")" = 700 ] &&
	{ gg logs "${TARGET[@]}" >"$TEST_DIR/out2" 2>&1 || true; } &&
	! grep -q "uploading the helper" "$TEST_DIR/out2" &&
	echo tampered >>"$TEST_DIR/vm/bin/gcloud-gpu-helper-$sum" &&
	{ gg logs "${TARGET[@]}" >"$TEST_DIR/out3" 2>&1 || true; } &&
	test_grep "uploading the helper" "$TEST_DIR/out3" &&
	cmp "$GG_HELPER" "$TEST_DIR/vm/bin/gcloud-gpu-helper-$sum"
'

test_expect_success 'tunnel forwards a local port to the VM loopback until ^C' '
	echo hi-from-vm >"$TEST_DIR/index.html" &&
	vm_port=$(free_port) && local_port=$(free_port) &&
	{ (cd "$TEST_DIR" && exec python3 -m http.server "$vm_port" --bind 127.0.0.1) >/dev/null 2>&1 & test_track_pid $!; } &&
	wait_for_port "$vm_port" 100 &&
	{ "$GG_CLI" tunnel "${TARGET[@]}" --port "$local_port" --remote-port "$vm_port" >"$TEST_DIR/tun.out" 2>&1 & pid=$!; } &&
	test_track_pid "$pid" && wait_for_port "$local_port" 100 &&
	for _ in 1 2 3; do
		python3 -c "import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())" \
			"http://127.0.0.1:$local_port/index.html" >>"$TEST_DIR/tun.got" || return 1
	done &&
	[ "$(grep -c hi-from-vm "$TEST_DIR/tun.got")" -eq 3 ] &&
	for _ in $(seq 50); do grep -q "^forwarding" "$TEST_DIR/tun.out" && break; sleep 0.1; done &&
	test_grep "^Jupyter on .*http://127.0.0.1:$local_port/" "$TEST_DIR/tun.out" &&
	kill -INT "$pid" && wait "$pid"
'

test_done
