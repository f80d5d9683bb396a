# shellcheck shell=bash
# tests/integration/fake-gpu.sh: a made-up GPU machine for the probe's tests, sourced
# after lib.sh by t4001-probe.sh and t4002-gpu-check-dry-run.sh.
#
#   make_h200_root DIR   a root (for GCLOUD_GPU_SYSROOT) shaped like the real H200 machine
#                        of tests/fixtures/nvidia-smi: Ubuntu 24.04, the open module
#                        580.159.04 loaded, an NVIDIA 3D controller at 0000:00:06.0 with
#                        the nvidia driver bound, an Intel host bridge, no systemd, no EFI
#   make_h200_smi DIR    DIR/nvidia-smi, a stand-in that prints what the real one printed
#                        there, for every command line the probe and tests/gpu/run.sh use;
#                        GG_FAKE_PROBE_MEM changes the memory only in the probe's query
#   pci_function ROOT ADDRESS VENDOR DEVICE CLASS [DRIVER]   one PCI function under ROOT

FIXTURES=$GG_SOURCE_DIR/tests/fixtures/nvidia-smi

pci_function() {
	local d=$1/sys/bus/pci/devices/$2
	mkdir -p "$d" &&
	echo "$3" >"$d/vendor" && echo "$4" >"$d/device" && echo "$5" >"$d/class" &&
	if [ -n "${6:-}" ]; then
		mkdir -p "$1/sys/bus/pci/drivers/$6" &&
		ln -s "../../../bus/pci/drivers/$6" "$d/driver"
	fi
}

make_h200_root() {
	local r=$1
	mkdir -p "$r/etc" "$r/proc/driver/nvidia" "$r/var" &&
	cat >"$r/etc/os-release" <<-'OS' &&
	PRETTY_NAME="Ubuntu 24.04.3 LTS"
	NAME="Ubuntu"
	VERSION_ID="24.04"
	ID=ubuntu
	ID_LIKE=debian
	OS
	printf '%s\n' "nvidia_uvm 2076672 0 - Live 0x0000000000000000" \
		"nvidia 14381056 1 nvidia_uvm, Live 0x0000000000000000" >"$r/proc/modules" &&
	echo "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AE18-23-3)  Thu Nov 13 00:00:00 UTC 2026" \
		>"$r/proc/driver/nvidia/version" &&
	pci_function "$r" 0000:00:06.0 0x10de 0x2335 0x030200 nvidia &&
	pci_function "$r" 0000:00:00.0 0x8086 0x1237 0x060000
}

make_h200_smi() {
	mkdir -p "$1" &&
	cat >"$1/nvidia-smi" <<-SMI &&
	#!/bin/sh
	case "\$*" in
	"") cat "$FIXTURES/h200-nvidia-smi.txt" ;;
	"-q") cat "$FIXTURES/h200-nvidia-smi-q.txt" ;;
	"-L") echo "GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)" ;;
	"--version") echo "NVIDIA-SMI version  : 580.159.04" ;;
	"--query-gpu=name,pci.device_id,driver_version,memory.total,compute_cap --format=csv,noheader,nounits")
		echo "NVIDIA H200, 0x233510DE, 580.159.04, \${GG_FAKE_PROBE_MEM:-143771}, 9.0" ;;
	"--query-gpu=index,name,pci.device_id,pci.bus_id,driver_version,memory.total,compute_cap --format=csv")
		echo "index, name, pci.device_id, pci.bus_id, driver_version, memory.total [MiB], compute_cap"
		echo "0, NVIDIA H200, 0x233510DE, 00000000:00:06.0, 580.159.04, 143771 MiB, 9.0" ;;
	*) echo "stand-in nvidia-smi: unexpected arguments: \$*" >&2; exit 2 ;;
	esac
	SMI
	chmod +x "$1/nvidia-smi"
}
