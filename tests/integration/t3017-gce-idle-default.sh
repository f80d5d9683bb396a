#!/usr/bin/env bash
# t3017: the idle stop's default on Compute Engine.  A VM that carries the label
# gcloud-gpu=managed (what `gcloud-gpu create` sets) gets 60 minutes at its push,
# unless something was chosen before (`off` included); a VM without the label, and
# an --ssh target (t2017), get none unless asked.  The loopback Compute Engine API's
# VM is the loopback sshd (lib-gce.sh); no systemd here, so the units go to a test
# directory.
. "$(dirname "$0")/lib-cli.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

cli_setup || exit 1
require_helper idle-set
fake_vm_on_sshd || exit 1
export GCLOUD_GPU_REMOTE_UNIT_DIR=$TEST_DIR/units
# shellcheck disable=SC2034 # used in the test bodies
MANAGED="\"instance\": {\"labels\": {\"gcloud-gpu\": \"managed\"}}"

test_expect_success 'a VM without the label: push sets no idle stop' '
	fake_scenario "{$VM, $KEYS}" &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/push1" 2>&1 &&
	test_grep "^done: the plan finished" "$TEST_DIR/push1" &&
	[ ! -e "$TEST_DIR/vm/idle.json" ] &&
	gg status node-name >"$TEST_DIR/status1" 2>&1 &&
	test_grep "^idle  *stop off" "$TEST_DIR/status1"
'

test_expect_success 'a VM labelled gcloud-gpu=managed: push sets 60 minutes' '
	fake_scenario "{$VM, $KEYS, $MANAGED}" &&
	gg push node-name --payload "$DEMO" >"$TEST_DIR/push2" 2>&1 &&
	jq -e ".period == 3600" "$TEST_DIR/vm/idle.json" &&
	[ -L "$TEST_DIR/units/timers.target.wants/gcloud-gpu-idle.timer" ] &&
	gg status node-name >"$TEST_DIR/status2" 2>&1 &&
	test_grep "^idle  *stop after 60 min without use" "$TEST_DIR/status2" &&
	gg list >"$TEST_DIR/list0" &&
	test_grep "^node-name .* 1h$" "$TEST_DIR/list0"
'

test_expect_success 'what the user chose stays: 2h, then off, survive later pushes' '
	gg idle-stop node-name 2h >/dev/null &&
	fake_log_reset &&
	gg push node-name --payload "$DEMO" >/dev/null 2>&1 &&
	jq -e ".period == 7200" "$TEST_DIR/vm/idle.json" &&
	gg list >"$TEST_DIR/list00" &&
	test_grep "^node-name .* 2h$" "$TEST_DIR/list00" &&
	gg idle-stop node-name off >/dev/null &&
	gg push node-name --payload "$DEMO" >/dev/null 2>&1 &&
	jq -e ".period == 0" "$TEST_DIR/vm/idle.json" &&
	[ ! -e "$TEST_DIR/units/gcloud-gpu-idle.timer" ]
'

test_expect_success 'idle-stop records its setting as a label: list shows it without SSH' '
	fake_scenario "{$VM, $KEYS, $MANAGED}" && fake_log_reset &&
	gg idle-stop node-name 45m >/dev/null &&
	[ "$(fake_requests "POST .*/node-name/setLabels")" = 1 ] &&
	gg list >"$TEST_DIR/list1" &&
	test_grep "^node-name .* 45m$" "$TEST_DIR/list1" &&
	gg idle-stop node-name 2h >/dev/null &&
	gg list >"$TEST_DIR/list2" &&
	test_grep "^node-name .* 2h$" "$TEST_DIR/list2" &&
	gg idle-stop node-name off >/dev/null &&
	[ "$(fake_requests "POST .*/node-name/setLabels")" = 3 ] &&
	gg list >"$TEST_DIR/list3" &&
	test_grep "^node-name .* off$" "$TEST_DIR/list3"
'

test_expect_success 'push --idle-stop through the fleet (--parallel): each push sets it, list shows it' '
	fake_scenario "{$VM, $KEYS, $MANAGED}" &&
	{ gg push --parallel 1 node-name --payload "$DEMO" --idle-stop 30m >"$TEST_DIR/push3" 2>&1 || { cat "$TEST_DIR/push3"; false; }; } &&
	jq -e ".period == 1800" "$TEST_DIR/vm/idle.json" &&
	gg list >"$TEST_DIR/list4" &&
	test_grep "^node-name .* 30m$" "$TEST_DIR/list4"
'

test_expect_success 'push --dry-run through the fleet is passed on as --dry-run, not as --timeout' '
	fake_scenario "{$VM, $KEYS, $MANAGED}" &&
	{ gg push --parallel 1 node-name --payload "$DEMO" --dry-run >"$TEST_DIR/push4" 2>&1 || { cat "$TEST_DIR/push4"; false; }; } &&
	test_grep "^node-name  *done " "$TEST_DIR/push4" &&
	! grep -q "for --timeout" "$TEST_DIR/push4"
'

test_done
