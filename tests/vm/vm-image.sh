#!/usr/bin/env bash
# tests/vm/vm-image.sh: build the cached Debian 12 trees the VM tests boot (see
# lib-vm.sh, which calls it under a lock; not meant to be run by hand).
#
#   vm-image.sh root MIRROR DEST   a bootable tree: systemd as PID 1, sshd, sudo, a user
#                                  "gg" with passwordless sudo; apt pointed at MIRROR
#   vm-image.sh jupyter MIRROR DEST  the same with Debian's Jupyter Notebook and an
#                                  IPython kernel installed (not started), for the idle
#                                  stop's test, which would otherwise install them in
#                                  every run
#   vm-image.sh base MIRROR DEST   DEST.tar: a minbase tree for `docker import` inside
#                                  the VM (there is no image registry here)
#
# MIRROR is the Debian mirror this machine's apt already uses (lib-vm.sh reads it from
# the apt sources at run time; no host name is written in the tree).  The cache key
# lib-vm.sh computes includes this file's content, so any change here rebuilds.
# Everything is built in DEST.tmp and renamed into place at the end: a half-built
# tree is never used.
set -euo pipefail

kind=$1 mirror=$2 dest=$3
suite=bookworm
tmp=$dest.tmp
rm -rf "$tmp"
mkdir -p "$tmp"

case "$kind" in
root | jupyter)
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,openssh-server,dbus,iproute2,ca-certificates,curl,gnupg,sudo \
		"$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -n 20 "$tmp.log" >&2; exit 1; }
	printf 'deb %s %s main\n' "$mirror" "$suite" >"$tmp/etc/apt/sources.list"
	if [ "$kind" = jupyter ]; then
		# apt in the new tree, not debootstrap's --include (which fails configuring
		# python3-zmq), with its own /proc in a mount namespace that ends with it, the
		# host's resolver (still in the tree until below), and no service started.
		printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
		chmod 755 "$tmp/usr/sbin/policy-rc.d"
		unshare --mount --propagation private --fork sh -c '
			mount -t proc proc "$1/proc" &&
			chroot "$1" apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q \
				--no-install-recommends jupyter-notebook python3-ipykernel' sh "$tmp" \
			>>"$tmp.log" 2>&1 || { tail -n 20 "$tmp.log" >&2; exit 1; }
		rm -f "$tmp/usr/sbin/policy-rc.d"
	fi
	echo gg-vm >"$tmp/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 gg-vm\n::1 localhost\n' >"$tmp/etc/hosts"
	# slirp4netns's DNS forwarder; nspawn runs with --resolv-conf=off.
	rm -f "$tmp/etc/resolv.conf"
	echo 'nameserver 10.0.2.3' >"$tmp/etc/resolv.conf"
	# Host keys are made per VM by lib-vm.sh (known in advance, never shared).
	rm -f "$tmp"/etc/ssh/ssh_host_*
	cat >"$tmp/etc/ssh/sshd_config.d/gg-vm.conf" <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
CONF
	# The sudo user of the tests (a non-root login with passwordless sudo, as on
	# Compute Engine images).
	chroot "$tmp" useradd -m -s /bin/bash gg
	echo 'gg ALL=(ALL) NOPASSWD:ALL' >"$tmp/etc/sudoers.d/gg"
	chmod 440 "$tmp/etc/sudoers.d/gg"
	# Nothing to log in on: the console is passive.
	chroot "$tmp" systemctl mask console-getty.service getty@tty1.service \
		systemd-firstboot.service >/dev/null 2>&1
	# A machine id per VM comes from systemd on first boot (empty file = first boot).
	: >"$tmp/etc/machine-id"
	rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_*
	rm -f "$tmp.log"
	mv "$tmp" "$dest"
	;;
base)
	debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1 ||
		{ tail -n 20 "$tmp.log" >&2; exit 1; }
	printf 'deb %s %s main\n' "$mirror" "$suite" >"$tmp/etc/apt/sources.list"
	rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_*
	tar -C "$tmp" --numeric-owner -cf "$dest.tar.tmp" .
	rm -rf "$tmp" "$tmp.log"
	mv "$dest.tar.tmp" "$dest.tar"
	;;
*)
	echo "vm-image.sh: unknown kind '$kind' (root, jupyter or base)" >&2
	exit 2
	;;
esac
