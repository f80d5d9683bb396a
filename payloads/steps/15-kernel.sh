#!/usr/bin/env bash
# needs: 40-docker
# 15-kernel: a kernel the NVIDIA driver's module can be built for (DKMS needs its
# headers), kept.  The headers of the running kernel when the archive still has them;
# when it does not (an image whose kernel build was superseded: its
# linux-headers-$(uname -r) is gone), the current kernel of the same flavour and its
# headers (the metapackages: linux-image-gcp / linux-headers-gcp on Ubuntu's Compute
# Engine images, linux-image-cloud-amd64 / linux-headers-cloud-amd64 on Debian's), then a
# reboot into it (exit 100).  The kernel packages are held (apt-mark hold), so that
# unattended-upgrades cannot boot the VM into a kernel that has no module.  This is what
# Google's own installer does (GoogleCloudPlatform/compute-gpu-installation).
#
# A driver that already loads needs nothing here; on a CPU-only run the step is skipped,
# saying why.  On a later `reattach` (which runs every check again), a VM that booted a
# kernel without headers gets them here, and 20-nvidia-driver builds the module for it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REBOOT_MARK="$GCLOUD_GPU_ROOT/kernel-reboot"

# kernel_flavour RELEASE: what follows a packaged kernel's ABI number (6.8.0-1015-gcp:
# gcp; 6.1.0-28-cloud-amd64: cloud-amd64), the suffix of its metapackages' names.
kernel_flavour() {
	[[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-([a-z0-9][a-z0-9.+-]*)$ ]] || return 1
	printf '%s\n' "${BASH_REMATCH[1]}"
}

# to_hold RELEASE: the installed packages that pin the kernel: the flavour's
# metapackages (which pull in new kernels) and every installed kernel image and headers
# of the flavour (the running one, and one installed for the next boot).
to_hold() {
	local k=$1 f p
	if ! f="$(kernel_flavour "$k")"; then
		for p in "linux-image-$k" "linux-headers-$k"; do
			if pkg_installed "$p"; then printf '%s\n' "$p"; fi
		done
		return 0
	fi
	dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null |
		awk -v f="$f" '$2 == "installed" && ($1 == "linux-image-" f || $1 == "linux-headers-" f ||
			$1 ~ "^linux-(image|headers)-[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-" f "$") { print $1 }' | LC_ALL=C sort
}

kernel_held() {
	local held p
	held="$(apt-mark showhold 2>/dev/null || true)"
	while read -r p; do
		grep -qx -- "$p" <<<"$held" || return 1
	done < <(to_hold "$1")
}

hold_kernel() {
	local -a pkgs
	mapfile -t pkgs < <(to_hold "$1")
	[ ${#pkgs[@]} -gt 0 ] || return 0
	log "holding the kernel: ${pkgs[*]}"
	apt-mark hold "${pkgs[@]}" >/dev/null || die "apt-mark hold ${pkgs[*]} failed: see its output above"
}

step_check() {
	local k
	if no_gpu_skip; then return 0; fi
	if driver_works; then
		log "the NVIDIA driver loads on this kernel: nothing to do"
		return 0
	fi
	k="$(uname -r)"
	pkg_installed "linux-headers-$k" && kernel_held "$k"
}

# new_kernel FLAVOUR: install the flavour's current kernel and headers and ask for the
# reboot into it; a second reboot that did not change the kernel is a failure, not a loop.
new_kernel() {
	local f=$1 k cur prev=""
	k="$(uname -r)"
	cur="$(boot_id)"
	if [ -r "$REBOOT_MARK" ]; then read -r prev <"$REBOOT_MARK" || true; fi
	if [ -n "$prev" ] && [ "$prev" != "$cur" ]; then
		die "the VM rebooted but still runs kernel $k, whose headers the archive no longer has, not the current linux-image-$f just installed: see 'grep -i menuentry /boot/grub/grub.cfg' on the VM, set the newest kernel as the default, reboot and push again"
	fi
	log "the package archive no longer has linux-headers-$k (this image's kernel build was superseded): installing the current $f kernel and its headers, then rebooting into it"
	progress 20 "installing linux-image-$f and linux-headers-$f"
	apt_get 20 90 install "linux-image-$f" "linux-headers-$f" ||
		die "installing the $f kernel (linux-image-$f, linux-headers-$f) failed: see apt-get's output above"
	hold_kernel "$k"
	mkdir -p "$GCLOUD_GPU_ROOT"
	chmod 0700 "$GCLOUD_GPU_ROOT"
	printf '%s\n' "$cur" | write_file "$REBOOT_MARK" 0600
	progress 100 "new kernel installed: reboot needed"
	exit 100
}

step_apply() {
	local k f
	if no_gpu_skip; then return 0; fi
	if driver_works; then
		log "the NVIDIA driver loads on this kernel: nothing to do"
		return 0
	fi
	k="$(uname -r)"
	log "running kernel: $k"
	if ! pkg_installed "linux-headers-$k"; then
		progress 5 "updating package lists"
		apt_update 5 20
		if apt_has "linux-headers-$k"; then
			progress 20 "installing the headers of kernel $k"
			apt_get 20 90 install "linux-headers-$k" ||
				die "installing linux-headers-$k failed: see apt-get's output above"
		else
			f="$(kernel_flavour "$k")" ||
				die "the package archive has no headers for the running kernel $k, which is not a distribution kernel: install its headers by hand (DKMS needs them), or boot a distribution kernel, then push again"
			new_kernel "$f"
		fi
	fi
	progress 92 "holding the kernel packages"
	hold_kernel "$k"
	rm -f "$REBOOT_MARK"
	progress 100 "kernel $k with its headers, held"
}

step_main "$@"
