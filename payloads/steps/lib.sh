# shellcheck shell=bash disable=SC2034  # its globals are for the steps that source it
# lib.sh: functions shared by the recipe's steps.  Sourced, never run: the step runner
# only runs files named NN-name.sh.
#
# Interface (see docs/RECIPE.md):
#   GCLOUD_GPU_ROOT     the helper's state root (default /var/lib/gcloud-gpu); the
#                       Jupyter token lives in $GCLOUD_GPU_ROOT/jupyter-token (0600).
#   GCLOUD_GPU_RELEASE  the unpacked payload (default: the directory above steps/).
#   GCLOUD_GPU_SYSROOT          prefix for every host file the steps read or write (default
#                       empty); tests point it at a sandbox.  Commands come from PATH.
#   GG_ALLOW_NO_GPU=1   (or a file "allow-no-gpu" in the payload) allows a CPU-only run.
#   GCLOUD_GPU_BOOT_ID_FILE  where the boot id is read (as for the helper).
#   GG_LOCK_WAIT, GG_LIMIT_*, GG_HEARTBEAT  the time limits of the long operations and
#                       the heartbeat period, in seconds (see "time limits" below).
#
# Progress goes to fd 3 as "progress PCT MESSAGE"; everything else is the step's log.

GCLOUD_GPU_SYSROOT="${GCLOUD_GPU_SYSROOT:-}"
GCLOUD_GPU_ROOT="${GCLOUD_GPU_ROOT:-/var/lib/gcloud-gpu}"
if [ -z "${GCLOUD_GPU_RELEASE:-}" ]; then
	GCLOUD_GPU_RELEASE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
export GCLOUD_GPU_SYSROOT GCLOUD_GPU_ROOT GCLOUD_GPU_RELEASE
# A runner started from a bare environment may lack these; appended, so that whatever
# PATH the caller set (tests' stand-ins) still comes first.
export PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export HOME="${HOME:-/root}"

# Where the Jupyter notebooks live on the host; they outlive every container.
GG_NOTEBOOKS_DIR="$GCLOUD_GPU_SYSROOT/srv/gcloud-gpu/notebooks"
GG_CONTAINER=gcloud-gpu-jupyter
GG_IMAGE_REPO=gcloud-gpu-jupyter
# The last driver branch that still runs Maxwell, Pascal and Volta GPUs.
GG_LEGACY_BRANCH=580
# Free disk (GiB) a first run needs: driver + DKMS + Docker + a CUDA framework image.
GG_MIN_FREE_GIB="${GG_MIN_FREE_GIB:-20}"

# Pinned signing keys: a key that does not carry its fingerprint is refused.
GG_FPR_CUDA=EB693B3035CD5710E231E123A4B469963BF863CC      # CUDA repos (3bf863cc)
GG_FPR_DOCKER=9DC858229FC7DD38854AE2D88D81803C0EBFCD88    # download.docker.com
GG_FPR_NVCTK=C95B321B61E88C1809C4F759DDCAE044F796ECB0     # nvidia.github.io/libnvidia-container

# Time limits (seconds).  A fresh VM's first boot (cloud-init, unattended-upgrades) may
# hold the dpkg lock for many minutes; a DKMS build takes minutes; a CUDA framework image
# is several GB.  Each long operation runs through `limited`, which says what ran when
# its limit is hit.  The environment may lower them (tests do).
GG_LOCK_WAIT="${GG_LOCK_WAIT:-1800}"   # waiting for the dpkg lock, per apt-get/dpkg run
GG_LIMIT_APT="${GG_LIMIT_APT:-3600}"   # one apt-get run: lock wait, downloads, DKMS build
GG_LIMIT_DKMS="${GG_LIMIT_DKMS:-1800}" # dkms autoinstall of the nvidia module
GG_LIMIT_BOOT="${GG_LIMIT_BOOT:-1200}" # cloud-init's first boot
GG_LIMIT_PULL="${GG_LIMIT_PULL:-3600}" # docker pull of one base image
GG_LIMIT_BUILD="${GG_LIMIT_BUILD:-3600}" # docker build of the Jupyter image
GG_LIMIT_SHORT="${GG_LIMIT_SHORT:-300}" # nvidia-ctk, a Docker restart
GG_HEARTBEAT="${GG_HEARTBEAT:-30}"     # a "still running" line this often

