#!/usr/bin/env bash
# tests/gpu/run.sh: the hardware check of issue 8, on a machine with a real NVIDIA GPU.
#
#   tests/gpu/run.sh            from anywhere; exits 0 when every check passed
#
# It builds nothing: it runs build/helper/gcloud-gpu-helper (the static x86-64 binary
# built on the CI machine) and the recipe in payloads/steps/ as they are in the tree,
# as root on the GPU machine, and
#   1. prints what the machine is (date, OS, kernel, GPU, driver, tool versions);
#   2. runs `gcloud-gpu-helper probe` and compares every GPU fact with nvidia-smi's
#      own output, read independently: the --query-gpu CSV (with header and units)
#      and `nvidia-smi -q` (name, PCI device id, driver version, memory, compute
#      capability, CUDA version), and the other facts with /sys, /proc, /etc, uname, df;
#   3. checks that the driver flavour agrees three ways: from the compute capability,
#      from the PCI id, and from the recipe (20-nvidia-driver.sh flavour ID);
#   4. runs the preflight, kernel and driver steps' `check` (all must pass on a machine
#      with a working driver, so that a push skips the kernel and driver installs);
#   5. runs `apply` of every later step, which needs the network or Docker: on a
#      machine without them each must fail with an "error:" line that says why, not
#      hang or fail silently (a step that succeeds is reported, not failed).
# Each line of the result says PASS, FAIL, SKIP or INFO.  Every command runs under a
# timeout and the whole script stops itself within 2 minutes.  It writes only under a
# temporary directory (removed at the end unless GG_GPU_KEEP=1), except what step 5's
# `apply` runs do on the machine: run it on a throwaway GPU machine.
#
# On a lent GPU machine (the device tool): build here first (tools/test), then run
#   bash tests/gpu/run.sh          carrying build/helper/gcloud-gpu-helper (an ignored
#                                  path) with the tree, with a timeout of 150 s or more.
#
# Environment, for trying the script without a GPU (tests/integration/t4002-*.sh):
#   GCLOUD_GPU_SYSROOT  read /etc, /sys, /proc, /run under this root (the probe and the
#                       recipe read it too); step 5 is then skipped, since its
#                       `apply` runs would act on the real machine
#   GG_HELPER           the helper binary (default build/helper/gcloud-gpu-helper)
set -u
export LC_ALL=C

cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
HELPER=${GG_HELPER:-$TOP/build/helper/gcloud-gpu-helper}
STEPS=$TOP/payloads/steps
SYSROOT=${GCLOUD_GPU_SYSROOT:-}
BUDGET=115 # seconds, for everything
START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gg-gpu-check.XXXXXX") || exit 1
passes=0
fails=0
skips=0

cleanup() {
	if [ "${GG_GPU_KEEP:-0}" = 1 ]; then
		echo "(kept $WORK)"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

pass() { passes=$((passes + 1)); printf 'PASS  %s\n' "$*"; }
fail() { fails=$((fails + 1)); printf 'FAIL  %s\n' "$*"; }
skip() { skips=$((skips + 1)); printf 'SKIP  %s\n' "$*"; }
info() { printf 'INFO  %s\n' "$*"; }
section() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - START))"; }
indent() { sed 's/^/      | /'; }

# limited SECS CMD...: CMD under a timeout of SECS, or less when the budget runs low.
limited() {
	local want=$1 left
	shift
	left=$((BUDGET - (SECONDS - START) - 3))
	((left < 1)) && left=1
	((want < left)) && left=$want
	timeout -k 2 "$left" "$@"
}

# same WHAT EXPECTED GOT [SOURCE]: one comparison, PASS or FAIL.
same() {
	if [ "$2" = "$3" ]; then
		pass "$1: $3"
	else
		fail "$1: probe says '$3', ${4:-nvidia-smi} says '$2'"
	fi
}

trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

# ------------------------------------------------------------------------------ what

