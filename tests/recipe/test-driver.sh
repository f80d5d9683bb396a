#!/usr/bin/env bash
# 20-nvidia-driver: the order of what it does, the hold, exit 100, the skip when a
# driver already works, no network, a wrong key, a crash, a reboot that does not help.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

t "install: keyring package (its key checked first), then apt-get update, then the driver; exit 100"
sandbox ubuntu2404 t4
set_kernel 6.8.0-1099-gcp
kernel_ready
refute "check fails with no driver" step 20-nvidia-driver check
rc=0
step 20-nvidia-driver apply || rc=$?
assert "exit 100 (reboot needed), got $rc" [ "$rc" = 100 ]
assert "CUDA repo for this OS" log_has '^curl .*https://developer\.download\.nvidia\.com/compute/cuda/repos/ubuntu2404/x86_64/cuda-keyring_1\.1-1_all\.deb$'
assert "keyring package installed through apt" log_has '^apt-get .* install /.*cuda-keyring\.deb$'
assert "keyring checked against the pinned key" log_has '^gpg .*--show-keys .*cuda-archive-keyring\.gpg$'
assert "keyring before update" before '^apt-get .* install /.*cuda-keyring' '^apt-get .* update$'
assert "update before install" before '^apt-get .* update$' '^apt-get .* install nvidia'
assert "the driver (Ubuntu 24.04's name)" log_has '^apt-get .* install nvidia-driver-open$'
assert "the module built for the running kernel" [ -e "$FAKE_STATE/dkms/6.8.0-1099-gcp" ]
assert "apt progress through Status-Fd" log_has '^apt-get .*-o APT::Status-Fd=[0-9]+ .* install '
assert "progress lines are well formed" progress_ok
assert "apt's status became progress" grep -q '^progress [0-9]* Installing nvidia-driver-open$' "$SB/progress"

t "the driver is held: the meta package and every package of its version"
assert "apt-mark hold after the install" before '^apt-get .* install ' '^apt-mark hold '
for p in nvidia-driver-open nvidia-kernel-open-dkms libnvidia-compute; do
	assert "$p held" [ -e "$FAKE_STATE/held/$p" ]
done
refute "the driver step holds no kernel package (15-kernel does)" log_has '^apt-mark hold .*linux-'

t "before the reboot check fails; after it check passes"
refute "check fails before the reboot" step 20-nvidia-driver check
fake_reboot
assert "check passes after the reboot" step 20-nvidia-driver check

t "re-running apply after a crash mid-way installs nothing twice and still holds"
sandbox ubuntu2204 l4
kernel_ready
step 20-nvidia-driver apply || true
rm -f "$FAKE_STATE/held/"*
: >"$SB/calls"
rc=0
step 20-nvidia-driver apply || rc=$?
assert "exit 100 again (same boot), got $rc" [ "$rc" = 100 ]
refute "no second install" log_has "^apt-get .* install "
refute "no second keyring download" log_has "^curl "
assert "held again" [ -e "$FAKE_STATE/held/nvidia-open" ]

t "an interrupted dpkg run is finished before apt-get runs"
sandbox ubuntu2204 t4
kernel_ready
touch "$GCLOUD_GPU_SYSROOT/var/lib/dpkg/updates/0001"
step 20-nvidia-driver apply || true
assert "dpkg --configure -a ran" log_has '^dpkg --configure -a$'
assert "before apt-get" before '^dpkg --configure -a$' '^apt-get '

t "when the module loads at once, apply exits 0: no reboot"
sandbox ubuntu2204 a100
kernel_ready
rc=0
FAKE_MODPROBE_OK=1 step 20-nvidia-driver apply || rc=$?
assert "exit 0, got $rc" [ "$rc" = 0 ]
assert "modprobe nvidia tried" log_has '^modprobe nvidia$'
assert "check passes" step 20-nvidia-driver check

t "a machine whose driver already works: check passes, apply is skipped"
sandbox ubuntu2204 t4
mkdir -p "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia"
echo "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15" >"$GCLOUD_GPU_SYSROOT/proc/driver/nvidia/version"
assert "check passes" step 20-nvidia-driver check
run_recipe || fail "recipe failed on a machine with a working driver: $(cat "$SB/failed")"
assert "the runner skipped the driver step" grep -qx 20-nvidia-driver "$SB/skipped"
refute "no driver package touched" log_has "(cuda-keyring|nvidia-open|cuda-drivers|apt-mark|modprobe)"

t "a loaded module listed in /proc/modules counts too"
# as read on an H200 VM (0x2335, class 0x030200, open modules 580.159.04)
sandbox ubuntu2404 h200
printf 'nvidia_uvm 1830912 - - Live 0xffffffffc080c000 (O)\nnvidia 14299136 - - Live 0xffffffffc0400000 (O)\n' >"$GCLOUD_GPU_SYSROOT/proc/modules"
assert "check passes" step 20-nvidia-driver check
FAKE_NVSMI=fail refute "but not when nvidia-smi fails" step 20-nvidia-driver check

t "nvidia-smi alone is not enough: no loaded module, check fails"
sandbox ubuntu2204 t4
FAKE_NVSMI=ok refute "check fails" step 20-nvidia-driver check

t "no network: one clear line"
sandbox ubuntu2204 t4
kernel_ready
rc=0
FAKE_OFFLINE=1 step 20-nvidia-driver apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "20-nvidia-driver: error: cannot reach developer.download.nvidia.com: no network"
refute "installs nothing" log_has "^(apt-get|dpkg -i)"

t "a keyring with another key is refused before the package is installed"
sandbox ubuntu2204 t4
kernel_ready
rc=0
FAKE_BAD_KEY=developer.download.nvidia.com step 20-nvidia-driver apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "does not hold the expected key EB693B3035CD5710E231E123A4B469963BF863CC: refusing to install it"
refute "the keyring package is not installed" log_has "(install .*cuda-keyring|^dpkg -i)"
refute "no keyring on the machine" [ -e "$GCLOUD_GPU_SYSROOT/usr/share/keyrings/cuda-archive-keyring.gpg" ]
refute "no driver installed" log_has "install .*nvidia-open"

t "a module that still does not load after reboots: a clear failure, not a reboot loop"
sandbox ubuntu2204 t4
kernel_ready
rc=0
step 20-nvidia-driver apply || rc=$?
assert "first: 100" [ "$rc" = 100 ]
rc=0
step 20-nvidia-driver apply || rc=$?
assert "same boot again: 100" [ "$rc" = 100 ]
echo boot-2 >"$GCLOUD_GPU_SYSROOT/proc/sys/kernel/random/boot_id" # rebooted, module still absent
rc=0
step 20-nvidia-driver apply || rc=$?
assert "after one reboot: one more try (100)" [ "$rc" = 100 ]
echo boot-3 >"$GCLOUD_GPU_SYSROOT/proc/sys/kernel/random/boot_id"
rc=0
step 20-nvidia-driver apply || rc=$?
assert "after two reboots: failure" [ "$rc" = 1 ]
assert "says why" out_has "still does not load after 2 reboots"

t "no GPU: apply refuses, unless a CPU-only dry run was asked for"
sandbox ubuntu2204 none
rc=0
step 20-nvidia-driver apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "no NVIDIA GPU on this machine's PCI bus"
export GG_ALLOW_NO_GPU=1
assert "dry run: check passes" step 20-nvidia-driver check
unset GG_ALLOW_NO_GPU

done_testing