if { true >&3; } 2>/dev/null; then GG_FD3=1; else GG_FD3=0; fi

# progress PCT MESSAGE: one progress line for the runner (dropped when fd 3 is closed).
progress() {
	local pct=$1
	shift
	if ((pct < 0)); then pct=0; elif ((pct > 100)); then pct=100; fi
	if [ "$GG_FD3" = 1 ]; then
		printf 'progress %d %s\n' "$pct" "$*" >&3
	fi
}

log() { printf '%s: %s\n' "${GG_STEP:-step}" "$*"; }

# die MESSAGE [DETAIL...]: one line saying what went wrong and what to do, then detail.
die() {
	printf '%s: error: %s\n' "${GG_STEP:-step}" "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 1
}

# human_secs N: a duration for people ("90 s", "30 min").
human_secs() {
	if (($1 >= 120)); then printf '%d min\n' $(($1 / 60)); else printf '%d s\n' "$1"; fi
}

# heartbeat WHAT LIMIT: a log line every GG_HEARTBEAT seconds until killed.  It waits
# with bash's own `read -t` on a pipe that never gets data: no child process that could
# outlive it and hold the step's output open.
heartbeat() {
	local start=$SECONDS
	while :; do
		read -r -t "$GG_HEARTBEAT" <> <(:) || true
		log "still running: $1 ($(human_secs $((SECONDS - start))) so far, limit $(human_secs "$2"))"
	done
}

# limited SECONDS WHAT COMMAND...: COMMAND (a program, not a shell function) under a time
# limit, with a heartbeat line while it runs.  `timeout` runs it in a process group of
# its own, so that its children (dpkg, a DKMS build) stop with it.  A limit hit ends the
# step, naming WHAT; otherwise COMMAND's exit status.
limited() {
	local secs=$1 what=$2 rc=0 hb
	shift 2
	log "$what (time limit $(human_secs "$secs"))"
	heartbeat "$what" "$secs" &
	hb=$!
	timeout --kill-after=30 "$secs" "$@" || rc=$?
	kill "$hb" 2>/dev/null || true
	wait "$hb" 2>/dev/null || true
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		die "$what did not finish within $(human_secs "$secs") (its time limit), so it was stopped: push again to retry (a slow mirror or a held dpkg lock), or see the log above" \
			"command: $*"
	fi
	return "$rc"
}

# no_gpu_skip: on a CPU-only run (no NVIDIA GPU, as allowed) say that this GPU step has
# nothing to do and why, and succeed; otherwise fail, and the step goes on.
no_gpu_skip() {
	if [ -z "$(nvidia_gpus)" ] && allow_no_gpu; then
		log "no NVIDIA GPU (CPU-only dry run): nothing to do for the GPU here, skipped"
		return 0
	fi
	return 1
}

# step_main "$@": the common check|apply dispatch; the step defines step_check and
# step_apply (and may define step_extra for other subcommands).
step_main() {
	GG_STEP="$(basename "$0" .sh)"
	case "${1:-}" in
	check) step_check ;;
	apply) step_apply ;;
	*)
		if declare -F step_extra >/dev/null; then
			step_extra "$@"
		else
			printf 'usage: %s check|apply\n' "$0" >&2
			exit 2
		fi
		;;
	esac
}

# ---------------------------------------------------------------------------- files