section "machine"
info "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
info "host: $(uname -n), kernel $(uname -r) $(uname -m)"
if [ -r "$SYSROOT/etc/os-release" ]; then
	info "os: $(. "$SYSROOT/etc/os-release" && echo "${PRETTY_NAME:-$ID $VERSION_ID}")"
fi
info "pid 1: $(cat /proc/1/comm 2>/dev/null || echo unknown)"
info "tree: $(git -C "$TOP" log -1 --format='%h %s' 2>/dev/null || echo 'not a git checkout')"
[ -n "$SYSROOT" ] && info "DRY RUN: files read under GCLOUD_GPU_SYSROOT=$SYSROOT"

if [ ! -x "$HELPER" ]; then
	fail "no helper at $HELPER: build it on the CI machine (cmake --build build) and copy the tree"
	echo "RESULT: FAIL (nothing else can be checked)"
	exit 1
fi
info "helper: $(limited 10 "$HELPER" --version 2>&1) ($HELPER)"
if command -v file >/dev/null 2>&1; then
	info "helper binary: $(file -b "$HELPER" | cut -d, -f1-4)"
fi
if ! command -v python3 >/dev/null 2>&1; then
	fail "python3 is not on PATH: this script needs it to read the probe's JSON"
	echo "RESULT: FAIL"
	exit 1
fi
info "python3: $(python3 --version 2>&1)"
if ! command -v nvidia-smi >/dev/null 2>&1; then
	fail "nvidia-smi is not on PATH: this check needs a machine with a working NVIDIA driver"
	echo "RESULT: FAIL"
	exit 1
fi
info "nvidia-smi: $(command -v nvidia-smi), $(limited 20 nvidia-smi --version 2>&1 | head -n 1)"

# ---------------------------------------------------------------- nvidia-smi itself

section "nvidia-smi, read directly"
limited 20 nvidia-smi >"$WORK/smi.txt" 2>&1
rc=$?
head -n 12 "$WORK/smi.txt" | indent
[ "$rc" -eq 0 ] || fail "nvidia-smi exited $rc"
limited 20 nvidia-smi --query-gpu=index,name,pci.device_id,pci.bus_id,driver_version,memory.total,compute_cap \
	--format=csv >"$WORK/csv.txt" 2>&1
rc=$?
indent <"$WORK/csv.txt"
[ "$rc" -eq 0 ] || fail "nvidia-smi --query-gpu exited $rc"
limited 30 nvidia-smi -q >"$WORK/q.txt" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "nvidia-smi -q exited $rc"
# The fields of -q this compares, one GPU a line: bus|name|device id|FB total.
awk '
function val(v) { v = $0; sub(/^[^:]*: */, "", v); sub(/[ \t]+$/, "", v); return v }
/^GPU [0-9A-Fa-f]+:/ { n++; bus[n] = $2; infb = 0; next }
n == 0 && /^Driver Version/ { print "driver=" val() }
n == 0 && /^CUDA Version/ { print "cuda=" val() }
n == 0 && /^Attached GPUs/ { print "count=" val() }
n > 0 && /^    Product Name/ { name[n] = val() }
n > 0 && /^        Device Id/ { dev[n] = val() }
n > 0 && /^    FB Memory Usage/ { infb = 1; next }
n > 0 && /^    [^ ]/ { infb = 0 }
n > 0 && infb && /^        Total/ { fb[n] = val(); infb = 0 }
END { for (i = 1; i <= n; i++) print "gpu" (i - 1) "=" bus[i] "|" name[i] "|" dev[i] "|" fb[i] }
' "$WORK/q.txt" >"$WORK/q.fields"
indent <"$WORK/q.fields"

# ------------------------------------------------------------------------- the probe

