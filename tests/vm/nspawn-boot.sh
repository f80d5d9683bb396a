#!/usr/bin/env bash
# tests/vm/nspawn-boot.sh: the supervisor of one test VM (started by lib-vm.sh's
# vm_boot, never by hand).
#
#   unshare --net --mount --propagation private -- nspawn-boot.sh VMDIR LOWER
#
# It runs in a network namespace and a mount namespace of its own, made for this VM:
# lib-vm.sh attaches slirp4netns to the network namespace (tap0, 10.0.2.100, the
# mirror reached through slirp's user-mode NAT, sshd forwarded to a loopback port of
# the host), and the overlay mounted here lives in the mount namespace, so it goes
# away with this process however it ends.  It waits for tap0, mounts a fresh-or-kept
# overlay (VMDIR/upper over LOWER, the cached tree), and boots it with systemd as
# PID 1.  nspawn exits 133 when the VM reboots: then it boots again (a new boot id, as
# systemd-nspawn@.service does with RestartForceExitStatus=133).  Any other exit is a
# power-off (0) or a failure: it writes the status to VMDIR/exit and ends with it.
set -euo pipefail

vmdir=$1 lower=$2

# slirp4netns configures tap0 from outside; boot only once it carries its address.
for _ in $(seq 1 600); do
	if ip -o -4 addr show dev tap0 2>/dev/null | grep -q 10.0.2.100; then
		break
	fi
	sleep 0.1
done
ip -o -4 addr show dev tap0 | grep -q 10.0.2.100 || { echo "nspawn-boot: tap0 never came up" >&2; exit 1; }
ip link set lo up

mkdir -p "$vmdir/upper" "$vmdir/work" "$vmdir/merged" "$vmdir/docker"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$vmdir/upper,workdir=$vmdir/work" "$vmdir/merged"

# Docker inside: writable /proc/sys and /sys (API VFS), every capability, the
# cgroup tree, the keyring and bpf system calls.  /var/lib/docker is a real directory:
# overlay2 cannot stack on the overlay root.
export SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
# TERM (vm_stop) is passed to nspawn, which turns it into an orderly halt of the VM.
stopping=0
nspawn=
trap 'stopping=1; [ -z "$nspawn" ] || kill -TERM "$nspawn" 2>/dev/null' TERM INT
boots=0
while :; do
	boots=$((boots + 1))
	echo "$boots" >"$vmdir/boots"
	# shellcheck disable=SC2086  # GG_VM_NSPAWN_EXTRA: extra options, split on spaces
	systemd-nspawn -D "$vmdir/merged" --boot --register=no --keep-unit --console=passive \
		--resolv-conf=off --timezone=off --link-journal=no --machine="gg-vm-${vmdir##*.}" \
		--capability=all --bind=/sys/fs/cgroup --system-call-filter='@keyring bpf' \
		--bind="$vmdir/docker:/var/lib/docker" \
		${GG_VM_NSPAWN_EXTRA:-} \
		</dev/null >>"$vmdir/console.log" 2>&1 &
	nspawn=$!
	rc=0
	# wait returns early when a trapped signal arrives: wait again for nspawn's status.
	while :; do
		wait "$nspawn" && rc=0 || rc=$?
		kill -0 "$nspawn" 2>/dev/null || break
	done
	nspawn=
	if [ "$rc" -ne 133 ] || [ "$stopping" = 1 ]; then
		break
	fi
done
echo "$rc" >"$vmdir/exit"
exit "$rc"
