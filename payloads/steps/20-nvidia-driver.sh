#!/usr/bin/env bash
# 20-nvidia-driver: the NVIDIA driver from NVIDIA's CUDA apt repository, set up through
# its keyring package (whose key is checked before the package is installed), the
# kernel flavour chosen by GPU generation, the module built by DKMS for the running
# kernel (whose headers step 15-kernel provides), the packages held so that an
# unattended upgrade cannot swap the driver under a running kernel module.  A driver
# that no longer loads (the VM booted another kernel) is repaired: `reattach` runs the
# checks again, and apply builds the module for the running kernel.
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
# The hand-written branch lock of earlier versions; NVIDIA's pinning package replaces it.
PIN_FILE="$GCLOUD_GPU_SYSROOT/etc/apt/preferences.d/gcloud-gpu-nvidia-driver"
CONTRIB="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/gcloud-gpu-contrib.sources"
REBOOT_MARK="$GCLOUD_GPU_ROOT/driver-reboot"
MAX_REBOOTS=2

# meta_candidates FLAVOUR: the driver packages for a flavour, the preferred first.
#   open          Ubuntu 24.04: nvidia-driver-open (NVIDIA's Ubuntu packages drop the
#                 branch number from 590 on, and Google's installer takes this name on
#                 24.04), else nvidia-open (Ubuntu 22.04, Debian 12)
#   proprietary   cuda-drivers, locked to branch 580 (pin_legacy_branch)
meta_candidates() {
	case $1 in
	open)
		if [ "$(os_field ID) $(os_field VERSION_ID)" = "ubuntu 24.04" ]; then echo nvidia-driver-open; fi
		echo nvidia-open
		;;
	proprietary) echo cuda-drivers ;;
	esac
}

# installed_meta FLAVOUR: the flavour's driver package already installed, if any.
installed_meta() {
	local m
	while read -r m; do
		if pkg_installed "$m"; then
			echo "$m"
			return 0
		fi
	done < <(meta_candidates "$1")
	return 1
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
	if no_gpu_skip; then return 0; fi
	driver_works
}

# pin_legacy_branch: Maxwell, Pascal and Volta stop at branch 580; without a lock apt
# would take the newest cuda-drivers, whose modules no longer drive those GPUs.  NVIDIA
# ships the lock as a package (nvidia-driver-pinning-580), to be installed before the
# driver; a repository without it gets the hand-written apt preferences of old.
pin_legacy_branch() {
	local pin="nvidia-driver-pinning-$GG_LEGACY_BRANCH"
	if apt_has "$pin"; then
		progress 15 "locking the driver to branch $GG_LEGACY_BRANCH ($pin)"
		apt_get 15 18 install "$pin" || die "installing $pin failed: see apt-get's output above"
		rm -f "$PIN_FILE"
		return 0
	fi
	log "the repository has no $pin: locking branch $GG_LEGACY_BRANCH with apt preferences"
	write_file "$PIN_FILE" 0644 <<PIN
# Written by gcloud-gpu (payloads/steps/20-nvidia-driver.sh): this machine's GPU needs
# the proprietary kernel modules of driver branch $GG_LEGACY_BRANCH, the last that runs
# Maxwell, Pascal and Volta GPUs.  Remove this file only with those GPUs gone.
Package: cuda-drivers* *nvidia* libcuda* libcudadebugger* libnvcuvid* libnvoptix* libnvsdm* libxnvctrl*
Pin: version $GG_LEGACY_BRANCH.*
Pin-Priority: 1001
PIN
}

# add_cuda_repo BASE: NVIDIA's keyring package; its key is checked inside the downloaded
# package before apt installs it (and runs its maintainer scripts).
add_cuda_repo() {
	local base=$1 tmp url
	if pkg_installed cuda-keyring && key_has_fpr "$KEYRING" "$GG_FPR_CUDA"; then
		return 0
	fi
	url="$base/cuda-keyring_1.1-1_all.deb"
	progress 3 "adding NVIDIA's CUDA repository"
	tmp="$(mktemp -d)"
	chmod 0755 "$tmp" # apt's download user (_apt) reads the file from here
	if ! curl -fsSL --retry 3 --max-time 300 -o "$tmp/cuda-keyring.deb" "$url"; then
		rm -rf "$tmp"
		die "cannot download NVIDIA's repository keyring package $url"
	fi
	if ! deb_key_ok "$tmp/cuda-keyring.deb" usr/share/keyrings/cuda-archive-keyring.gpg "$GG_FPR_CUDA"; then
		rm -rf "$tmp"
		die "NVIDIA's repository keyring package ($url) does not hold the expected key $GG_FPR_CUDA: refusing to install it"
	fi
	if ! apt_get 3 5 install "$tmp/cuda-keyring.deb"; then
		rm -rf "$tmp"
		die "cannot install NVIDIA's repository keyring package (apt-get output above)"
	fi
	rm -rf "$tmp"
}