section "gcloud-gpu-helper probe"
GCLOUD_GPU_SYSROOT=$SYSROOT limited 60 "$HELPER" probe >"$WORK/probe.json" 2>"$WORK/probe.err"
rc=$?
indent <"$WORK/probe.err"
# Flatten to "path=value" lines (nvidia_smi.gpus.0.name=NVIDIA H200) for the shell.
if [ "$rc" -eq 0 ] && python3 - "$WORK/probe.json" >"$WORK/probe.flat" 2>"$WORK/flat.err" <<'PY'
import json, sys
def walk(prefix, v):
    if isinstance(v, dict):
        for k in v:
            walk(prefix + k + ".", v[k])
    elif isinstance(v, list):
        print(prefix + "count=" + str(len(v)))
        for i, x in enumerate(v):
            walk(prefix + str(i) + ".", x)
    else:
        print(prefix[:-1] + "=" + (v if isinstance(v, str) else json.dumps(v)))
data = json.load(open(sys.argv[1]))
walk("", data)
print(json.dumps(data, indent=2, sort_keys=True), file=sys.stderr)
PY
then
	pass "probe exited 0 with one JSON object"
	indent <"$WORK/flat.err"
else
	fail "probe exited $rc or printed something that is not JSON:"
	indent <"$WORK/probe.json"
	indent <"$WORK/flat.err"
	: >"$WORK/probe.flat"
fi

# j PATH: the probe's value at PATH ("" when absent).
j() {
	awk -v k="$1=" 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }' "$WORK/probe.flat"
}
# qf KEY: a top-level field of nvidia-smi -q.
qf() {
	awk -v k="$1=" 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }' "$WORK/q.fields"
}

# --------------------------------------------------------------- GPU facts compared

section "probe against nvidia-smi"
same "nvidia-smi answered the probe" true "$(j nvidia_smi.ok)" "nvidia-smi run here"
[ "$(j nvidia_smi.ok)" = true ] || info "probe's nvidia-smi error: $(j nvidia_smi.error)"
csv_count=$(tail -n +2 "$WORK/csv.txt" | grep -c .)
same "number of GPUs (query-gpu CSV)" "$csv_count" "$(j nvidia_smi.gpus.count)"
same "number of GPUs (nvidia-smi -q Attached GPUs)" "$(qf count)" "$(j nvidia_smi.gpus.count)"
same "CUDA version (nvidia-smi -q)" "$(qf cuda)" "$(j nvidia_smi.cuda_version)"
header_cuda=$(sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' "$WORK/smi.txt" | head -n 1)
same "CUDA version (nvidia-smi header)" "$header_cuda" "$(j nvidia_smi.cuda_version)"

: >"$WORK/gpu-ids"
while IFS=, read -r idx name devid bus driver mem cc; do
	idx=$(trim "$idx")
	name=$(trim "$name")
	devid=$(trim "$devid")
	bus=$(trim "$bus")
	driver=$(trim "$driver")
	mem=$(trim "$mem")
	cc=$(trim "$cc")
	hex=${devid#0x}
	hex=${hex#0X}
	short="0x$(printf '%s' "${hex:0:4}" | tr 'A-F' 'a-f')"
	p="nvidia_smi.gpus.$idx"
	info "GPU $idx: $name, PCI $devid at $bus, driver $driver, $mem, compute capability $cc"
	same "GPU $idx name (CSV)" "$name" "$(j "$p.name")"
	same "GPU $idx PCI device id (CSV $devid)" "$short" "$(j "$p.pci_device_id")"
	same "GPU $idx driver version (CSV)" "$driver" "$(j "$p.driver_version")"
	same "GPU $idx memory MiB (CSV $mem)" "${mem% MiB}" "$(j "$p.memory_total_mib")"
	same "GPU $idx compute capability (CSV)" "$cc" "$(j "$p.compute_cap")"
	IFS='|' read -r qbus qname qdev qfb <<<"$(qf "gpu$idx")"
	qhex=${qdev#0x}
	same "GPU $idx bus id (-q vs CSV)" "$qbus" "$bus" "nvidia-smi -q"
	same "GPU $idx name (-q)" "$qname" "$(j "$p.name")" "nvidia-smi -q"
	same "GPU $idx PCI device id (-q $qdev)" \
		"0x$(printf '%s' "${qhex:0:4}" | tr 'A-F' 'a-f')" "$(j "$p.pci_device_id")" "nvidia-smi -q"
	same "GPU $idx memory MiB (-q FB total $qfb)" "${qfb% MiB}" "$(j "$p.memory_total_mib")" "nvidia-smi -q"
	same "GPU $idx driver version (-q)" "$(qf driver)" "$(j "$p.driver_version")" "nvidia-smi -q"
	# sysfs names the domain with 4 hex digits where nvidia-smi uses 8.
	printf '%s %s %s\n' "$short" "$(printf '%s' "${bus: -12}" | tr 'A-F' 'a-f')" "$cc" >>"$WORK/gpu-ids"
done < <(tail -n +2 "$WORK/csv.txt")

# ---------------------------------------------------------------- machine facts

section "probe against /sys, /proc, /etc, uname, df"
# NVIDIA display-class functions as this script reads them itself.
: >"$WORK/sys-gpus"
for d in "$SYSROOT"/sys/bus/pci/devices/*; do
	[ -r "$d/vendor" ] || continue
	[ "$(cat "$d/vendor")" = 0x10de ] || continue
	case $(cat "$d/class") in 0x03*) ;; *) continue ;; esac
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	printf '%s %s %s\n' "${d##*/}" "$(cat "$d/device")" "${drv:-none}" >>"$WORK/sys-gpus"
done
python3 - "$WORK/probe.json" >"$WORK/probe-gpus" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1]))["pci"]["devices"]:
    if d.get("gpu"):
        print(d["address"], d["device"], d.get("driver") or "none")
