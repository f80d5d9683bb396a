#!/usr/bin/env bash
# needs: 50-container-toolkit
# 20-nvidia-driver: the NVIDIA driver from NVIDIA's CUDA apt repository (set up through
# its keyring package), the kernel flavour chosen by GPU generation, the kernel headers
# for the running kernel (DKMS builds the module), the packages held so that an
# unattended upgrade cannot swap the driver under a running kernel module.
#
#   20-nvidia-driver.sh check          0 when nvidia-smi works against a loaded module
#   20-nvidia-driver.sh apply          0 done, 100 done but the VM must reboot
#   20-nvidia-driver.sh flavour [ID]   print the driver flavour for a PCI device id
#                                      (e.g. 0x2335), or for this machine's GPUs:
#                                      open | proprietary | unsupported | none;
#                                      exit 0 for open/proprietary, 1 otherwise,
#                                      2 for an id that is not a PCI device id
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEYRING="$GCLOUD_GPU_SYSROOT/usr/share/keyrings/cuda-archive-keyring.gpg"
PIN_FILE="$GCLOUD_GPU_SYSROOT/etc/apt/preferences.d/gcloud-gpu-nvidia-driver"
REBOOT_MARK="$GCLOUD_GPU_ROOT/driver-reboot"
MAX_REBOOTS=2

# The driver package for a flavour: NVIDIA's meta packages, same names on Ubuntu and
# Debian.  nvidia-open = the open kernel modules; cuda-drivers = the proprietary ones.
meta_package() {
	case $1 in
	open) echo nvidia-open ;;
	proprietary) echo cuda-drivers ;;
	esac
}

flavour_cmd() {
	local f
	if [ $# -eq 0 ]; then
		f="$(machine_flavour)"
	elif [ $# -eq 1 ]; then
		if ! f="$(driver_flavour "$1")"; then
			echo "not a PCI device id: $1 (expected e.g. 0x2335)" >&2
			exit 2
		fi
	else
		echo "usage: $0 flavour [PCI_DEVICE_ID]" >&2
		exit 2
	fi
	echo "$f"
	case $f in
	open | proprietary) exit 0 ;;
	*) exit 1 ;;
	esac
}

step_extra() {
	case $1 in
	flavour)
		shift
		flavour_cmd "$@"
		;;
	*)
		echo "usage: $0 check|apply|flavour [PCI_DEVICE_ID]" >&2
		exit 2
		;;
	esac
}

step_check() {
	if [ -z "$(nvidia_gpus)" ] && allow_no_gpu; then
		return 0
	fi
	driver_works
}

# pin_legacy_branch: Maxwell, Pascal and Volta stop at branch 580; without this lock
# apt would take the newest cuda-drivers, whose modules no longer drive those GPUs.
# The lock raises the 580 versions of every driver package (*nvidia* catches the GL,
# EGL and GLX libraries too, whose exact-version dependencies would otherwise clash);
# packages with no 580 version (the container toolkit) keep their usual priority.
pin_legacy_branch() {
	write_file "$PIN_FILE" 0644 <<EOF
# Written by gcloud-gpu (payloads/steps/20-nvidia-driver.sh): this machine's GPU needs
# the proprietary kernel modules of driver branch $GG_LEGACY_BRANCH, the last that runs
# Maxwell, Pascal and Volta GPUs.  Remove this file only with those GPUs gone.
Package: cuda-drivers* *nvidia* libcuda* libcudadebugger* libnvcuvid* libnvoptix* libnvsdm* libxnvctrl*
Pin: version $GG_LEGACY_BRANCH.*
Pin-Priority: 1001
EOF
}

add_cuda_repo() {
	local base=$1 tmp
	if pkg_installed cuda-keyring && [ -r "$KEYRING" ]; then
		return 0
	fi
	progress 3 "adding NVIDIA's CUDA repository"
	tmp="$(mktemp -d)"
	if ! curl -fsSL --retry 3 --max-time 300 -o "$tmp/cuda-keyring.deb" "$base/cuda-keyring_1.1-1_all.deb"; then
		rm -rf "$tmp"
		die "cannot download NVIDIA's repository keyring package from $base/"
	fi
	if ! DEBIAN_FRONTEND=noninteractive dpkg -i "$tmp/cuda-keyring.deb"; then
		rm -rf "$tmp"
		die "cannot install NVIDIA's repository keyring package (dpkg output above)"
	fi
	rm -rf "$tmp"
}

