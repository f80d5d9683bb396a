#!/usr/bin/env bash
# 10-preflight: supported OS, an NVIDIA GPU (or a CPU-only dry run asked for), Secure
# Boot, free disk; a clear one-line failure for each, and no change to the machine.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# fails_with TEXT: preflight's check fails, and its apply fails saying TEXT first.
fails_with() {
	refute "check fails" step 10-preflight check
	local rc=0
	step 10-preflight apply || rc=$?
	assert "apply fails (exit $rc)" [ "$rc" = 1 ]
	assert "says: $1" grep -qF -- "10-preflight: error: $1" "$SB/out"
}

t "the supported images pass: Ubuntu 22.04, Ubuntu 24.04, Debian 12"
for os in ubuntu2204 ubuntu2404 debian12; do
	sandbox "$os" t4
	assert "$os: check passes" step 10-preflight check
	assert "$os: apply passes" step 10-preflight apply
	assert "$os: progress" progress_ok
done

t "an unsupported OS fails clearly"
sandbox ubuntu2004 t4
fails_with "unsupported OS: Ubuntu 20.04.6 LTS; the recipe supports Ubuntu 22.04, Ubuntu 24.04 and Debian 12"
sandbox rocky9 a100
fails_with "unsupported OS: Rocky Linux 9.4 (Blue Onyx)"
sandbox ubuntu2204 t4
rm "$GCLOUD_GPU_SYSROOT/etc/os-release"
fails_with "unsupported OS: an unknown OS (no /etc/os-release)"

t "no NVIDIA device fails clearly, unless a CPU-only dry run is asked for"
sandbox ubuntu2204 none
fails_with "no NVIDIA GPU on this machine's PCI bus"
assert "names the way out" out_has "GG_ALLOW_NO_GPU=1"
GG_ALLOW_NO_GPU=1 step 10-preflight check || fail "GG_ALLOW_NO_GPU=1: check fails"
touch "$GCLOUD_GPU_RELEASE/allow-no-gpu"
assert "allow-no-gpu file: check passes" step 10-preflight check

t "an NVIDIA device that is not a display-class function is not a GPU"
sandbox ubuntu2204 none
pci_dev 0000:00:06.0 0x10de 0x22a3 0x068000 # an NVSwitch bridge
fails_with "no NVIDIA GPU on this machine's PCI bus"

t "a Kepler GPU fails in preflight, before anything is installed"
sandbox debian12 k80
fails_with "Tesla K80 (Kepler) (PCI id 0x102d) is not supported"

t "Secure Boot on: fails and explains; with a working signed driver: passes"
sandbox ubuntu2204 t4 on
fails_with "Secure Boot is on"
assert "explains the choice" out_has "needs someone at the VM's boot console"
assert "names the fix" out_has "--no-shielded-secure-boot"
mkdir -p "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia"
echo "NVRM version: signed" >"$GCLOUD_GPU_SYSROOT/proc/driver/nvidia/version"
assert "working driver: check passes" step 10-preflight check

t "too little free disk fails clearly"
sandbox ubuntu2204 l4
export FAKE_DF_AVAIL_KB=$((8 * 1024 * 1024))
fails_with "not enough free disk: 8 GiB free on /var, the recipe needs 20 GiB"
unset FAKE_DF_AVAIL_KB

t "preflight changes nothing"
sandbox ubuntu2204 t4
before_sum="$(snapshot)"
step 10-preflight apply || fail "apply failed"
assert "nothing changed" [ "$(snapshot)" = "$before_sum" ]
refute "only read-only commands" grep -qvE "^(dpkg --print-architecture|dpkg-query -W|df -Pk|docker (info|image inspect)|nvidia-smi -L)" "$SB/calls"

t "the first line of a failure is the error itself"
sandbox ubuntu2004 t4
step 10-preflight apply >/dev/null 2>&1 || true
first="$(grep -v '^===' "$SB/out" | head -n1)"
case $first in
"10-preflight: error: unsupported OS"*) ;;
*) fail "first line is: $first" ;;
esac

done_testing