PY
[ -s "$WORK/sys-gpus" ] || echo "(none)" >"$WORK/sys-gpus.shown"
same "NVIDIA GPUs on the PCI bus (address, id, driver)" \
	"$(cat "$WORK/sys-gpus" "$WORK/sys-gpus.shown" 2>/dev/null | tr '\n' ';')" \
	"$( (cat "$WORK/probe-gpus"; [ -s "$WORK/probe-gpus" ] || echo "(none)") | tr '\n' ';')" \
	"/sys/bus/pci"
if [ -s "$WORK/sys-gpus" ]; then
	while read -r id addr _cc; do
		if grep -q "^$addr $id " "$WORK/sys-gpus"; then
			pass "nvidia-smi's GPU $id at $addr is on the PCI bus with that id"
		else
			fail "nvidia-smi's GPU $id at $addr is not in /sys/bus/pci/devices with that id"
		fi
	done <"$WORK/gpu-ids"
else
	skip "no NVIDIA function in /sys/bus/pci (a sandboxed kernel?): the PCI bus cannot be checked against nvidia-smi"
fi

loaded=false
if grep -q '^nvidia ' "$SYSROOT/proc/modules" 2>/dev/null || [ -r "$SYSROOT/proc/driver/nvidia/version" ]; then
	loaded=true
fi
same "kernel module loaded" "$loaded" "$(j nvidia_module.loaded)" "/proc/modules and /proc/driver/nvidia/version"
[ "$loaded" = true ] || info "nvidia-smi works but no nvidia module is visible in /proc (a sandboxed kernel?)"
if [ -r "$SYSROOT/proc/driver/nvidia/version" ]; then
	head -n 1 "$SYSROOT/proc/driver/nvidia/version" | indent
	kind=proprietary
	grep -q 'Open Kernel Module' "$SYSROOT/proc/driver/nvidia/version" && kind=open
	same "kernel module kind" "$kind" "$(j nvidia_module.kind)" "/proc/driver/nvidia/version"
	same "kernel module version = driver version" "$(qf driver)" "$(j nvidia_module.version)" "nvidia-smi -q"
else
	skip "no /proc/driver/nvidia/version: module kind and version cannot be checked"
fi

