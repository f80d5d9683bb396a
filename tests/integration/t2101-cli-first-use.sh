#!/usr/bin/env bash
# First use, as a person would (issue 16): help, command names, hints that work as
# printed, the recipe checked before upload, what stays on screen, logs, output words,
# keys and ~/.ssh/config, OpenSSH's habits, -v.  Each case names the item it covers.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
# ASCII marks (+ = x .): the UTF-8 ones are checked on a terminal by t2103.
LC_ALL=C LANG=C
export LC_ALL LANG

# shellcheck disable=SC2034 # used in the test bodies
PTY=$GG_SOURCE_DIR/tests/integration/tools/pty-run.py

# The command inside the hint "run 'gcloud-gpu ...'" of FILE, run as printed.
run_hint() {
	local hint
	hint=$(sed -n "s/.*run '\(gcloud-gpu [^']*\)'.*/\1/p" "$1" | head -1)
	[ -n "$hint" ] || { echo "no hint in $1:"; cat "$1"; return 1; }
	echo "hint: $hint"
	eval "\"\$GG_CLI\" ${hint#gcloud-gpu }"
}

test_expect_success '3: one help text per command: help CMD, CMD --help and CMD -h agree' '
	gg --help >"$TEST_DIR/top" &&
	cmds=$(sed -n "/^Commands:/,/^$/p" "$TEST_DIR/top" | sed -n "s/^  \([a-z-]*\) .*/\1/p") &&
	[ "$(echo "$cmds" | wc -l)" -ge 12 ] &&
	( for c in $cmds; do
		gg help "$c" >"$TEST_DIR/h1" && gg "$c" --help >"$TEST_DIR/h2" && gg "$c" -h >"$TEST_DIR/h3" &&
		test_cmp "$TEST_DIR/h1" "$TEST_DIR/h2" && test_cmp "$TEST_DIR/h1" "$TEST_DIR/h3" &&
		test_grep "^usage: gcloud-gpu $c" "$TEST_DIR/h1" || exit 1
	done ) &&
	( for c in create start stop delete ssh-config ssh; do
		gg "$c" --help >/dev/null || exit 1
	done )
'

test_expect_success '3: the top help gets a new user to Jupyter and names the manual' '
	gg --help >"$TEST_DIR/top" &&
	test_grep "Getting started" "$TEST_DIR/top" &&
	test_grep "gcloud-gpu create my-vm" "$TEST_DIR/top" &&
	test_grep "gcloud-gpu push my-vm" "$TEST_DIR/top" &&
	test_grep "gcloud-gpu tunnel my-vm" "$TEST_DIR/top" &&
	test_grep "push --ssh user@host" "$TEST_DIR/top" &&
	test_grep "man gcloud-gpu" "$TEST_DIR/top" && test_grep "docs/CLI.md" "$TEST_DIR/top"
'

test_expect_success '3: every command and option of the help is in the man page and docs/CLI.md' '
	( for c in $(sed -n "/^Commands:/,/^$/p" "$TEST_DIR/top" | sed -n "s/^  \([a-z-]*\) .*/\1/p"); do
		grep -q "^## gcloud-gpu $c" "$GG_SOURCE_DIR/docs/CLI.md" || { echo "CLI.md lacks $c"; exit 1; }
		grep -q "^\.SS $c" "$GG_SOURCE_DIR/docs/gcloud-gpu.1" || { echo "man page lacks $c"; exit 1; }
		for o in $(gg help "$c" | grep -o -- "--[a-z][a-z-]*" | sort -u); do
			grep -q -- "$o" "$GG_SOURCE_DIR/docs/CLI.md" || { echo "CLI.md lacks $c $o"; exit 1; }
		done
	done )
'

