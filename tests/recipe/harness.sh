# shellcheck shell=bash
# harness.sh: what the recipe's tests share (sourced by tests/recipe/test-*.sh).
#
#   sandbox OS GPU [secureboot]   a fresh sandbox: a fake root (os-release, a PCI tree,
#                                 boot id, efivar), stand-ins first on PATH, a state root,
#                                 a copy of payloads/ as the release directory
#       OS:  ubuntu2204 ubuntu2404 debian12 ubuntu2004 rocky9
#       GPU: t4 l4 a100 h100 h200 v100 p100 k80 none
#   step NAME check|apply         run one step as the runner does (cwd = release, env);
#                                 stdout+stderr appended to $SB/out, fd 3 to $SB/progress
#   run_recipe                    the runner: each step's check, then its apply when the
#                                 check fails; exit 100 reboots the fake machine
#   fake_reboot                   a new boot: the kernel a metapackage installed runs, the
#                                 module loads if built for it, Docker starts
#   set_kernel RELEASE            the running kernel (uname -r)
#   kernel_ready                  the running kernel's headers installed and held, as
#                                 step 15-kernel leaves them (for tests of later steps)
#   assert / fail / log_has ...   checks; a failed one ends the test with exit 1
#
# The sandboxes live under one temporary directory removed on exit.
set -euo pipefail

GG_SOURCE_DIR="${GG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TOP="$(mktemp -d "${TMPDIR:-/tmp}/gg-recipe.XXXXXX")"
trap 'rm -rf "$TOP"' EXIT
unset GCLOUD_GPU_BOOT_ID_FILE GG_ALLOW_NO_GPU FAKE_OFFLINE FAKE_UNREACHABLE FAKE_BAD_KEY \
	FAKE_MODPROBE_OK FAKE_APT_FAIL FAKE_DF_AVAIL_KB FAKE_KERNEL FAKE_DOCKER_DEAD FAKE_NVSMI \
	FAKE_ARCH FAKE_GONE FAKE_HANG FAKE_DPKG_LOCKED FAKE_DOCKER_IO_VERSION FAKE_NEW_KERNEL \
	FAKE_CLOUD_INIT_RC FAKE_SLOW GG_CUDNN_FROM_REPO GG_LOCK_WAIT GG_HEARTBEAT \
	GG_LIMIT_APT GG_LIMIT_DKMS GG_LIMIT_BOOT GG_LIMIT_PULL GG_LIMIT_BUILD GG_LIMIT_SHORT
export GG_VERIFY_WAIT=4
TESTS_RUN=0
SB_N=0
CMDS=(apt-get apt-cache apt-mark dpkg dpkg-deb dpkg-query curl gpg docker nvidia-smi
	nvidia-ctk dkms systemctl modprobe uname df sleep)

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	if [ -n "${SB:-}" ] && [ -e "$SB/out" ]; then
		printf -- '--- step output (last 30 lines) ---\n' >&2
		tail -n 30 "$SB/out" >&2
	fi
	exit 1
}

# t NAME: start a test case (for the summary).
t() {
	TESTS_RUN=$((TESTS_RUN + 1))
	printf -- '- %s\n' "$*"
}

done_testing() { printf '%d passed, 0 failed\n' "$TESTS_RUN"; }

# refute MESSAGE COMMAND...: COMMAND must fail.
refute() {
	local msg=$1
	shift
	if "$@"; then fail "$msg"; fi
}

assert() {
	local msg=$1
	shift
	"$@" || fail "$msg"
}

# pci_dev ADDR VENDOR DEVICE CLASS: one device in the fake /sys/bus/pci/devices.
pci_dev() {
	local d="$SB/root/sys/bus/pci/devices/$1"
	mkdir -p "$d"
	echo "$2" >"$d/vendor"
	echo "$3" >"$d/device"
	echo "$4" >"$d/class"
}

gpu_id() {
	case $1 in
	t4) echo 0x1eb8 ;;
	l4) echo 0x27b8 ;;
	a100) echo 0x20b0 ;;
	h100) echo 0x2330 ;;
	h200) echo 0x2335 ;;
	v100) echo 0x1db1 ;;
	p100) echo 0x15f8 ;;
	k80) echo 0x102d ;;
	*) return 1 ;;
	esac
}