os_id=$(. "$SYSROOT/etc/os-release" 2>/dev/null && echo "${ID:-}")
os_ver=$(. "$SYSROOT/etc/os-release" 2>/dev/null && echo "${VERSION_ID:-}")
same "OS id" "$os_id" "$(j os.id)" "/etc/os-release"
same "OS version" "$os_ver" "$(j os.version_id)" "/etc/os-release"
same "kernel" "$(uname -r)" "$(j kernel.release)" "uname -r"
systemd=false
[ -d "$SYSROOT/run/systemd/system" ] && systemd=true
same "systemd running" "$systemd" "$(j systemd)" "/run/systemd/system"
sb=unsupported
sbvar=$SYSROOT/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
if [ -d "$SYSROOT/sys/firmware/efi" ]; then
	sb=unknown
	if [ -r "$sbvar" ]; then
		case $(od -An -tu1 "$sbvar" | tr -s ' \n' ' ' | awk '{ print $NF }') in
		1) sb=enabled ;;
		0) sb=disabled ;;
		esac
	elif [ -d "$SYSROOT/sys/firmware/efi/efivars" ]; then
		sb=disabled
	fi
fi
same "Secure Boot" "$sb" "$(j secure_boot)" "the SecureBoot efivar"
disk_path=$(j disk.path)
probe_free=$(j disk.free_bytes)
d=$disk_path
while [ -n "$d" ] && [ ! -e "$d" ]; do d=$(dirname "$d"); done
df_free=$(($(df -Pk "${d:-/}" | awk 'NR == 2 { print $4 }') * 1024))
if [[ $probe_free =~ ^[0-9]+$ ]] && ((probe_free - df_free < 268435456 && df_free - probe_free < 268435456)); then
	pass "free disk of $disk_path: $((probe_free >> 30)) GiB (df: $((df_free >> 30)) GiB)"
else
	fail "free disk of $disk_path: probe says '$probe_free' bytes, df says $df_free"
fi

# ---------------------------------------------------------------------- flavour

section "driver flavour"
# NVIDIA's rule, written out a third time here: open modules from Turing (7.5) on.
expected=none
while read -r id _addr cc; do
	major=${cc%%.*}
	minor=${cc#*.}
	if ! [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]]; then
		f=unknown
	elif ((major > 7 || (major == 7 && minor >= 5))); then
		f=open
	elif ((major >= 5)); then
		f=proprietary
	else
		f=unsupported
	fi
	info "GPU $id, compute capability $cc: NVIDIA's rule gives $f"
	case "$f:$expected" in
	unsupported:* | unknown:*) expected=$f ;;
	proprietary:none | proprietary:open) expected=proprietary ;;
	open:none) expected=open ;;
	esac
done <"$WORK/gpu-ids"
same "machine flavour" "$expected" "$(j driver_flavour.flavour)" "the compute capability rule"
info "probe chose it from: $(j driver_flavour.from)"
same "flavour by PCI id = by compute capability" "$(j driver_flavour.by_compute_cap)" \
	"$(j driver_flavour.by_pci_id)" "the probe's compute capability"
kind=$(j nvidia_module.kind)
if [ -n "$kind" ] && [ "$kind" != null ]; then
	if [ "$kind" = "$(j driver_flavour.flavour)" ]; then
		pass "the loaded driver is the flavour the recipe would install: $kind"
	else
		info "the loaded driver is $kind, the recipe would install $(j driver_flavour.flavour) (both can work)"
	fi
fi
if [ -f "$STEPS/20-nvidia-driver.sh" ]; then
	while read -r id _addr _cc; do
		step_f=$(GCLOUD_GPU_SYSROOT=$SYSROOT limited 10 bash "$STEPS/20-nvidia-driver.sh" flavour "$id" 2>&1)
		i=0
		probe_f=
		while [ "$i" -lt "$(j nvidia_smi.gpus.count)" ]; do
			[ "$(j "nvidia_smi.gpus.$i.pci_device_id")" = "$id" ] && probe_f=$(j "nvidia_smi.gpus.$i.flavour")
			i=$((i + 1))
		done
		same "flavour of $id" "$step_f" "$probe_f" "20-nvidia-driver.sh flavour $id"
	done <"$WORK/gpu-ids"
	if [ -s "$WORK/sys-gpus" ]; then
		step_f=$(GCLOUD_GPU_SYSROOT=$SYSROOT limited 10 bash "$STEPS/20-nvidia-driver.sh" flavour 2>&1)
		same "machine flavour" "$step_f" "$(j driver_flavour.flavour)" "20-nvidia-driver.sh flavour"
	else
		skip "20-nvidia-driver.sh flavour (this machine's): it reads /sys/bus/pci, which shows no GPU here"
	fi
