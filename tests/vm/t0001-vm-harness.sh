#!/usr/bin/env bash
# t0001: the VM harness itself.  A fresh Debian 12 VM boots with systemd as PID 1 in a
# network namespace and cgroups of its own, its sshd answers on the forwarded loopback
# port (as root and as the sudo user), it reaches the mirror, `systemctl reboot` gives
# a new boot id with the disk kept, a power-off ends nspawn with 0 and it boots again,
# and vm_stop leaves no process, cgroup or record behind.
. "${GG_SOURCE_DIR:-.}/tests/integration/lib.sh"
. "$GG_SOURCE_DIR/tests/vm/lib-vm.sh"

vm_start || exit 1

test_expect_success 'systemd is PID 1 and the system comes up' '
	vm_ssh "cat /proc/1/comm" >"$TEST_DIR/comm" &&
	test_grep "^systemd$" "$TEST_DIR/comm" &&
	{ vm_ssh "systemctl is-system-running --wait" >"$TEST_DIR/running" 2>&1 || true; } &&
	test_grep "^running$" "$TEST_DIR/running" ||
		{ vm_ssh "systemctl --failed --no-legend"; false; }
'

test_expect_success 'the VM has its own network namespace and the forwarded sshd answers' '
	[ "$(vm_ssh "readlink /proc/1/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
	vm_ssh "ip -o -4 addr show dev tap0" | grep -q "10.0.2.100"
'

test_expect_success 'the sudo user logs in and sudo needs no password' '
	[ "$(vm_ssh_as gg "sudo -n id -u")" = 0 ] &&
	[ "$(vm_ssh_as gg "id -un")" = gg ]
'

test_expect_success 'apt in the VM reaches the mirror' '
	vm_ssh "apt-get update -qq && apt-cache policy jq" >"$TEST_DIR/apt" 2>&1 &&
	test_grep "Candidate: [0-9]" "$TEST_DIR/apt"
'

test_expect_success 'reboot: a new boot id, the disk kept, nspawn started again' '
	vm_ssh "echo kept >/root/mark" &&
	before=$(vm_boot_id) &&
	vm_reboot &&
	after=$(vm_boot_id) &&
	[ "$before" != "$after" ] &&
	[ "$(vm_ssh cat /root/mark)" = kept ] &&
	[ "$(vm_boots)" = 2 ]
'

test_expect_success 'power-off ends the VM with 0; it boots again with the disk kept' '
	before=$(vm_boot_id) &&
	vm_poweroff &&
	vm_boot &&
	[ "$(vm_boot_id)" != "$before" ] &&
	[ "$(vm_ssh cat /root/mark)" = kept ]
'

test_expect_success 'vm_stop leaves no process, cgroup or record behind' '
	cg=gg-vm-${VM_DIR##*.} && sup=$vm_sup_pid && slirp=$vm_slirp_pid &&
	vm_stop &&
	! kill -0 "$sup" 2>/dev/null && ! kill -0 "$slirp" 2>/dev/null &&
	! ls -d /sys/fs/cgroup/*/"$cg" 2>/dev/null &&
	[ ! -e "/run/gg-vm/$cg" ]
'

test_done