sandbox() {
	local os=$1 gpu=$2 sb=${3:-off}
	SB_N=$((SB_N + 1))
	SB="$TOP/sb$SB_N"
	mkdir -p "$SB/root/etc" "$SB/root/var/lib/dpkg/updates" "$SB/root/proc/sys/kernel/random" \
		"$SB/state/pkgs" "$SB/state/held" "$SB/state/docker/images" "$SB/state/docker/c" "$SB/state/dkms" \
		"$SB/bin" "$SB/ggroot" "$SB/root/sys/bus/pci/devices" \
		"$SB/root/sys/firmware/efi/efivars"
	: >"$SB/out"
	: >"$SB/progress"
	: >"$SB/calls"
	mkdir -p "$SB/root/etc/apt/sources.list.d"
	case $os in
	ubuntu2204) printf 'ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\nPRETTY_NAME="Ubuntu 22.04.5 LTS"\n' ;;
	ubuntu2404) printf 'ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n' ;;
	debian12) printf 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' ;;
	ubuntu2004) printf 'ID=ubuntu\nVERSION_ID="20.04"\nVERSION_CODENAME=focal\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n' ;;
	rocky9) printf 'ID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n' ;;
	*) fail "harness: unknown OS $os" ;;
	esac >"$SB/root/etc/os-release"
	# What the images have: the running kernel (Compute Engine's flavours), the tools
	# a minimal image carries, Debian 12's deb822 sources (main only).
	case $os in
	debian12) echo 6.1.0-27-cloud-amd64 ;;
	*) echo 6.8.0-1015-gcp ;;
	esac >"$SB/state/running-kernel"
	local p
	for p in curl gpg ca-certificates "linux-image-$(cat "$SB/state/running-kernel")"; do
		echo 1.0-1 >"$SB/state/pkgs/$p"
	done
	case $os in
	debian12) echo 1.0-1 >"$SB/state/pkgs/linux-image-cloud-amd64" ;;
	*) echo 1.0-1 >"$SB/state/pkgs/linux-image-gcp" ;;
	esac
	if [ "$os" = debian12 ]; then
		cat >"$SB/root/etc/apt/sources.list.d/debian.sources" <<-'EOF'
			Types: deb deb-src
			URIs: https://deb.debian.org/debian
			Suites: bookworm bookworm-updates bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb deb-src
			URIs: https://deb.debian.org/debian-security
			Suites: bookworm-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	echo "boot-1" >"$SB/root/proc/sys/kernel/random/boot_id"
	if [ "$sb" = on ]; then
		printf '\x06\x00\x00\x00\x01' >"$SB/root/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	else
		printf '\x06\x00\x00\x00\x00' >"$SB/root/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	fi
	# Every machine has a network card; the GPU, when there is one, is a 3D controller.
	pci_dev 0000:00:03.0 0x1af4 0x1000 0x020000
	pci_dev 0000:00:01.0 0x8086 0x7110 0x060100
	if [ "$gpu" != none ]; then
		pci_dev 0000:00:04.0 0x10de "$(gpu_id "$gpu")" 0x030200
	fi
	local c
	for c in "${CMDS[@]}"; do ln -s "$GG_SOURCE_DIR/tests/recipe/stand-in.sh" "$SB/bin/$c"; done
	mkdir -p "$SB/release"
	cp -R "$GG_SOURCE_DIR/payloads/." "$SB/release/"
	rm -f "$SB/release/debs/"*.deb
	export GCLOUD_GPU_SYSROOT="$SB/root" GCLOUD_GPU_ROOT="$SB/ggroot" GCLOUD_GPU_RELEASE="$SB/release"
	export FAKE_STATE="$SB/state" FAKE_LOG="$SB/calls" FAKE_OUT="$SB/out"
	export PATH="$SB/bin:${ORIG_PATH:=$PATH}"
}

# step NAME ACTION: as the runner runs it; returns the step's exit status.
step() {
	local name=$1 action=$2 rc=0
	printf '=== %s %s\n' "$name" "$action" >>"$SB/out"
	(cd "$GCLOUD_GPU_RELEASE" && bash "steps/$name.sh" "$action") \
		3>>"$SB/progress" >>"$SB/out" 2>&1 || rc=$?
	printf '=== %s %s: exit %d\n' "$name" "$action" "$rc" >>"$SB/out"
	return "$rc"
}

