#!/usr/bin/env bash
# 10-preflight: is this a machine the recipe can finish on?  Supported OS and CPU,
# root, an NVIDIA GPU that a supported driver runs, an image built for this CPU (the
# Dockerfile's "# platforms:" line), Secure Boot, free disk.
# It changes nothing: check and apply run the same tests; apply says what failed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECURE_BOOT_VAR="$GCLOUD_GPU_SYSROOT/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

secure_boot_on() {
	[ -r "$SECURE_BOOT_VAR" ] || return 1
	# 4 bytes of attributes, then the value: 1 when Secure Boot is enforcing.
	[ "$(od -An -tu1 -j4 -N1 "$SECURE_BOOT_VAR" | tr -d ' \n')" = 1 ]
}

# image_platforms: the CPU architectures named by the Dockerfile's "# platforms:" line
# (those its base image is published for), empty when it names none.
image_platforms() {
	sed -n 's/^#[[:space:]]*platforms:[[:space:]]*//p' "$GCLOUD_GPU_RELEASE/Dockerfile" 2>/dev/null |
		head -n1 | tr ',' ' ' | xargs
}

free_kib() { df -Pk "$GCLOUD_GPU_SYSROOT/var" | awk 'NR == 2 { print $4 }'; }

# preflight: every test in turn; the first that fails is said in one line (die).
preflight() {
	progress 5 "checking the OS"
	if [ -z "$GCLOUD_GPU_SYSROOT" ] && [ "$(id -u)" != 0 ]; then
		die "the recipe must run as root (the helper runs it with sudo)"
	fi
	if ! os_supported; then
		die "unsupported OS: $(os_pretty); the recipe supports Ubuntu 22.04, Ubuntu 24.04 and Debian 12: recreate the VM from one of those images"
	fi
	local arch
	arch="$(dpkg --print-architecture)"
	case $arch in
	amd64 | arm64) ;;
	*) die "unsupported CPU architecture $arch: NVIDIA's repositories serve amd64 and arm64" ;;
	esac
	local plats
	plats="$(image_platforms)"
	if [ -n "$plats" ] && ! grep -qw -- "$arch" <<<"$plats"; then
		die "the Jupyter image (the payload's Dockerfile) is built for ${plats// /, } only, and this VM is $arch: recreate the VM with an x86 machine type (e.g. g2-standard-4 with an L4), or use a Dockerfile whose base image has $arch and say so in its '# platforms:' line"
	fi
	log "OS: $(os_pretty) ($arch)"

	progress 30 "looking for an NVIDIA GPU"
	local gpus flavour working=0
	gpus="$(nvidia_gpus)"
	if driver_works; then working=1; fi
	if [ -z "$gpus" ]; then
		if allow_no_gpu; then
			log "no NVIDIA GPU, as allowed (CPU-only dry run): the driver step is skipped and Jupyter runs without --gpus"
		else
			die "no NVIDIA GPU on this machine's PCI bus: attach one (gcloud compute instances create ... --accelerator=type=nvidia-tesla-t4,count=1) or, for a CPU-only dry run, set GG_ALLOW_NO_GPU=1 or put a file named allow-no-gpu in the payload"
		fi
	else
		local dev addr
		while read -r dev addr; do
			log "GPU: $(gpu_name "$dev") [10de:${dev#0x}] at $addr, driver: $(driver_flavour "$dev")"
		done <<<"$gpus"
		flavour="$(machine_flavour)"
		if [ "$flavour" = unsupported ] && [ "$working" = 0 ]; then
			dev="$(while read -r d _; do
				if [ "$(driver_flavour "$d")" = unsupported ]; then echo "$d"; fi
			done <<<"$gpus" | head -n1)"
			die "$(gpu_name "$dev") (PCI id $dev) is not supported: no current NVIDIA driver branch runs Kepler or older GPUs, and current CUDA frameworks need a newer GPU; recreate the VM with a T4, L4, A100, H100 or newer"
		fi
	fi

	progress 60 "checking Secure Boot"
	if secure_boot_on; then
		if [ "$working" = 1 ]; then
			log "Secure Boot is on and a signed NVIDIA driver already works: keeping it"
		elif [ -n "$gpus" ]; then
			die "Secure Boot is on: the NVIDIA kernel modules this recipe builds (DKMS) are not signed by a key the firmware trusts, so they would not load; stop the VM, run 'gcloud compute instances update VM --no-shielded-secure-boot', start it and push again" \
				"Why not enroll a signing key: that needs someone at the VM's boot console to confirm it (MOK), which a remote, unattended run cannot do."
		fi
	else
		log "Secure Boot: off"
	fi

	progress 80 "checking free disk"
	local need_gib=$GG_MIN_FREE_GIB avail
	if command -v docker >/dev/null 2>&1 && [ -r "$GCLOUD_GPU_RELEASE/Dockerfile" ] &&
		image_present "$(image_tag)"; then
		need_gib=2 # the big downloads are done already
	fi
	avail="$(free_kib)"
	[[ $avail =~ ^[0-9]+$ ]] || die "cannot read the free disk space of $GCLOUD_GPU_SYSROOT/var (df)"
	if ((avail < need_gib * 1024 * 1024)); then
		die "not enough free disk: $((avail / 1024 / 1024)) GiB free on /var, the recipe needs $need_gib GiB (driver, Docker and a CUDA image): resize the boot disk (gcloud compute disks resize) and push again"
	fi
	log "free disk: $((avail / 1024 / 1024)) GiB (needs $need_gib)"
	progress 100 "preflight passed"
}

step_check() {
	GG_FD3=0
	preflight >/dev/null 2>&1
}
step_apply() { preflight; }

step_main "$@"