else
	skip "payloads/steps/20-nvidia-driver.sh is not in this tree: the recipe's flavour is not compared"
fi

# ------------------------------------------------------------------------ the recipe

section "recipe checks"
# run_step NAME ARG: the step under a timeout, output to $WORK/NAME.ARG.out; sets rc.
run_step() {
	local script=$STEPS/$1.sh
	GCLOUD_GPU_SYSROOT=$SYSROOT GCLOUD_GPU_ROOT=$WORK/state GCLOUD_GPU_RELEASE=$TOP/payloads \
		limited "$3" bash "$script" "$2" >"$WORK/$1.$2.out" 2>&1 3>"$WORK/$1.$2.progress" </dev/null
	rc=$?
}
mkdir -p "$WORK/state"
for step in 10-preflight 15-kernel 20-nvidia-driver; do
	if [ ! -f "$STEPS/$step.sh" ]; then
		skip "$step check: payloads/steps/$step.sh is not in this tree"
		continue
	fi
	run_step "$step" check 30
	if [ "$rc" -eq 0 ]; then
		pass "$step check passes"
	else
		fail "$step check exits $rc on this machine"
		indent <"$WORK/$step.check.out"
		if [ "$step" = 10-preflight ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
			# preflight's apply changes nothing and says what failed.
			run_step "$step" apply 30
			info "10-preflight apply (read-only) says why:"
			indent <"$WORK/$step.apply.out"
		fi
	fi
done

section "steps that need the network or Docker"
if [ -n "$SYSROOT" ]; then
	skip "dry run: the later steps' apply would act on this real machine"
else
	info "network: $(limited 5 getent hosts developer.download.nvidia.com >/dev/null 2>&1 && echo 'names resolve' || echo 'no name resolution')," \
		"docker: $(command -v docker || echo 'not installed')"
	found=0
	for script in "$STEPS"/[0-9][0-9]-*.sh; do
		[ -f "$script" ] || continue
		step=$(basename "$script" .sh)
		case $step in 10-preflight | 15-kernel | 20-nvidia-driver) continue ;; esac
		found=1
		if ((SECONDS - START > BUDGET - 15)); then
			skip "$step: out of time"
			continue
		fi
		run_step "$step" check 15
		if [ "$rc" -eq 0 ]; then
			info "$step check passes: its effect already holds here, so a push skips its apply"
			continue
		fi
		info "$step check exits $rc (its effect does not hold here), so apply runs:"
		run_step "$step" apply 20
		msg=$(grep -m 1 ': error: ' "$WORK/$step.apply.out")
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			fail "$step apply hung: killed by the timeout, it gave no clear error"
			tail -n 5 "$WORK/$step.apply.out" | indent
		elif [ "$rc" -eq 0 ]; then
			info "$step apply succeeded here (it needs neither network nor Docker)"
		elif [ -n "$msg" ]; then
			pass "$step apply fails clearly (exit $rc): $msg"
		else
			fail "$step apply fails (exit $rc) without an 'error:' line saying why; its last lines:"
			tail -n 5 "$WORK/$step.apply.out" | indent
		fi
	done
	[ "$found" = 1 ] || skip "no later steps in payloads/steps"
fi

# --------------------------------------------------------------------------- result

section "result"
echo "passed $passes, failed $fails, skipped $skips, in $((SECONDS - START)) s"
if [ "$fails" -ne 0 ]; then
	echo "RESULT: FAIL"
	exit 1
fi
if [ "$skips" -ne 0 ]; then
	echo "RESULT: PASS, with $skips checks skipped (see SKIP above)"
else
	echo "RESULT: PASS"
fi
exit 0
