#!/usr/bin/env bash
# A VM name becomes an SSH target as `gcloud compute ssh` would make it: the key
# ~/.ssh/google_compute_engine made and added to the instance's ssh-keys once (a
# fingerprint conflict retried), host keys from guest attributes written under
# compute.<id> and enforced.  The loopback API plays the guest agent: the ssh-keys it
# holds become the loopback sshd's authorized_keys.  `gcloud-gpu ssh-config` prints
# the target for OpenSSH, which then proves it.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

sshd_start || exit 1
fake_vm_on_sshd || exit 1

test_expect_success 'the key is made, added to metadata, host keys written under compute.ID' '
	fake_scenario "{$VM, $KEYS}" && fake_log_reset &&
	"$GG_CLI" ssh-config node-name >"$TEST_DIR/ssh_config" &&
	test_grep "^  HostName 127.0.0.1$" "$TEST_DIR/ssh_config" &&
	test_grep "^  HostKeyAlias compute.$ID$" "$TEST_DIR/ssh_config" &&
	[ "$(stat -c %a "$HOME/.ssh/google_compute_engine")" = 600 ] &&
	[ "$(fake_requests "POST .*/setMetadata")" = 1 ] &&
	grep -qx "compute.$ID $HOST_TYPE $HOST_BLOB" "$HOME/.ssh/google_compute_known_hosts" &&
	grep -q "$(cut -d" " -f2 "$HOME/.ssh/google_compute_engine.pub")" "$SSHD_DIR/authorized_keys"
'

test_expect_success 'OpenSSH reaches the VM with that target, strictly' '
	out=$(ssh -F "$TEST_DIR/ssh_config" -o BatchMode=yes node-name echo hello) &&
	[ "$out" = hello ]
'

test_expect_success 'the key is added once: a second resolve changes nothing' '
	cp "$HOME/.ssh/google_compute_known_hosts" "$TEST_DIR/kh.before" && fake_log_reset &&
	"$GG_CLI" ssh-config node-name >/dev/null &&
	[ "$(fake_requests "POST")" = 0 ] &&
	test_cmp "$TEST_DIR/kh.before" "$HOME/.ssh/google_compute_known_hosts"
'

test_expect_success 'a fingerprint conflict is re-read and retried' '
	fake_scenario "{$VM, $KEYS, \"metadata_conflicts\": 2}" && fake_log_reset &&
	"$GG_CLI" ssh-config node-name >/dev/null &&
	[ "$(fake_requests "POST .*/setMetadata")" = 3 ] &&
	ssh -F "$TEST_DIR/ssh_config" -o BatchMode=yes node-name true
'

test_expect_success 'a key already in the project metadata is not added again' '
	fake_scenario "{$VM, $KEYS, \"project_metadata_items\": [{\"key\": \"ssh-keys\",
	  \"value\": \"$USER:$(cut -d" " -f1-2 "$HOME/.ssh/google_compute_engine.pub") $USER\"}]}" &&
	fake_log_reset && "$GG_CLI" ssh-config node-name >/dev/null &&
	[ "$(fake_requests "POST")" = 0 ]
'

test_expect_success 'published host keys are enforced: a different key is refused' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_DIR/impostor" &&
	read -r t b _ <"$TEST_DIR/impostor.pub" &&
	fake_scenario "{$VM, \"host_keys\": [{\"key\": \"$t\", \"value\": \"$b\"}]}" &&
	"$GG_CLI" ssh-config node-name >"$TEST_DIR/ssh_config" &&
	! grep -q "$HOST_BLOB" "$HOME/.ssh/google_compute_known_hosts" &&
	test_must_fail ssh -F "$TEST_DIR/ssh_config" -o BatchMode=yes node-name true 2>err &&
	test_grep "verification failed" err
'

test_expect_success 'no guest attributes: a VM pinned before stays pinned; one never pinned gets plain SSH rules' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\"}" &&
	"$GG_CLI" ssh-config node-name >out 2>err &&
	test_grep "publishes no host keys now" err &&
	grep -q "HostKeyAlias compute.$ID" out &&
	rm "$HOME/.ssh/google_compute_known_hosts" &&
	"$GG_CLI" ssh-config node-name >out 2>err &&
	test_grep "publishes no host keys" err &&
	! grep -q HostKeyAlias out
'

test_expect_success 'an address that is not an IP address is refused, never written to a config' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\\n  ProxyCommand touch $TEST_DIR/pwned\"}" &&
	{ "$GG_CLI" ssh-config node-name >out 2>err; rc=$?; } &&
	cat err && [ "$rc" = 3 ] &&
	test_grep "not an IP address" err &&
	! grep -q ProxyCommand out
'

test_expect_success 'no external address: exit 3 and the ways out' '
	fake_scenario "{\"nat_ip\": null}" &&
	{ "$GG_CLI" ssh-config node-name 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	test_grep "no external address" err && test_grep "[-]-internal-ip" err &&
	"$GG_CLI" ssh-config node-name --internal-ip >out 2>/dev/null &&
	test_grep "HostName 10.240.72.75" out
'

test_expect_success 'OS Login: metadata keys are not used; what to do instead' '
	fake_scenario "{$VM, \"project_metadata_items\": [{\"key\": \"enable-oslogin\", \"value\": \"TRUE\"}]}" &&
	fake_log_reset &&
	{ "$GG_CLI" ssh-config node-name 2>err; [ $? = 3 ]; } &&
	test_grep "OS Login is enabled" err && test_grep "os-login ssh-keys add" err &&
	[ "$(fake_requests "POST")" = 0 ]
'

test_done
