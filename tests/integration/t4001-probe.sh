#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # test bodies are single-quoted strings run by eval
# `gcloud-gpu-helper probe` on made-up machines: the static helper reads a fake root
# (GCLOUD_GPU_SYSROOT) shaped like the real H200 machine of tests/fixtures/nvidia-smi,
# and like a machine without a GPU, with a stand-in nvidia-smi first on PATH.  No GPU,
# systemd or network is needed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake-gpu.sh"

SB_VAR=sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c

# get FILE PATH: the value at a dotted PATH (numbers index arrays) of the JSON in FILE,
# strings bare, everything else as JSON (true, null, 143771).
get() {
	python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for part in sys.argv[2].split("."):
    v = v[int(part)] if isinstance(v, list) else v[part]
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# expect FILE PATH VALUE
expect() {
	local got
	got=$(get "$1" "$2") || return 1
	[ "$got" = "$3" ] || { echo "$2: expected '$3', got '$got'"; return 1; }
}

probe() {
	GCLOUD_GPU_SYSROOT=$1 PATH=$2 GCLOUD_GPU_ROOT=$TEST_DIR/state/not/yet/made \
		"$GG_HELPER" probe
}

test_expect_success 'on an H200-like machine it reports the GPU as nvidia-smi and /sys see it' '
	make_h200_root "$TEST_DIR/h200" &&
	make_h200_smi "$TEST_DIR/h200-bin" &&
	probe "$TEST_DIR/h200" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/h200.json" &&
	[ "$(wc -l <"$TEST_DIR/h200.json")" -eq 1 ] &&
	expect "$TEST_DIR/h200.json" os.id ubuntu &&
	expect "$TEST_DIR/h200.json" os.version_id 24.04 &&
	expect "$TEST_DIR/h200.json" os.pretty_name "Ubuntu 24.04.3 LTS" &&
	expect "$TEST_DIR/h200.json" kernel.release "$(uname -r)" &&
	expect "$TEST_DIR/h200.json" systemd false &&
	expect "$TEST_DIR/h200.json" secure_boot unsupported &&
	expect "$TEST_DIR/h200.json" pci.devices.0.address 0000:00:06.0 &&
	expect "$TEST_DIR/h200.json" pci.devices.0.device 0x2335 &&
	expect "$TEST_DIR/h200.json" pci.devices.0.class 0x030200 &&
	expect "$TEST_DIR/h200.json" pci.devices.0.driver nvidia &&
	expect "$TEST_DIR/h200.json" pci.devices.0.gpu true &&
	expect "$TEST_DIR/h200.json" pci.devices.0.flavour open &&
	expect "$TEST_DIR/h200.json" "pci.devices" "[{\"address\": \"0000:00:06.0\", \"class\": \"0x030200\", \"device\": \"0x2335\", \"driver\": \"nvidia\", \"flavour\": \"open\", \"gpu\": true, \"vendor\": \"0x10de\"}]" &&
	expect "$TEST_DIR/h200.json" nvidia_module.loaded true &&
	expect "$TEST_DIR/h200.json" nvidia_module.kind open &&
	expect "$TEST_DIR/h200.json" nvidia_module.version 580.159.04 &&
	expect "$TEST_DIR/h200.json" nvidia_smi.ok true &&
	expect "$TEST_DIR/h200.json" nvidia_smi.cuda_version 13.0 &&
	expect "$TEST_DIR/h200.json" nvidia_smi.gpus.0.name "NVIDIA H200" &&
	expect "$TEST_DIR/h200.json" nvidia_smi.gpus.0.pci_device_id 0x2335 &&
	expect "$TEST_DIR/h200.json" nvidia_smi.gpus.0.driver_version 580.159.04 &&
	expect "$TEST_DIR/h200.json" nvidia_smi.gpus.0.memory_total_mib 143771 &&
	expect "$TEST_DIR/h200.json" nvidia_smi.gpus.0.compute_cap 9.0 &&
	expect "$TEST_DIR/h200.json" driver_flavour.flavour open &&
	expect "$TEST_DIR/h200.json" driver_flavour.from compute_cap &&
	expect "$TEST_DIR/h200.json" driver_flavour.by_pci_id open
'

# The disk is shared with whatever else runs here, so the probe's figure must fall
# between df's readings just before and just after it (with a little slack).
df_free() {
	echo $(( $(df -Pk "$TEST_DIR" | awk "NR == 2 { print \$4 }") * 1024 ))
}

test_expect_success 'free disk is measured on the state root, or its nearest parent' '
	before=$(df_free) &&
	probe "$TEST_DIR/h200" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/disk.json" &&
	after=$(df_free) &&
	free=$(get "$TEST_DIR/disk.json" disk.free_bytes) &&
	expect "$TEST_DIR/disk.json" disk.path "$TEST_DIR/state/not/yet/made" &&
	echo "df before: $before, probe: $free, df after: $after" &&
	low=$(( (before < after ? before : after) - 64 * 1024 * 1024 )) &&
	high=$(( (before > after ? before : after) + 64 * 1024 * 1024 )) &&
	[ "$free" -ge "$low" ] && [ "$free" -le "$high" ]
'

test_expect_success 'Secure Boot comes from the last byte of the efivar, systemd from /run' '
	mkdir -p "$TEST_DIR/h200/$(dirname "$SB_VAR")" "$TEST_DIR/h200/run/systemd/system" &&
	printf "\006\000\000\000\001" >"$TEST_DIR/h200/$SB_VAR" &&
	probe "$TEST_DIR/h200" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/sb.json" &&
	expect "$TEST_DIR/sb.json" secure_boot enabled &&
	expect "$TEST_DIR/sb.json" systemd true &&
	printf "\006\000\000\000\000" >"$TEST_DIR/h200/$SB_VAR" &&
	probe "$TEST_DIR/h200" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/sb.json" &&
	expect "$TEST_DIR/sb.json" secure_boot disabled &&
	rm "$TEST_DIR/h200/$SB_VAR" &&
	probe "$TEST_DIR/h200" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/sb.json" &&
	expect "$TEST_DIR/sb.json" secure_boot disabled
'

test_expect_success 'without a GPU or nvidia-smi it still answers, and says why' '
	mkdir -p "$TEST_DIR/cpu/etc" "$TEST_DIR/cpu/proc" "$TEST_DIR/empty-bin" &&
	printf "%s\n" "ID=debian" "VERSION_ID=\"12\"" "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"" \
		>"$TEST_DIR/cpu/etc/os-release" &&
	echo "ext4 1 0 - Live 0x0" >"$TEST_DIR/cpu/proc/modules" &&
	pci_function "$TEST_DIR/cpu" 0000:00:00.0 0x8086 0x1237 0x060000 &&
	probe "$TEST_DIR/cpu" "$TEST_DIR/empty-bin" >"$TEST_DIR/cpu.json" &&
	expect "$TEST_DIR/cpu.json" os.id debian &&
	expect "$TEST_DIR/cpu.json" os.version_id 12 &&
	expect "$TEST_DIR/cpu.json" pci.devices "[]" &&
	expect "$TEST_DIR/cpu.json" nvidia_module.loaded false &&
	expect "$TEST_DIR/cpu.json" nvidia_module.kind null &&
	expect "$TEST_DIR/cpu.json" nvidia_smi.ok false &&
	expect "$TEST_DIR/cpu.json" nvidia_smi.error \
		"'"'"'nvidia-smi'"'"' not found on PATH (is the NVIDIA driver installed?)" &&
	expect "$TEST_DIR/cpu.json" driver_flavour.flavour none &&
	expect "$TEST_DIR/cpu.json" driver_flavour.from none
'

test_expect_success 'an os-release value that is not UTF-8 is null, the probe still answers' '
	printf "ID=debian\nPRETTY_NAME=\"bad \377\376\"\n" >"$TEST_DIR/cpu/etc/os-release" &&
	probe "$TEST_DIR/cpu" "$TEST_DIR/empty-bin" >"$TEST_DIR/cpu-utf8.json" &&
	expect "$TEST_DIR/cpu-utf8.json" os.id debian &&
	expect "$TEST_DIR/cpu-utf8.json" os.pretty_name null
'

test_expect_success 'a failing nvidia-smi is reported with its exit code and message' '
	mkdir -p "$TEST_DIR/fail-bin" &&
	printf "%s\n" "#!/bin/sh" "echo No devices were found" "exit 6" >"$TEST_DIR/fail-bin/nvidia-smi" &&
	chmod +x "$TEST_DIR/fail-bin/nvidia-smi" &&
	probe "$TEST_DIR/h200" "$TEST_DIR/fail-bin" >"$TEST_DIR/fail.json" &&
	expect "$TEST_DIR/fail.json" nvidia_smi.error \
		"'"'"'nvidia-smi'"'"' failed (exit 6): No devices were found" &&
	expect "$TEST_DIR/fail.json" driver_flavour.flavour open &&
	expect "$TEST_DIR/fail.json" driver_flavour.from pci_id
'

test_expect_success 'without /sys/bus/pci (a sandbox) the flavour comes from nvidia-smi ids' '
	mkdir -p "$TEST_DIR/sandbox/etc" &&
	cp "$TEST_DIR/h200/etc/os-release" "$TEST_DIR/sandbox/etc/" &&
	probe "$TEST_DIR/sandbox" "$TEST_DIR/h200-bin:$PATH" >"$TEST_DIR/sandbox.json" &&
	expect "$TEST_DIR/sandbox.json" pci.devices "[]" &&
	get "$TEST_DIR/sandbox.json" pci.error | grep "cannot read .*/sys/bus/pci/devices" &&
	expect "$TEST_DIR/sandbox.json" driver_flavour.by_pci_id open &&
	expect "$TEST_DIR/sandbox.json" driver_flavour.flavour open
'

test_expect_success 'probe takes no arguments' '
	test_must_fail "$GG_HELPER" probe extra 2>"$TEST_DIR/usage.err" &&
	test_grep "'"'"'probe'"'"' takes no arguments" "$TEST_DIR/usage.err"
'

# The recipe decides the flavour in shell; both must agree for every generation.
DRIVER_STEP=$GG_SOURCE_DIR/payloads/steps/20-nvidia-driver.sh
if [ -f "$DRIVER_STEP" ]; then
	test_expect_success 'the probe and the driver step agree on the flavour of each GPU' '
		for id in 0x2335 0x2330 0x1eb8 0x27b8 0x20b0 0x2901 0x1db1 0x15f8 0x13f2 0x102d 0x1023; do
			rm -rf "$TEST_DIR/gen" &&
			pci_function "$TEST_DIR/gen" 0000:00:04.0 0x10de "$id" 0x030200 &&
			probe "$TEST_DIR/gen" "$TEST_DIR/empty-bin" >"$TEST_DIR/gen.json" &&
			c=$(get "$TEST_DIR/gen.json" pci.devices.0.flavour) &&
			sh=$(GCLOUD_GPU_SYSROOT=$TEST_DIR/gen bash "$DRIVER_STEP" flavour "$id"; true) &&
			echo "$id: probe $c, step $sh" &&
			[ "$c" = "$sh" ] || return 1
		done
	'
else
	say "payloads/steps/20-nvidia-driver.sh is not in this tree yet: flavour cross-check skipped"
fi

test_done
