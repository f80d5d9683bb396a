#!/usr/bin/env bash
# `gcloud-gpu push node-name` end to end: the loopback Compute Engine API's instance
# points at the loopback sshd (natIP 127.0.0.1, port through the test-only
# GCLOUD_GPU_SSH_PORT), publishes the sshd's host key in its guest attributes, and
# turns its ssh-keys metadata into the sshd's authorized_keys as the guest agent
# would.  The push runs the demo recipe to the end with the host key checked strictly
# under compute.<id>; a published key that is not the sshd's is refused (exit 5); a
# TERMINATED VM is started first; a key the guest agent installs late is waited for.
. "$(dirname "$0")/lib-cli.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

cli_setup || exit 1
require_helper have recv apply follow status
fake_vm_on_sshd || exit 1

test_expect_success 'push node-name runs the recipe to the end, host key checked under compute.ID' '
	fake_scenario "{$VM, $KEYS}" && fake_log_reset &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/push1" 2>"$TEST_DIR/push1.err" &&
	test_grep "^plan: 3 steps" "$TEST_DIR/push1" &&
	test_grep "^\[30-check\] done" "$TEST_DIR/push1" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push1" &&
	test_grep "tunnel node-name" "$TEST_DIR/push1" &&
	[ "$(fake_requests "POST .*/setMetadata")" = 1 ] &&
	grep -qx "compute.$ID $HOST_TYPE $HOST_BLOB" "$HOME/.ssh/google_compute_known_hosts" &&
	[ "$(wc -l <"$HOME/.ssh/google_compute_known_hosts")" = 1 ] &&
	[ ! -e "$HOME/.ssh/known_hosts" ]
'

test_expect_success 'status and logs take the VM name; --project and --zone win' '
	gg logs node-name >"$TEST_DIR/logs" 2>&1 &&
	test_grep "\[20-work\] done" "$TEST_DIR/logs" &&
	fake_log_reset &&
	gg status node-name --project other-project --zone europe-west4-a >"$TEST_DIR/status" 2>&1 &&
	test_grep "^plan  *done: all" "$TEST_DIR/status" &&
	[ "$(fake_requests "GET /compute/v1/projects/other-project/zones/europe-west4-a/instances/node-name$")" = 1 ]
'

test_expect_success 'a published host key that is not the sshd'"'"'s is refused: exit 5, nothing run' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/impostor" &&
	read -r t b _ <"$TEST_DIR/impostor.pub" &&
	fake_scenario "{$VM, \"host_keys\": [{\"key\": \"$t\", \"value\": \"$b\"}]}" &&
	cp -r "$TEST_DIR/vm" "$TEST_DIR/vm.before" &&
	{ gg push node-name --payload "$DEMO" >"$TEST_DIR/bad" 2>"$TEST_DIR/bad.err"; [ $? = 5 ]; } &&
	test_grep "not the one the VM published" "$TEST_DIR/bad.err" &&
	test_grep "compute.$ID" "$TEST_DIR/bad.err" &&
	! test_grep "^plan:" "$TEST_DIR/bad" &&
	diff -r "$TEST_DIR/vm.before" "$TEST_DIR/vm" >/dev/null
'

test_expect_success 'a TERMINATED VM is started, then pushed' '
	fake_scenario "{$VM, $KEYS, \"instance\": {\"status\": \"TERMINATED\"}}" && fake_log_reset &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/push2" 2>"$TEST_DIR/push2.err" &&
	test_grep "stopped" "$TEST_DIR/push2.err" &&
	[ "$(fake_requests "POST .*/instances/node-name/start$")" = 1 ] &&
	test_grep "^done: the plan finished" "$TEST_DIR/push2"
'

test_expect_success 'a key the guest agent installs late is waited for' '
	fake_scenario "{$VM, $KEYS, \"guest_agent_delay\": 1.5}" && fake_log_reset &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/push3" 2>"$TEST_DIR/push3.err" &&
	test_grep "key was just added" "$TEST_DIR/push3.err" &&
	test_grep "waiting for node-name .*refused the key" "$TEST_DIR/push3" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push3"
'

test_expect_success 'a pinned VM that publishes no keys now stays pinned: an impostor is refused, nothing written' '
	fake_scenario "{$VM}" &&
	sed -i "s|^compute.$ID .*|compute.$ID $(cut -d" " -f1-2 "$TEST_DIR/impostor.pub")|" \
		"$HOME/.ssh/google_compute_known_hosts" &&
	cp "$HOME/.ssh/google_compute_known_hosts" "$TEST_DIR/pinned.before" &&
	{ gg push node-name --payload "$DEMO" --accept-new-host-key >"$TEST_DIR/imp" 2>"$TEST_DIR/imp.err"; rc=$?; } &&
	cat "$TEST_DIR/imp.err" && [ "$rc" = 5 ] &&
	test_grep "publishes no host keys now" "$TEST_DIR/imp.err" &&
	test_grep "compute.$ID" "$TEST_DIR/imp.err" &&
	[ ! -e "$HOME/.ssh/known_hosts" ] &&
	test_cmp "$TEST_DIR/pinned.before" "$HOME/.ssh/google_compute_known_hosts"
'

test_expect_success 'published keys that match nothing usable: refused even with --accept-new-host-key' '
	fake_scenario "{$VM, \"host_keys\": [{\"key\": \"ssh-unknown\", \"value\": \"AAAAbm90aGluZw==\"}]}" &&
	{ gg push node-name --payload "$DEMO" --accept-new-host-key >"$TEST_DIR/unk" 2>"$TEST_DIR/unk.err"; rc=$?; } &&
	cat "$TEST_DIR/unk.err" && [ "$rc" = 5 ] &&
	! grep -q "$HOST_BLOB" "$HOME/.ssh/google_compute_known_hosts" &&
	[ ! -e "$HOME/.ssh/known_hosts" ]
'

test_expect_success 'a VM just started publishes its keys late: they are waited for, then pinned' '
	rm -f "$HOME/.ssh/google_compute_known_hosts" &&
	fake_scenario "{$VM, $KEYS, \"instance\": {\"status\": \"TERMINATED\"}, \"guest_attributes_404\": 25}" &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/late" 2>"$TEST_DIR/late.err" &&
	test_grep "^done: the plan finished" "$TEST_DIR/late" &&
	grep -qx "compute.$ID $HOST_TYPE $HOST_BLOB" "$HOME/.ssh/google_compute_known_hosts" &&
	[ ! -e "$HOME/.ssh/known_hosts" ]
'

test_done