# The awk programs of contrib_sources: each prints, for an entry of the Debian archive
# that has "main" but not "contrib", a deb822 stanza of the same entry with contrib only.
# shellcheck disable=SC2016 # awk's $fields, not the shell's
CONTRIB_DEB822='
function flush() {
	if (types ~ /(^|[ \t])deb([ \t]|$)/ && comps ~ /(^|[ \t])main([ \t]|$)/ &&
	    comps !~ /(^|[ \t])contrib([ \t]|$)/ && uris != "" && suites != "") {
		printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: contrib\n", uris, suites
		if (signed != "") printf "Signed-By: %s\n", signed
		print ""
	}
	types = uris = suites = comps = signed = ""
}
function value() { sub(/^[^:]*:[ \t]*/, ""); return $0 }
/^[ \t]*$/ { flush(); next }
/^Types:/ { types = value() }
/^URIs:/ { uris = value() }
/^Suites:/ { suites = value() }
/^Components:/ { comps = value() }
/^Signed-By:[ \t]*[^ \t]/ { signed = value() }
END { flush() }'
# shellcheck disable=SC2016
CONTRIB_ONELINE='
$1 == "deb" {
	signed = ""
	i = 2
	if ($2 ~ /^\[/) {
		for (; i <= NF; i++) {
			if ($i ~ /signed-by=/) { s = $i; sub(/^.*signed-by=/, "", s); sub(/\]$/, "", s); signed = s }
			if ($i ~ /\]$/) { i++; break }
		}
	}
	main = 0; contrib = 0
	for (j = i + 2; j <= NF; j++) { if ($j == "main") main = 1; if ($j == "contrib") contrib = 1 }
	if (main && !contrib) {
		printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: contrib\n", $i, $(i + 1)
		if (signed != "") printf "Signed-By: %s\n", signed
		print ""
	}
}'

# contrib_sources: the contrib stanzas for the image's own apt sources (deb822 .sources
# files and one-line .list files).
contrib_sources() {
	local d="$GCLOUD_GPU_SYSROOT/etc/apt" f
	for f in "$d"/sources.list.d/*.sources; do
		if [ -r "$f" ] && [ "$f" != "$CONTRIB" ]; then awk "$CONTRIB_DEB822" "$f"; fi
	done
	for f in "$d/sources.list" "$d"/sources.list.d/*.list; do
		if [ -r "$f" ]; then awk "$CONTRIB_ONELINE" "$f"; fi
	done
}

# debian_contrib: on Debian, the contrib component of the image's own archive, which
# NVIDIA's packages need (CUDA installation guide, Debian), in a file of its own: the
# image's files stay as they are.
debian_contrib() {
	[ "$(os_field ID)" = debian ] || return 0
	local want
	want="$(contrib_sources)"
	if [ -z "$want" ]; then
		log "Debian's contrib component: already in the apt sources (or no Debian archive listed)"
		return 0
	fi
	if [ ! -r "$CONTRIB" ] || [ "$(sed '/^#/d' "$CONTRIB")" != "$want" ]; then
		log "adding Debian's contrib component, which NVIDIA's packages need: ${CONTRIB#"$GCLOUD_GPU_SYSROOT"}"
		{
			echo "# Written by gcloud-gpu (20-nvidia-driver): the contrib component of the Debian"
			echo "# archive this image lists, which NVIDIA's driver packages need."
			printf '%s\n' "$want"
		} | write_file "$CONTRIB" 0644
	fi
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

# install_driver FLAVOUR: the CUDA repository and the flavour's driver package, whose
# name is left in META.
install_driver() {
	local flavour=$1 base m
	need_tools curl gpg ca-certificates
	base="https://developer.download.nvidia.com/compute/cuda/repos/$(cuda_distro)/$(cuda_arch)"
	require_net "$base/"
	add_cuda_repo "$base"
	if ! key_has_fpr "$KEYRING" "$GG_FPR_CUDA"; then
		die "NVIDIA's repository keyring ($KEYRING) does not hold the expected key $GG_FPR_CUDA: refusing to install from it"
	fi
	debian_contrib
	progress 5 "updating package lists"
	apt_update 5 15
	if [ "$flavour" = proprietary ]; then
		pin_legacy_branch
	fi
	META=""
	while read -r m; do
		if apt_has "$m"; then
			META=$m
			break
		fi
	done < <(meta_candidates "$flavour")
	[ -n "$META" ] ||
		die "NVIDIA's repository offers none of: $(meta_candidates "$flavour" | tr '\n' ' ')(see 'apt-cache policy' on the VM)"
	progress 18 "installing $META (DKMS builds its module)"
	apt_get 18 90 install "$META" ||
		die "installing the NVIDIA driver ($META) failed: see apt-get's output above"
}

step_apply() {
	local flavour kernel out
	if no_gpu_skip; then return 0; fi
	if [ -z "$(nvidia_gpus)" ]; then
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
	kernel="$(uname -r)"
	pkg_installed "linux-headers-$kernel" ||
		die "the headers of the running kernel $kernel are not installed, and DKMS needs them: step 15-kernel installs them (run the plan again: gcloud-gpu reattach)"
	if META="$(installed_meta "$flavour")"; then
		log "GPU driver flavour: $flavour ($META installed), kernel $kernel"
	else
		log "GPU driver flavour: $flavour, kernel $kernel"
		install_driver "$flavour"
	fi
	hold_driver "$META"

	# The module for the running kernel: built when the driver was installed, but not
	# for a kernel the VM booted later (a kernel update; a repair through `reattach`).
	if command -v dkms >/dev/null 2>&1; then
		progress 92 "building the nvidia module for kernel $kernel (DKMS)"
		limited "$GG_LIMIT_DKMS" "dkms autoinstall -k $kernel" dkms autoinstall -k "$kernel" ||
			log "dkms autoinstall for kernel $kernel failed (output above): trying the module anyway"
	fi
	progress 96 "loading the nvidia kernel module"
	if out="$(modprobe nvidia 2>&1)" && driver_works; then
		rm -f "$REBOOT_MARK"
		log "driver loaded without a reboot"
		progress 100 "driver ready"
		return 0
	fi
	request_reboot "modprobe nvidia: ${out:-no output}"
}

step_main "$@"