# write_file DEST MODE: stdin to DEST, atomically (a crash leaves the old file or the
# new one, never half of it).
write_file() {
	local dest=$1 mode=$2 tmp
	mkdir -p "$(dirname "$dest")"
	tmp="$(mktemp "$dest.tmp.XXXXXX")"
	cat >"$tmp"
	chmod "$mode" "$tmp"
	mv -f "$tmp" "$dest"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

boot_id() {
	local f="${GCLOUD_GPU_BOOT_ID_FILE:-$GCLOUD_GPU_SYSROOT/proc/sys/kernel/random/boot_id}"
	if [ -r "$f" ]; then cat "$f"; else echo unknown; fi
}

# ------------------------------------------------------------------------------- OS

# os_field NAME: a field of os-release (ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME).
os_field() {
	local f="$GCLOUD_GPU_SYSROOT/etc/os-release"
	[ -r "$f" ] || f="$GCLOUD_GPU_SYSROOT/usr/lib/os-release"
	[ -r "$f" ] || return 0
	# shellcheck disable=SC1090
	(. "$f" && eval "printf '%s\n' \"\${$1:-}\"")
}

# os_supported: the images Compute Engine offers for GPUs.
os_supported() {
	case "$(os_field ID) $(os_field VERSION_ID)" in
	"ubuntu 22.04" | "ubuntu 24.04" | "debian 12") return 0 ;;
	*) return 1 ;;
	esac
}

os_pretty() {
	local p
	p="$(os_field PRETTY_NAME)"
	[ -n "$p" ] || p="$(os_field ID) $(os_field VERSION_ID)"
	[ -n "${p// /}" ] || p="an unknown OS (no /etc/os-release)"
	printf '%s\n' "$p"
}

# cuda_distro: the CUDA repository's name for this OS (ubuntu2204, debian12...).
cuda_distro() {
	local id ver
	id="$(os_field ID)"
	ver="$(os_field VERSION_ID)"
	printf '%s%s\n' "$id" "${ver//./}"
}

# cuda_arch: the CUDA repository's name for this CPU (x86_64 or sbsa).
cuda_arch() {
	case "$(dpkg --print-architecture)" in
	amd64) echo x86_64 ;;
	arm64) echo sbsa ;;
	*) return 1 ;;
	esac
}

# ------------------------------------------------------------------------------ GPU

# nvidia_gpus: "DEVICE_ID PCI_ADDRESS" for every NVIDIA display-class PCI function.
nvidia_gpus() {
	local d vendor class device
	for d in "$GCLOUD_GPU_SYSROOT"/sys/bus/pci/devices/*; do
		if [ ! -r "$d/vendor" ] || [ ! -r "$d/class" ] || [ ! -r "$d/device" ]; then
			continue
		fi
		read -r vendor <"$d/vendor"
		read -r class <"$d/class"
		read -r device <"$d/device"
		[ "${vendor,,}" = 0x10de ] || continue
		case "${class,,}" in
		0x03*) printf '%s %s\n' "${device,,}" "${d##*/}" ;;
		esac
	done
}

# driver_flavour PCI_DEVICE_ID: open | proprietary | unsupported.
#
# NVIDIA hands out PCI device ids per chip in rising blocks, so a generation is a range:
#   < 0x1340            Kepler (GK1xx 0x0fc0-0x12ff: K80 0x102d, K40 0x1023), Fermi and
#                       older: no supported driver branch runs them -> unsupported
#   0x1340 - 0x1dff     Maxwell (GM10x/GM20x 0x1340-0x17ff: M60 0x13f2), Pascal (GP100
#                       0x15f0-0x15ff: P100 0x15f8; GP10x 0x1b00-0x1d7f: P4 0x1bb3) and
#                       Volta (GV100 0x1d80-0x1dff: V100 0x1db1/0x1db4/0x1db5/0x1df6):
#                       the proprietary kernel modules, branch 580 (their last)
#   >= 0x1e00           Turing (TU10x 0x1e00-0x1fff: T4 0x1eb8; TU11x 0x2180-0x21ff),
#                       Ampere (A100 0x20b0/0x20b5/0x20f1, A10G 0x2237), Hopper (H100
#                       0x2330/0x2331, H200 0x2335), Ada (L4 0x27b8), Blackwell (B200
#                       0x2901) and later: the open kernel modules, which NVIDIA
#                       recommends from Turing on and requires from Blackwell on
driver_flavour() {
	local hex=${1,,}
	hex=${hex#0x}
	[[ $hex =~ ^[0-9a-f]{1,4}$ ]] || return 2
	local id=$((16#$hex))
	if ((id >= 0x1e00)); then
		echo open
	elif ((id >= 0x1340)); then
		echo proprietary
	else
		echo unsupported
	fi
}

# machine_flavour: the flavour this machine's GPUs need (the most restrictive of them),
# or "none" when there is no NVIDIA GPU.
machine_flavour() {
	local dev _addr f result=none
	while read -r dev _addr; do
		f="$(driver_flavour "$dev")" || f=unsupported
		case "$f:$result" in
		unsupported:*) result=unsupported ;;
		proprietary:none | proprietary:open) result=proprietary ;;
		open:none) result=open ;;
		esac
	done < <(nvidia_gpus)
	echo "$result"
}

