#!/usr/bin/env bash
# The driver flavour by PCI device id: open modules for Turing and newer, the
# proprietary branch for Maxwell/Pascal/Volta, a refusal for Kepler; the `flavour`
# subcommand other programs (the GPU check) call; what each GPU gets installed.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

DRIVER="$GG_SOURCE_DIR/payloads/steps/20-nvidia-driver.sh"

# flavour_is ID WANT EXIT: `20-nvidia-driver.sh flavour ID` prints WANT, exits EXIT.
flavour_is() {
	local out rc=0
	out="$(env -u GCLOUD_GPU_SYSROOT bash "$DRIVER" flavour "$1" 2>&1)" || rc=$?
	[ "$out" = "$2" ] || fail "flavour $1: printed '$out', expected '$2'"
	[ "$rc" = "$3" ] || fail "flavour $1: exit $rc, expected $3"
}

t "flavour by PCI id, by hand (no sandbox, no environment)"
for id in 0x1eb8 0x27b8 0x20b0 0x20b5 0x20f1 0x2330 0x2331 0x2335 0x2901 0x2237 0x1e04 0x2184; do
	flavour_is "$id" open 0
done
for id in 0x1db1 0x1db4 0x1db5 0x1df6 0x15f8 0x15f7 0x1bb3 0x13f2 0x17fd 0x1d81; do
	flavour_is "$id" proprietary 0
done
for id in 0x102d 0x1023 0x0ff2 0x06c0 0x12b9; do
	flavour_is "$id" unsupported 1
done

t "flavour accepts any case and no 0x; refuses what is not an id"
flavour_is 0x1EB8 open 0
flavour_is 2335 open 0
flavour_is 1db4 proprietary 0
flavour_is zz12 "not a PCI device id: zz12 (expected e.g. 0x2335)" 2
flavour_is 0x123456 "not a PCI device id: 0x123456 (expected e.g. 0x2335)" 2

t "flavour with no id: this machine's GPUs, from the PCI tree"
for case in t4:open:0 l4:open:0 a100:open:0 h100:open:0 h200:open:0 v100:proprietary:0 p100:proprietary:0 \
	k80:unsupported:1 none:none:1; do
	IFS=: read -r gpu want code <<<"$case"
	sandbox ubuntu2204 "$gpu"
	rc=0
	out="$(bash "$GCLOUD_GPU_RELEASE/steps/20-nvidia-driver.sh" flavour)" || rc=$?
	[ "$out" = "$want" ] || fail "$gpu: machine flavour '$out', expected '$want'"
	[ "$rc" = "$code" ] || fail "$gpu: exit $rc, expected $code"
done

t "a machine with an open-module GPU and a Volta one gets the proprietary driver"
sandbox ubuntu2204 t4
pci_dev 0000:00:05.0 0x10de 0x1db4 0x030200
assert "mixed T4 + V100 is proprietary" [ "$(bash "$GCLOUD_GPU_RELEASE/steps/20-nvidia-driver.sh" flavour || true)" = proprietary ]

t "a T4, an L4, an A100 get the open kernel modules (nvidia-open), not cuda-drivers"
for gpu in t4 l4 a100 h100; do
	sandbox ubuntu2204 "$gpu"
	kernel_ready
	rc=0
	step 20-nvidia-driver apply || rc=$?
	assert "$gpu: exit 100 after the install (got $rc)" [ "$rc" = 100 ]
	assert "$gpu: installs nvidia-open" log_has '^apt-get .* install nvidia-open$'
	refute "$gpu: does not install cuda-drivers" log_has "install.*cuda-drivers"
	assert "$gpu: no branch lock for the open modules" [ ! -e "$GCLOUD_GPU_SYSROOT/etc/apt/preferences.d/gcloud-gpu-nvidia-driver" ]
done

t "a V100 and a P100 get the proprietary modules, locked to branch 580 by NVIDIA's pinning package"
for gpu in v100 p100; do
	sandbox debian12 "$gpu"
	kernel_ready
	rc=0
	step 20-nvidia-driver apply || rc=$?
	assert "$gpu: exit 100 after the install (got $rc)" [ "$rc" = 100 ]
	assert "$gpu: installs cuda-drivers" log_has '^apt-get .* install cuda-drivers$'
	assert "$gpu: the pinning package first" before '^apt-get .* install nvidia-driver-pinning-580$' '^apt-get .* install cuda-drivers$'
	refute "$gpu: does not install nvidia-open" log_has "install.*nvidia-open"
	assert "$gpu: no hand-written lock" [ ! -e "$GCLOUD_GPU_SYSROOT/etc/apt/preferences.d/gcloud-gpu-nvidia-driver" ]
	assert "$gpu: the 580 branch is what got installed" grep -q '^580\.' "$FAKE_STATE/pkgs/cuda-drivers"
done

t "a repository without the pinning package: the branch is locked by apt preferences"
sandbox ubuntu2204 v100
kernel_ready
FAKE_GONE=nvidia-driver-pinning-580 step 20-nvidia-driver apply || true
pin="$GCLOUD_GPU_SYSROOT/etc/apt/preferences.d/gcloud-gpu-nvidia-driver"
assert "branch lock written" grep -q '^Pin: version 580\.\*$' "$pin"
assert "the 580 branch is what got installed" grep -q '^580\.' "$FAKE_STATE/pkgs/cuda-drivers"

t "Ubuntu 24.04 gets nvidia-driver-open (NVIDIA's name from 590 on), 22.04 and Debian nvidia-open"
sandbox ubuntu2404 l4
kernel_ready
step 20-nvidia-driver apply || true
assert "24.04: nvidia-driver-open" log_has '^apt-get .* install nvidia-driver-open$'
assert "24.04: held" [ -e "$FAKE_STATE/held/nvidia-driver-open" ]
sandbox ubuntu2404 l4
kernel_ready
FAKE_GONE=nvidia-driver-open step 20-nvidia-driver apply || true
assert "24.04, a repository without it: nvidia-open" log_has '^apt-get .* install nvidia-open$'
sandbox debian12 l4
kernel_ready
step 20-nvidia-driver apply || true
assert "debian12: nvidia-open" log_has '^apt-get .* install nvidia-open$'

t "a K80 is refused, clearly, and nothing is installed"
sandbox ubuntu2204 k80
rc=0
step 20-nvidia-driver apply || rc=$?
assert "k80: apply fails" [ "$rc" = 1 ]
assert "k80: says why" out_has "not supported by any current NVIDIA driver branch (Kepler or older)"
refute "k80: installs nothing" log_has "^(apt-get|dpkg -i|curl)"
rc=0
step 10-preflight apply || rc=$?
assert "k80: preflight fails" [ "$rc" = 1 ]
assert "k80: preflight names the GPU" out_has "Tesla K80 (Kepler) (PCI id 0x102d) is not supported"

done_testing
