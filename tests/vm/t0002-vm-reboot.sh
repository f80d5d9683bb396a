#!/usr/bin/env bash
# t0002: a real reboot through the helper's runner.  A step of the recipe exits 100: the
# runner writes its boot unit and runs `systemctl reboot`; the VM really goes down
# (nspawn exits 133) and boots again with a new boot id; systemd starts the boot unit,
# which runs the rest of the plan; push follows across it and the plan ends done; the
# unit is removed.  Then the same as the sudo user "gg" (not root) on the same VM.
. "${GG_SOURCE_DIR:-.}/tests/integration/lib.sh"
. "$GG_SOURCE_DIR/tests/vm/lib-vm.sh"

vm_start || exit 1
vm_cli_env

# The demo recipe plus a step that asks for a reboot every time it runs; MARK makes
# each push's manifest (and so its plan) new.
make_recipe() {
	rm -rf "$TEST_DIR/recipe" &&
	cp -a "$GG_SOURCE_DIR/tests/integration/recipes/demo" "$TEST_DIR/recipe" &&
	cat >"$TEST_DIR/recipe/steps/15-reboot.sh" <<-STEP &&
	#!/bin/sh
	# push $1
	case "\$1" in
	check) exit 1 ;;
	apply) echo "asking for a reboot on boot \$(cat /proc/sys/kernel/random/boot_id)"; exit 100 ;;
	esac
	STEP
	chmod +x "$TEST_DIR/recipe/steps/15-reboot.sh"
}

# reboot_push USER: push as USER across the reboot, then check what the VM says.
reboot_push() {
	local user=$1 before after boots
	vm_target "$user" &&
	make_recipe "$user" &&
	before=$(vm_boot_id) && boots=$(vm_boots) &&
	"$GG_CLI" push "${VM_TARGET[@]}" --accept-new-host-key --payload "$TEST_DIR/recipe" \
		>"$TEST_DIR/push-$user.out" 2>&1 ||
		{ echo "push as $user failed:"; cat "$TEST_DIR/push-$user.out"; return 1; }
	test_grep "^\[15-reboot\] asking for a reboot on boot $before" "$TEST_DIR/push-$user.out" &&
	test_grep "the VM is rebooting" "$TEST_DIR/push-$user.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push-$user.out" &&
	after=$(vm_boot_id) &&
	[ "$after" != "$before" ] &&
	[ "$(vm_boots)" = $((boots + 1)) ] || { echo "nspawn did not boot the VM again"; return 1; }
}

test_expect_success 'root: a step exits 100, the VM really reboots, push follows to done' '
	reboot_push root
'

test_expect_success 'root: systemd ran the boot unit after the reboot (the journal says so)' '
	vm_journal_unit gcloud-gpu-resume.service >"$TEST_DIR/journal" &&
	test_grep "Finished gcloud-gpu-resume.service" "$TEST_DIR/journal" &&
	! grep "Failed to start gcloud-gpu-resume.service" "$TEST_DIR/journal"
'

test_expect_success 'root: the plan is done and the boot unit is gone' '
	"$GG_CLI" status "${VM_TARGET[@]}" >"$TEST_DIR/status" 2>&1 &&
	test_grep "^plan  *done" "$TEST_DIR/status" &&
	test_grep "15-reboot  *done" "$TEST_DIR/status" &&
	vm_ssh "! ls /etc/systemd/system/gcloud-gpu-resume.service /etc/systemd/system/multi-user.target.wants/gcloud-gpu-resume.service 2>/dev/null"
'

test_expect_success 'sudo user gg: the same across a second real reboot' '
	reboot_push gg &&
	vm_journal_unit gcloud-gpu-resume.service >"$TEST_DIR/journal-gg" &&
	test_grep "Finished gcloud-gpu-resume.service" "$TEST_DIR/journal-gg" &&
	! grep "Failed to start gcloud-gpu-resume.service" "$TEST_DIR/journal-gg" &&
	"$GG_CLI" status "${VM_TARGET[@]}" >"$TEST_DIR/status-gg" 2>&1 &&
	test_grep "^plan  *done" "$TEST_DIR/status-gg" &&
	vm_ssh "! ls /etc/systemd/system/gcloud-gpu-resume.service 2>/dev/null"
'

test_done