test_expect_success '4: no prefix is taken for a command; a typo gets did-you-mean, exit 2' '
	( for typed in p d s ssh-conf; do
		{ gg "$typed" vm1 2>"$TEST_DIR/err"; [ $? -eq 2 ]; } &&
		test_grep "unknown command .$typed." "$TEST_DIR/err" || exit 1
	done ) &&
	gg pus vm1 2>"$TEST_DIR/err"; test_grep "did you mean .push." "$TEST_DIR/err" &&
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ]
'

test_expect_success '4: ssh TARGET -- COMMAND runs it with the same keys and passes its exit status' '
	gg ssh "${TARGET[@]}" -- echo hello from the vm >"$TEST_DIR/out" &&
	test_grep "^hello from the vm$" "$TEST_DIR/out" &&
	{ gg ssh "${TARGET[@]}" -- "exit 7" </dev/null; [ $? -eq 7 ]; } &&
	{ gg ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" \
		--known-hosts "$TEST_DIR/empty_known_hosts" -- true </dev/null 2>"$TEST_DIR/err"; [ $? -eq 5 ]; }
'

test_expect_success '2: a recipe without steps/ is refused before connecting, exit 1' '
	mkdir -p "$TEST_DIR/nosteps" && echo x >"$TEST_DIR/nosteps/README" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/nosteps" >"$TEST_DIR/out" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "has no steps/ directory" "$TEST_DIR/err" &&
	! grep -q "ready" "$TEST_DIR/out" "$TEST_DIR/err" && [ ! -e "$TEST_DIR/vm/bin" ]
'

test_expect_success '2: a step that is not executable gets the exact chmod, and the fix works' '
	copy_demo && chmod 644 "$TEST_DIR/recipe/steps/20-work.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "run .chmod +x $TEST_DIR/recipe/steps/20-work.sh." "$TEST_DIR/err" &&
	fix=$(sed -n "s/.*run .\(chmod +x [^'\'']*\).*/\1/p" "$TEST_DIR/err") && eval "$fix" &&
	[ -x "$TEST_DIR/recipe/steps/20-work.sh" ] &&
	printf "set -eu\necho no shebang\n" >"$TEST_DIR/recipe/steps/40-bad.sh" && chmod +x "$TEST_DIR/recipe/steps/40-bad.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "steps/40-bad.sh. has no .#!. line" "$TEST_DIR/err" &&
	rm "$TEST_DIR/recipe/steps/40-bad.sh" && printf "#!/bin/sh\n" >"$TEST_DIR/recipe/steps/5-x.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "not named NN-name.sh" "$TEST_DIR/err" && rm "$TEST_DIR/recipe/steps/5-x.sh"
'

test_expect_success '1, 6, 8: push leaves the summary with times, plurals and sizes; its hint works as printed' '
	copy_demo &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/out" 2>&1 &&
	test_grep "^plan: 3 steps$" "$TEST_DIR/out" &&
	test_grep "^steps: 3 done, 0 already in place, 0 failed, 0 not run; [0-9.]*s in all" "$TEST_DIR/out" &&
	test_grep "^  + 20-work  *[0-9.]*s$" "$TEST_DIR/out" &&
	test_grep "^payload .*: 4 files, [0-9.]* [KM]*i*B, 3 steps" "$TEST_DIR/out" &&
	test_grep "^sent [0-9]* payload bytes ([0-9.]* [KM]*i*B) in 4 files" "$TEST_DIR/out" &&
	test_grep "is ready: run .gcloud-gpu tunnel --ssh .* -i .* --known-hosts " "$TEST_DIR/out" &&
	sed -i "s/gcloud-gpu tunnel/gcloud-gpu status/" "$TEST_DIR/out" &&
	run_hint "$TEST_DIR/out" >"$TEST_DIR/status" 2>&1 </dev/null
'

test_expect_success '6: a second push says what it skipped, = with no time' '
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/out" 2>&1 &&
	test_grep "^steps: 1 done, 2 already in place, 0 failed, 0 not run" "$TEST_DIR/out" &&
	test_grep "^  = 10-hello  *already in place$" "$TEST_DIR/out"
'

test_expect_success '1, 6: a failed step says what to do next, and that hint (logs) works as printed' '
	printf "#!/bin/sh\ncase \"\$1\" in check) exit 1;; apply) echo broken-here; exit 3;; esac\n" \
		>"$TEST_DIR/recipe/steps/15-fail.sh" && chmod +x "$TEST_DIR/recipe/steps/15-fail.sh" &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/out" 2>"$TEST_DIR/err"; [ $? -eq 6 ]; } &&
	test_grep "^steps: 0 done, 1 already in place, 1 failed, 2 not run" "$TEST_DIR/out" &&
	test_grep "^  x 15-fail .*[0-9.]*s$" "$TEST_DIR/out" && test_grep "^  \. 20-work  *not run" "$TEST_DIR/out" &&
	test_grep "then fix it and push again" "$TEST_DIR/err" &&
	sed -i "s/its whole output: .gcloud-gpu logs/run '\''gcloud-gpu logs/" "$TEST_DIR/err" &&
	run_hint "$TEST_DIR/err" >"$TEST_DIR/logs" 2>&1 </dev/null &&
	test_grep "broken-here" "$TEST_DIR/logs" && rm "$TEST_DIR/recipe/steps/15-fail.sh"
'

test_expect_success '7: logs has timestamps and -n N shows the last N events' '
	gg logs "${TARGET[@]}" >"$TEST_DIR/all" &&
	test_grep "^20[0-9-]* [0-9:]* \[10-hello\] hello from" "$TEST_DIR/all" &&
	gg logs "${TARGET[@]}" -n 2 >"$TEST_DIR/two" &&
	[ "$(wc -l <"$TEST_DIR/two")" -ge 2 ] && [ "$(wc -l <"$TEST_DIR/two")" -lt "$(wc -l <"$TEST_DIR/all")" ] &&
	test_grep "failed" "$TEST_DIR/two" && ! grep -q "hello from" "$TEST_DIR/two"
'

test_expect_success '7: ^C of logs -f exits 0 and leaves the work alone' '
	copy_demo && add_slow_step &&
	{ "$GG_CLI" push "${TARGET[@]}" --payload "$TEST_DIR/recipe" --json >"$TEST_DIR/push.json" 2>/dev/null & } &&
	pid=$! && test_track_pid $pid && wait_for_line "$TEST_DIR/push.json" "25-slow" &&
	{ "$GG_CLI" logs "${TARGET[@]}" -f >"$TEST_DIR/f.out" 2>"$TEST_DIR/f.err" & } && lpid=$! &&
	wait_for_line "$TEST_DIR/f.out" "tick" &&
	kill -INT $lpid && { wait $lpid; [ $? -eq 0 ]; } && [ ! -s "$TEST_DIR/f.err" ] &&
	! grep -q "^done:" "$TEST_DIR/f.out" &&
	wait $pid
'

test_expect_success '10: push --dry-run says what would be sent and run, and sends nothing' '
	echo changed >"$TEST_DIR/recipe/data/notes2.txt" &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" --dry-run >"$TEST_DIR/dry" 2>&1 &&
	test_grep "^would send 1 file (.*) of 6:" "$TEST_DIR/dry" && test_grep "^  data/notes2.txt$" "$TEST_DIR/dry" &&
	test_grep "^would run 4 steps" "$TEST_DIR/dry" &&
	! ls "$TEST_DIR/vm/blobs" | grep -q "$(sha256sum "$TEST_DIR/recipe/data/notes2.txt" | cut -c1-64)" &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" --dry-run --json >"$TEST_DIR/dry.json" 2>/dev/null &&
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"send\"][0][\"path\"]==\"data/notes2.txt\" and len(d[\"steps\"])==4" "$TEST_DIR/dry.json"
'

test_expect_success '5: ssh:// URLs, -p PORT and a ~/.ssh/config Host alias reach the host' '
	gg ssh --ssh "ssh://$SSHD_USER@127.0.0.1:$SSHD_PORT/" -i "$SSHD_CLIENT_KEY" --known-hosts "$SSHD_KNOWN_HOSTS" -- echo url </dev/null >"$TEST_DIR/o1" &&
	test_grep "^url$" "$TEST_DIR/o1" &&
	gg ssh --ssh "$SSHD_USER@127.0.0.1" -p "$SSHD_PORT" -i "$SSHD_CLIENT_KEY" --known-hosts "$SSHD_KNOWN_HOSTS" -- echo port </dev/null >"$TEST_DIR/o2" &&
	test_grep "^port$" "$TEST_DIR/o2" &&
	mkdir -p "$HOME/.ssh" &&
	printf "Host myvm\n  HostName 127.0.0.1\n  Port %s\n  User %s\n  IdentityFile %s\n" \
		"$SSHD_PORT" "$SSHD_USER" "$SSHD_CLIENT_KEY" >"$HOME/.ssh/config" &&
	gg ssh --ssh myvm --known-hosts "$SSHD_KNOWN_HOSTS" -- echo alias </dev/null >"$TEST_DIR/o3" &&
	test_grep "^alias$" "$TEST_DIR/o3" &&
	gg status --ssh myvm --known-hosts "$SSHD_KNOWN_HOSTS" </dev/null >/dev/null && rm "$HOME/.ssh/config"
'

test_expect_success '5: -i key.pub is named as the public half, exit 2' '
	{ gg status --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY.pub" 2>"$TEST_DIR/err"; [ $? -eq 2 ]; } &&
	test_grep "is the public half of a key: give the private key with -i .$SSHD_CLIENT_KEY." "$TEST_DIR/err"
'

test_expect_success '5: a passphrase-protected -i key works through ssh-agent' '
	cp "$SSHD_CLIENT_KEY" "$TEST_DIR/pkey" && chmod 600 "$TEST_DIR/pkey" &&
	ssh-keygen -q -p -P "" -N "secret words" -f "$TEST_DIR/pkey" &&
	{ gg ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$TEST_DIR/pkey" --known-hosts "$SSHD_KNOWN_HOSTS" -- true \
		</dev/null 2>"$TEST_DIR/err"; [ $? -eq 4 ]; } &&
	test_grep "has a passphrase and ssh-agent does not hold it: run .ssh-add" "$TEST_DIR/err" &&
	eval "$(ssh-agent -s -a "$TEST_DIR/agent.sock")" >/dev/null && test_track_pid "$SSH_AGENT_PID" &&
	printf "#!/bin/sh\necho \"secret words\"\n" >"$TEST_DIR/askpass" && chmod +x "$TEST_DIR/askpass" &&
	SSH_ASKPASS=$TEST_DIR/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh-add "$TEST_DIR/pkey" </dev/null 2>/dev/null &&
	gg ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$TEST_DIR/pkey" --known-hosts "$SSHD_KNOWN_HOSTS" -- echo agent \
		</dev/null >"$TEST_DIR/out" && test_grep "^agent$" "$TEST_DIR/out" && agent_ok=1
	test_stop_pid "$SSH_AGENT_PID"; unset SSH_AUTH_SOCK SSH_AGENT_PID
	[ "${agent_ok:-0}" = 1 ]
'

test_expect_success '9: a changed host key prints the exact ssh-keygen -R line, and it works' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/other" &&
	printf "[127.0.0.1]:%s %s\n" "$SSHD_PORT" "$(cut -d" " -f1-2 "$TEST_DIR/other.pub")" >"$TEST_DIR/kh" &&
	{ gg status --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" --known-hosts "$TEST_DIR/kh" 2>"$TEST_DIR/err"; [ $? -eq 5 ]; } &&
	test_grep "ssh-keygen -R .\[127.0.0.1\]:$SSHD_PORT. -f .$TEST_DIR/kh." "$TEST_DIR/err" &&
	fix=$(sed -n "s/.*\(ssh-keygen -R [^ ]* -f [^ ]*\) and connect.*/\1/p" "$TEST_DIR/err") &&
	eval "$fix" 2>/dev/null && ! grep -q "127.0.0.1" "$TEST_DIR/kh"
'

test_expect_success '9: an accepted new key says which file it went to' '
	gg ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" -i "$SSHD_CLIENT_KEY" --known-hosts "$TEST_DIR/kh2" \
		--accept-new-host-key -- true </dev/null 2>"$TEST_DIR/err" &&
	test_grep "added the ssh-ed25519 key of .\[127.0.0.1\]:$SSHD_PORT. (SHA256:.*) to .$TEST_DIR/kh2." "$TEST_DIR/err"
'

test_expect_success '9: the host key prompt asks again until yes or no, as OpenSSH does' '
	printf "y\nyes\n" >"$TEST_DIR/answers" &&
	python3 "$PTY" "$TEST_DIR/screen" "$TEST_DIR/answers" -- "$GG_CLI" ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" \
		-i "$SSHD_CLIENT_KEY" --known-hosts "$TEST_DIR/kh3" -- echo asked-twice &&
	test_grep "(yes/no/\[fingerprint\])?" "$TEST_DIR/screen" &&
	test_grep "Please type .yes., .no. or the fingerprint" "$TEST_DIR/screen" &&
	test_grep "asked-twice" "$TEST_DIR/screen" && grep -q "127.0.0.1" "$TEST_DIR/kh3" &&
	printf "no\n" >"$TEST_DIR/answers" &&
	{ python3 "$PTY" "$TEST_DIR/screen" "$TEST_DIR/answers" -- "$GG_CLI" ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" \
		-i "$SSHD_CLIENT_KEY" --known-hosts "$TEST_DIR/kh4" -- true; [ $? -eq 5 ]; } && [ ! -s "$TEST_DIR/kh4" ]
'

test_expect_success '5: a passphrase-protected -i key without an agent is asked for on a terminal' '
	printf "secret words\n" >"$TEST_DIR/answers" &&
	python3 "$PTY" "$TEST_DIR/screen" "$TEST_DIR/answers" -- "$GG_CLI" ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" \
		-i "$TEST_DIR/pkey" --known-hosts "$SSHD_KNOWN_HOSTS" -- echo with-passphrase &&
	test_grep "Enter passphrase for key .$TEST_DIR/pkey.:" "$TEST_DIR/screen" &&
	test_grep "with-passphrase" "$TEST_DIR/screen" &&
	printf "wrong\n" >"$TEST_DIR/answers" &&
	{ python3 "$PTY" "$TEST_DIR/screen" "$TEST_DIR/answers" -- "$GG_CLI" ssh --ssh "$SSHD_USER@127.0.0.1:$SSHD_PORT" \
		-i "$TEST_DIR/pkey" --known-hosts "$SSHD_KNOWN_HOSTS" -- true; [ $? -eq 4 ]; } &&
	test_grep "wrong passphrase" "$TEST_DIR/screen"
'

test_expect_success '7: status speaks in words; a fresh target says nothing was pushed and gets no helper' '
	gg status "${TARGET[@]}" >"$TEST_DIR/st" &&
	test_grep "^plan  *running\|^plan  *done\|^plan  *failed" "$TEST_DIR/st" &&
	test_grep "^disk  *[0-9.]* [KMGT]iB free of " "$TEST_DIR/st" && ! grep -q "free_bytes" "$TEST_DIR/st" &&
	test_grep "^gpu  " "$TEST_DIR/st" &&
	GCLOUD_GPU_REMOTE_ROOT=$TEST_DIR/fresh gg status "${TARGET[@]}" >"$TEST_DIR/st2" &&
	test_grep "nothing pushed to .* yet: run .gcloud-gpu push --ssh " "$TEST_DIR/st2" && [ ! -e "$TEST_DIR/fresh/bin" ] &&
	{ GCLOUD_GPU_REMOTE_ROOT=$TEST_DIR/fresh gg reattach "${TARGET[@]}" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "nothing to reattach on .*: no plan ran there yet; run .gcloud-gpu push" "$TEST_DIR/err" &&
	[ ! -e "$TEST_DIR/fresh/bin" ]
'

test_expect_success '8: without a terminal a long upload prints progress lines' '
	head -c 3000000 /dev/urandom >"$TEST_DIR/recipe/data/big.bin" &&
	gg push "${TARGET[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/out" 2>&1 &&
	test_grep "^upload: 25% (.* of 2.9 MiB)" "$TEST_DIR/out" && test_grep "^upload: 100% " "$TEST_DIR/out"
'

test_expect_success '7: ^C during the upload says nothing runs yet and to push again, not reattach' '
	head -c 4000000 /dev/urandom >"$TEST_DIR/recipe/data/big2.bin" &&
	start_relay --rate 200000 &&
	{ "$GG_CLI" push "${VIA_RELAY[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/up.out" 2>"$TEST_DIR/up.err" & } &&
	pid=$! && wait_for_line "$TEST_DIR/up.out" "^upload: 25%" && kill -INT $pid &&
	{ wait $pid; [ $? -eq 7 ]; } &&
	test_grep "interrupted during the upload: nothing runs on .* yet; run .gcloud-gpu push --ssh .* --payload .*recipe. again" "$TEST_DIR/up.err" &&
	! grep -q reattach "$TEST_DIR/up.err" && stop_relay
'

test_expect_success '6: reattach shows the step list as it goes, and its summary' '
	rm -f "$TEST_DIR/recipe/data/big2.bin" &&
	{ "$GG_CLI" push "${TARGET[@]}" --payload "$TEST_DIR/recipe" --json >"$TEST_DIR/p.json" 2>/dev/null & } &&
	pid=$! && wait_for_line "$TEST_DIR/p.json" "tick 2" && kill -INT $pid && { wait $pid; [ $? -eq 7 ]; } &&
	gg reattach "${TARGET[@]}" >"$TEST_DIR/re.out" 2>&1 &&
	test_grep "^\[25-slow\] tick 10" "$TEST_DIR/re.out" &&
	test_grep "^  + 25-slow  *[0-9.]*s$" "$TEST_DIR/re.out" && test_grep "^  + 30-check " "$TEST_DIR/re.out"
'

test_expect_success '8: the tunnel says once that nothing answers, not libssh per request' '
	{ "$GG_CLI" tunnel "${TARGET[@]}" --port 0 --remote-port "$(free_port)" --json >"$TEST_DIR/tun" 2>"$TEST_DIR/tun.err" & } &&
	tpid=$! && test_track_pid $tpid && wait_for_line "$TEST_DIR/tun" "local_port" &&
	port=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"local_port\"])" "$TEST_DIR/tun") &&
	for _ in 1 2 3; do curl -s -m 5 "http://127.0.0.1:$port/" >/dev/null; done;
	kill -INT $tpid && wait $tpid &&
	[ "$(grep -c "nothing answers" "$TEST_DIR/tun.err")" -eq 1 ] && ! grep -q "Channel opening" "$TEST_DIR/tun.err"
'

test_expect_success '10: -v says what is connected to and run; -vvv adds libssh log lines' '
	gg -v status "${TARGET[@]}" >/dev/null 2>"$TEST_DIR/v1" &&
	test_grep "debug: connecting to" "$TEST_DIR/v1" && test_grep "debug: running .helper status." "$TEST_DIR/v1" &&
	gg status "${TARGET[@]}" -vvv >/dev/null 2>"$TEST_DIR/v3" &&
	[ "$(wc -l <"$TEST_DIR/v3")" -gt "$(wc -l <"$TEST_DIR/v1")" ] && test_grep "ssh_" "$TEST_DIR/v3"
'

test_done