# gpu_name DEVICE_ID: a human name for the GPUs Compute Engine offers (else the id).
gpu_name() {
	case "${1,,}" in
	0x102d) echo "Tesla K80 (Kepler)" ;;
	0x15f7 | 0x15f8 | 0x15f9) echo "Tesla P100 (Pascal)" ;;
	0x1bb3) echo "Tesla P4 (Pascal)" ;;
	0x1db1 | 0x1db4 | 0x1db5 | 0x1df6) echo "Tesla V100 (Volta)" ;;
	0x1eb8) echo "Tesla T4 (Turing)" ;;
	0x20b0 | 0x20b2 | 0x20b5 | 0x20f1 | 0x20f3) echo "A100 (Ampere)" ;;
	0x27b8) echo "L4 (Ada Lovelace)" ;;
	0x2330 | 0x2331 | 0x2324) echo "H100 (Hopper)" ;;
	0x2335) echo "H200 (Hopper)" ;;
	0x2901) echo "B200 (Blackwell)" ;;
	*) echo "NVIDIA GPU $1" ;;
	esac
}

allow_no_gpu() {
	[ "${GG_ALLOW_NO_GPU:-0}" = 1 ] || [ -e "$GCLOUD_GPU_RELEASE/allow-no-gpu" ]
}

# driver_works: nvidia-smi answers against a loaded kernel module.
driver_works() {
	{ [ -r "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia/version" ] ||
		grep -q '^nvidia ' "$GCLOUD_GPU_SYSROOT/proc/modules" 2>/dev/null; } &&
		nvidia-smi -L >/dev/null 2>&1
}

# ---------------------------------------------------------------------------- network