# hold_driver META: hold the meta package and every installed package of the same
# version (the driver's libraries, DKMS module, utilities: one release, one version).
hold_driver() {
	local meta=$1 ver
	local -a pkgs
	ver="$(pkg_version "$meta")"
	mapfile -t pkgs < <(dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' |
		awk -v v="$ver" -v m="$meta" '$2 == v && $3 == "installed" && $1 != m { print $1 }')
	log "holding $meta $ver and ${#pkgs[@]} packages of the same version"
	apt-mark hold "$meta" "${pkgs[@]}" >/dev/null
}

# request_reboot MODPROBE_OUTPUT: exit 100, unless reboots already failed to help.
request_reboot() {
	local cur prev="" count=0
	cur="$(boot_id)"
	if [ -r "$REBOOT_MARK" ]; then
		read -r prev count <"$REBOOT_MARK" || true
		[[ $count =~ ^[0-9]+$ ]] || count=0
	fi
	if [ "$prev" != "$cur" ]; then
		if ((count >= MAX_REBOOTS)); then
			die "the NVIDIA driver is installed but its kernel module still does not load after $count reboots: see 'dkms status' and 'journalctl -k | grep -i nvidia' on the VM" "$1"
		fi
		count=$((count + 1))
		mkdir -p "$GCLOUD_GPU_ROOT"
		chmod 0700 "$GCLOUD_GPU_ROOT"
		printf '%s %s\n' "$cur" "$count" | write_file "$REBOOT_MARK" 0600
	fi
	log "the nvidia kernel module loads after a reboot"
	progress 100 "driver installed: reboot needed"
	exit 100
}

step_apply() {
	local gpus flavour meta kernel base
	gpus="$(nvidia_gpus)"
	if [ -z "$gpus" ]; then
		if allow_no_gpu; then
			log "no NVIDIA GPU (CPU-only dry run): nothing to install"
			return 0
		fi
		die "no NVIDIA GPU on this machine's PCI bus: attach one, or set GG_ALLOW_NO_GPU=1 for a CPU-only dry run"
	fi
	if driver_works; then
		log "a working NVIDIA driver is already loaded: keeping it"
		return 0
	fi
	flavour="$(machine_flavour)"
	if [ "$flavour" = unsupported ]; then
		die "this machine's GPU is not supported by any current NVIDIA driver branch (Kepler or older): recreate the VM with a T4, L4, A100, H100 or newer"
	fi
	meta="$(meta_package "$flavour")"
	kernel="$(uname -r)"
	log "GPU driver flavour: $flavour ($meta), kernel $kernel"

	if ! pkg_installed "$meta" || ! pkg_installed "linux-headers-$kernel"; then
		base="https://developer.download.nvidia.com/compute/cuda/repos/$(cuda_distro)/$(cuda_arch)"
		require_net "$base/"
		add_cuda_repo "$base"
		if ! key_has_fpr "$KEYRING" "$GG_FPR_CUDA"; then
			die "NVIDIA's repository keyring ($KEYRING) does not hold the expected key $GG_FPR_CUDA: refusing to install from it"
		fi
		if [ "$flavour" = proprietary ]; then
			pin_legacy_branch
		fi
		progress 5 "updating package lists"
		apt_update 5 15
		progress 15 "installing $meta and the headers of kernel $kernel"
		apt_get 15 94 install "linux-headers-$kernel" "$meta" ||
			die "installing the NVIDIA driver ($meta) failed: see apt-get's output above"
	fi
	hold_driver "$meta"

	progress 96 "loading the nvidia kernel module"
	local out
	if out="$(modprobe nvidia 2>&1)" && driver_works; then
		rm -f "$REBOOT_MARK"
		log "driver loaded without a reboot"
		progress 100 "driver ready"
		return 0
	fi
	request_reboot "modprobe nvidia: ${out:-no output}"
}

step_main "$@"