steps_in_order() {
	local f
	for f in "$GCLOUD_GPU_RELEASE"/steps/[0-9][0-9]-*.sh; do
		f=${f##*/}
		printf '%s\n' "${f%.sh}"
	done
}

set_kernel() { echo "$1" >"$FAKE_STATE/running-kernel"; }

kernel_ready() {
	local k
	k="$(cat "$FAKE_STATE/running-kernel")"
	echo 1.0-1 >"$FAKE_STATE/pkgs/linux-headers-$k"
	touch "$FAKE_STATE/held/linux-headers-$k"
}

fake_reboot() {
	local n d
	n=$(($(sed 's/boot-//' "$GCLOUD_GPU_SYSROOT/proc/sys/kernel/random/boot_id") + 1))
	echo "boot-$n" >"$GCLOUD_GPU_SYSROOT/proc/sys/kernel/random/boot_id"
	rm -rf "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia" "$FAKE_STATE/docker/active"
	if [ -e "$FAKE_STATE/boot-kernel" ]; then
		mv "$FAKE_STATE/boot-kernel" "$FAKE_STATE/running-kernel"
	fi
	for d in nvidia-driver-open nvidia-open cuda-drivers; do
		if [ -e "$FAKE_STATE/pkgs/$d" ] && [ -e "$FAKE_STATE/dkms/$(cat "$FAKE_STATE/running-kernel")" ]; then
			mkdir -p "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia"
			printf 'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build\n' \
				"$(sed 's/-.*//' "$FAKE_STATE/pkgs/$d")" >"$GCLOUD_GPU_SYSROOT/proc/driver/nvidia/version"
			break
		fi
	done
	if [ -e "$FAKE_STATE/docker/enabled" ]; then
		touch "$FAKE_STATE/docker/active"
	fi
	echo "reboot" >>"$SB/applied"
}

# run_recipe: the runner's loop.  $SB/applied and $SB/skipped list the steps; returns
# non-zero at the first failed step (named in $SB/failed).
run_recipe() {
	local s rc
	: >"$SB/applied"
	: >"$SB/skipped"
	: >"$SB/failed"
	while read -r s; do
		if step "$s" check; then
			echo "$s" >>"$SB/skipped"
			continue
		fi
		rc=0
		step "$s" apply || rc=$?
		case $rc in
		0) echo "$s" >>"$SB/applied" ;;
		100)
			echo "$s" >>"$SB/applied"
			fake_reboot
			;;
		*)
			echo "$s $rc" >>"$SB/failed"
			return 1
			;;
		esac
	done < <(steps_in_order)
}

# log_has REGEX: some recorded command line matches (grep -E).
log_has() { grep -qE -- "$1" "$SB/calls"; }
# out_has TEXT: the steps' output holds TEXT (grep -F).
out_has() { grep -qF -- "$1" "$SB/out"; }
# line_of REGEX: number of the first recorded command line matching REGEX (0 if none).
line_of() {
	local n
	n="$(grep -nE -- "$1" "$SB/calls" | head -n1 | cut -d: -f1)"
	echo "${n:-0}"
}
# before A B: the first call matching A comes before the first matching B.
before() {
	local a b
	a="$(line_of "$1")"
	b="$(line_of "$2")"
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -lt "$b" ]
}

# snapshot: a digest of everything a run can change (fake root, state, helper root).
snapshot() {
	(cd "$SB" && {
		find root state ggroot -printf '%p %m %y\n' | LC_ALL=C sort
		find root state ggroot -type f -exec sha256sum {} + | LC_ALL=C sort
	}) | sha256sum | cut -c1-64
}

# progress_ok: every line on fd 3 is "progress PCT MESSAGE" with 0 <= PCT <= 100.
progress_ok() {
	[ -s "$SB/progress" ] || return 1
	! grep -vE '^progress ([0-9]|[1-9][0-9]|100) .+$' "$SB/progress"
}

# fake_deb FILE NAME VERSION [DEPENDS]: a stand-in .deb for the stand-in dpkg-deb.
fake_deb() {
	{
		printf 'Package: %s\nVersion: %s\n' "$2" "$3"
		if [ -n "${4:-}" ]; then printf 'Depends: %s\n' "$4"; fi
	} >"$1"
}