# require_net URL: fail in one line when the host behind URL cannot be reached.
require_net() {
	local url=$1 host err
	host=${url#*://}
	host=${host%%/*}
	if ! err="$(curl -sS -o /dev/null --max-time 30 --retry 2 "$url" 2>&1)"; then
		die "cannot reach $host: no network (check the VM's external IP or Cloud NAT)" "$err"
	fi
}

net_ok() { curl -sS -o /dev/null --max-time 30 --retry 2 "$1" >/dev/null 2>&1; }

# key_fprs FILE: the fingerprints of the keys in FILE (armored or binary), one a line.
key_fprs() {
	local tmp
	tmp="$(mktemp -d)"
	gpg --batch --homedir "$tmp" --show-keys --with-colons "$1" 2>/dev/null |
		awk -F: '$1 == "fpr" { print $10 }' || true
	rm -rf "$tmp"
}

# install_apt_key URL FINGERPRINT DEST: fetch a repository's signing key, refuse it
# unless it carries FINGERPRINT, and store it (binary keyring) at DEST.
install_apt_key() {
	local url=$1 fpr=$2 dest=$3 tmp fprs
	need_tools gpg
	tmp="$(mktemp -d)"
	if ! curl -fsSL --retry 3 --max-time 60 -o "$tmp/key.asc" "$url"; then
		rm -rf "$tmp"
		die "cannot download the signing key $url"
	fi
	fprs="$(key_fprs "$tmp/key.asc")"
	if ! grep -qx "$fpr" <<<"$fprs"; then
		rm -rf "$tmp"
		die "the signing key at $url is not the one expected (fingerprint $fpr): refusing it" \
			"got: ${fprs//$'\n'/ }"
	fi
	gpg --batch --yes --homedir "$tmp" --dearmor -o "$tmp/key.gpg" "$tmp/key.asc"
	write_file "$dest" 0644 <"$tmp/key.gpg"
	rm -rf "$tmp"
}

# key_has_fpr FILE FINGERPRINT: FILE (keyring) holds the key.
key_has_fpr() {
	[ -r "$1" ] || return 1
	key_fprs "$1" | grep -qx "$2"
}

# deb_key_ok DEB KEYRING FINGERPRINT: the keyring file KEYRING (a path inside the
# package) of the package file DEB holds the key FINGERPRINT.  The package is only
# unpacked into a temporary directory: nothing of it is installed, no maintainer
# script runs.
deb_key_ok() {
	local tmp rc=0
	tmp="$(mktemp -d)"
	if ! dpkg-deb -x "$1" "$tmp/x" >/dev/null 2>&1; then
		rm -rf "$tmp"
		return 1
	fi
	key_has_fpr "$tmp/x/$2" "$3" || rc=1
	rm -rf "$tmp"
	return "$rc"
}

# -------------------------------------------------------------------------------- apt

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# apt_progress LO HI: turn apt's Status-Fd lines (dlstatus/pmstatus) on stdin into
# progress lines between LO and HI.  GG_APT_DL_SHARE is the part (percent) of the
# range given to downloads.
apt_progress() {
	local lo=$1 hi=$2 share=${GG_APT_DL_SHARE:-40} kind _item pct msg p last=-1
	while IFS=: read -r kind _item pct msg; do
		pct=${pct%%.*}
		[[ $pct =~ ^[0-9]+$ ]] || continue
		case $kind in
		dlstatus) p=$((lo + (hi - lo) * pct * share / 10000)) ;;
		pmstatus) p=$((lo + (hi - lo) * (share * 100 + pct * (100 - share)) / 10000)) ;;
		*) continue ;;
		esac
		if ((p != last)); then
			progress "$p" "$msg"
			last=$p
		fi
	done
}

# first_boot_settled: cloud-init (on images that have it) has finished the VM's first
# boot, whose package work would otherwise hold the dpkg lock or change the sources
# under us.  Waited for once per step, under GG_LIMIT_BOOT.  Exit 2 (cloud-init 23.4 and
# later: done with recoverable errors) and 1 (failed) are logged, not fatal: the lock
# timeout below still covers what runs on.
first_boot_settled() {
	[ -z "${GG_BOOT_SETTLED:-}" ] || return 0
	GG_BOOT_SETTLED=1
	command -v cloud-init >/dev/null 2>&1 || return 0
	local rc=0
	limited "$GG_LIMIT_BOOT" "waiting for cloud-init to finish the VM's first boot" \
		cloud-init status --wait || rc=$?
	case $rc in
	0) ;;
	2) log "cloud-init finished with recoverable errors: going on" ;;
	*) log "cloud-init reports a failure (exit $rc; see 'cloud-init status --long'): going on" ;;
	esac
}

# apt_unbreak: finish a dpkg run that a crash or reboot cut off (apt refuses to work
# until it is done).  dpkg has no lock timeout of its own, so a lock held by another
# package manager (unattended-upgrades at first boot) is waited for here, up to
# GG_LOCK_WAIT seconds, as apt's DPkg::Lock::Timeout does for apt-get.
apt_unbreak() {
	local d="$GCLOUD_GPU_SYSROOT/var/lib/dpkg/updates" waited=0 out rc
	[ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ] || return 0
	first_boot_settled
	log "finishing an interrupted dpkg run (dpkg --configure -a)"
	out="$(mktemp)"
	while :; do
		rc=0
		limited "$GG_LIMIT_APT" "dpkg --configure -a" \
			env DEBIAN_FRONTEND=noninteractive dpkg --configure -a 2>&1 | tee "$out" || rc=$?
		if [ "$rc" = 0 ]; then
			rm -f "$out"
			return 0
		fi
		if ! grep -qi 'lock' "$out"; then
			rm -f "$out"
			die "dpkg was interrupted and 'dpkg --configure -a' fails (output above): run it by hand on the VM, then push again"
		fi
		if ((waited >= GG_LOCK_WAIT)); then
			rm -f "$out"
			die "dpkg's lock is still held by another package manager after $(human_secs "$waited"): see 'ps -ef | grep -E \"apt|dpkg\"' on the VM, then push again"
		fi
		sleep 5
		waited=$((waited + 5))
	done
}

# apt_get LO HI ARGS...: apt-get, non-interactive, after cloud-init's first boot, waiting
# up to GG_LOCK_WAIT for the dpkg lock (DPkg::Lock::Timeout covers dpkg's lock too), under
# GG_LIMIT_APT, its progress mapped into LO..HI.  Every package operation of the recipe,
# local .deb files included, goes through here: there is no bare `dpkg -i`.
apt_get() {
	local lo=$1 hi=$2
	shift 2
	first_boot_settled
	apt_unbreak
	{
		{
			limited "$GG_LIMIT_APT" "apt-get $*" \
				env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l apt-get -y -q \
				-o APT::Status-Fd=5 -o DPkg::Lock::Timeout="$GG_LOCK_WAIT" \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
				"$@" 5>&1 1>&6 6>&-
		} | apt_progress "$lo" "$hi"
	} 6>&1
}

# apt_update LO HI: refresh the package lists; failing means no network (or a broken
# source), which is said in one line.
apt_update() {
	GG_APT_DL_SHARE=100 apt_get "$1" "$2" update ||
		die "apt-get update failed: cannot reach a package repository (no network?)"
}

# apt_has PKG: the package lists (as of the last update) offer PKG.
apt_has() { apt-cache show "$1" >/dev/null 2>&1; }

# need_tools PACKAGE...: what the steps use and a minimal image may lack (curl, gpg,
# ca-certificates), installed from the distribution before anything needs it; or one
# line naming what is missing.  Asked of dpkg, not of PATH: a curl or gpg of another
# origin (/usr/local) is no reason to skip the distribution's.
need_tools() {
	local -a missing=()
	local t
	for t in "$@"; do
		pkg_installed "$t" || missing+=("$t")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	log "installing what the recipe needs first: ${missing[*]}"
	if ! GG_APT_DL_SHARE=100 apt_get 1 2 update || ! apt_get 2 3 install "${missing[@]}"; then
		die "missing on this VM: ${missing[*]}, and installing it from the distribution failed (apt-get output above): install it by hand (apt-get install ${missing[*]}), then push again"
	fi
	for t in "${missing[@]}"; do
		pkg_installed "$t" ||
			die "$t is still missing after apt-get installed it: install it by hand, then push again"
	done
}

# ----------------------------------------------------------------------------- docker

# require_docker: the Docker daemon answers, or one line that says it does not.
require_docker() {
	if ! docker info >/dev/null 2>&1; then
		die "docker is not running: start it with 'systemctl start docker' (step 40-docker installs and enables it)"
	fi
}

# image_tag: the Jupyter image's tag, the content hash of the payload's Dockerfile.
image_tag() {
	local f="$GCLOUD_GPU_RELEASE/Dockerfile"
	[ -r "$f" ] || die "no Dockerfile in the payload ($f)"
	printf '%s:%s\n' "$GG_IMAGE_REPO" "$(sha256_of "$f" | cut -c1-16)"
}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# docker_major: the Docker daemon's major version (20, 28...), empty when unknown.
docker_major() {
	local v
	v="$(docker version --format '{{.Server.Version}}' 2>/dev/null || true)"
	[[ $v =~ ^([0-9]+)\. ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	return 0
}

# driver_release: the loaded NVIDIA kernel module's version line (changes with every
# driver release), empty when none is loaded.
driver_release() {
	head -n1 "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia/version" 2>/dev/null || true
}
