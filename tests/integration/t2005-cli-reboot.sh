#!/usr/bin/env bash
# gcloud-gpu through a reboot and a cut helper upload.  A step exits 100: the runner
# runs GCLOUD_GPU_REBOOT_COMMAND, whose stand-in here changes the boot id and cuts the
# link (tools/relay.py), as a VM going down does.  There is no systemd here to start
# the runner from the boot unit; `resume`, which push runs when it reconnects, starts
# it instead (the plan is unfinished and the boot id is new), and push follows the
# plan to its end.  And a helper upload cut by the link is tried again.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow resume

test_expect_success 'a step asks for a reboot: push reconnects, says so, and the plan ends done' '
	copy_demo &&
	cat >"$TEST_DIR/recipe/steps/15-reboot.sh" <<-\STEP &&
	#!/bin/sh
	case "$1" in
	check) exit 1 ;;
	apply) echo "asking for a reboot"; exit 100 ;;
	esac
	STEP
	chmod +x "$TEST_DIR/recipe/steps/15-reboot.sh" &&
	gg logs "${TARGET[@]}" >/dev/null 2>&1 &&
	start_relay --cut-file "$TEST_DIR/cut-now" &&
	GCLOUD_GPU_REMOTE_REBOOT_COMMAND="sleep 1.5 && echo boot-after-reboot >$TEST_DIR/boot_id && touch $TEST_DIR/cut-now && echo rebooted >>$TEST_DIR/reboots" \
		gg push "${VIA_RELAY[@]}" --payload "$TEST_DIR/recipe" >"$TEST_DIR/push.out" 2>&1 &&
	test_grep "^\[15-reboot\] asking for a reboot" "$TEST_DIR/push.out" &&
	test_grep "the VM is rebooting" "$TEST_DIR/push.out" &&
	test_grep "restarted since the last event seen here" "$TEST_DIR/push.out" &&
	grep -o -e "the VM is rebooting" -e "restarted since" -e "^\[20-work\] started" "$TEST_DIR/push.out" \
		>"$TEST_DIR/order" &&
	printf "%s\n" "the VM is rebooting" "restarted since" "[20-work] started" >"$TEST_DIR/order.want" &&
	test_cmp "$TEST_DIR/order.want" "$TEST_DIR/order" &&
	test_grep "^\[30-check\] done" "$TEST_DIR/push.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push.out" &&
	[ "$(wc -l <"$TEST_DIR/reboots")" -eq 1 ] &&
	gg status "${TARGET[@]}" >"$TEST_DIR/status" &&
	test_grep "^plan  *done: all" "$TEST_DIR/status" &&
	test_grep "15-reboot  *done" "$TEST_DIR/status"
'

test_expect_success 'a helper upload cut by the link is sent again and push goes on' '
	GCLOUD_GPU_REMOTE_ROOT=$TEST_DIR/vm2 &&
	start_relay --cut-after 700000 --rate 10000000 &&
	gg push "${VIA_RELAY[@]}" --payload "$DEMO" >"$TEST_DIR/boot.out" 2>&1 &&
	test_grep "uploading the helper" "$TEST_DIR/boot.out" &&
	test_grep "lost the connection" "$TEST_DIR/boot.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/boot.out" &&
	cmp "$GCLOUD_GPU_HELPER" "$TEST_DIR/vm2/bin/gcloud-gpu-helper-$(sha256sum <"$GCLOUD_GPU_HELPER" | cut -d" " -f1)" &&
	! ls "$TEST_DIR"/vm2/bin/.upload.* 2>/dev/null &&
	GCLOUD_GPU_REMOTE_ROOT=$TEST_DIR/vm
'

test_done
