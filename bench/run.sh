#!/usr/bin/env bash
# bench/run.sh: run the benchmark cases (bench/cases/*.sh) against a real sshd on
# loopback and print the table and one JSON line a case (bench/report.py).  Use it
# through tools/bench, which builds first; docs/PERFORMANCE.md says what each case
# measures and holds the latest numbers.
#
#   bench/run.sh [--quick] [--size MIB] [--runs N] [--case NAME]... [--out DIR]
#
#   --size MIB   payload size in MiB (default 1024)
#   --runs N     runs per measurement; the median and min-max are reported (default 5)
#   --quick      a smoke run: 32 MiB, 2 runs (checks that every case works, in a minute)
#   --case NAME  only this case (cold-push, noop-push, changed-script, resume, unpack,
#                memory, disk, timeline); may be repeated.  memory reads cold-push's
#                samples.
#   --out DIR    keep samples.tsv and report.txt there (default: a scratch directory)
set -uo pipefail

GG_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GG_SOURCE_DIR
BENCH_DIR=$GG_SOURCE_DIR/bench
size_mib=1024
runs=5
cases=()
out=

usage() {
	sed -n '7,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) size_mib=32 runs=2 ;;
	--size) size_mib=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--case) cases+=("${2:?}"); shift ;;
	--out) out=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "bench: unknown option '$1'" >&2; usage ;;
	esac
	shift
done
case $size_mib$runs in
*[!0-9]*) echo "bench: --size and --runs take whole numbers" >&2; exit 2 ;;
esac
if [ "$size_mib" -lt 1 ] || [ "$runs" -lt 1 ]; then
	echo "bench: --size and --runs must be at least 1" >&2
	exit 2
fi
[ ${#cases[@]} -gt 0 ] || cases=(cold-push noop-push changed-script resume unpack memory disk timeline)

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=bench/payload.sh
. "$BENCH_DIR/payload.sh"
for f in "$BENCH_DIR"/cases/*.sh; do
	# shellcheck source=/dev/null
	. "$f"
done

BENCH_SIZE=$((size_mib * 1024 * 1024))
BENCH_RUNS=$runs
BENCH_OUT=${out:-$TEST_DIR/out}
mkdir -p "$BENCH_OUT"
: >"$BENCH_OUT/samples.tsv"
export BENCH_SIZE BENCH_RUNS BENCH_OUT

for tool in "$GG_CLI" "$GG_HELPER" /usr/bin/time rsync scp zstd tar; do
	command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing: run tools/bench (it builds and runs tools/deps)" >&2; exit 1; }
done

started=$EPOCHREALTIME
say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "payload: $size_mib MiB, $runs runs a measurement"
bench_setup || exit 1
PAYLOAD=$TEST_DIR/payload
ARCHIVE=$TEST_DIR/payload.tar.zst
export PAYLOAD ARCHIVE
bench_make_payload "$PAYLOAD"
bench_make_archive "$PAYLOAD" "$ARCHIVE"
bench_record setup payload bytes "$(bench_payload_bytes)"
bench_record setup archive bytes "$(bench_size "$ARCHIVE")"
bench_record setup loadavg start "$(cut -d' ' -f1 /proc/loadavg)"

status=0
for c in "${cases[@]}"; do
	fn=case_${c//-/_}
	if ! declare -F "$fn" >/dev/null; then
		echo "bench: no case '$c'" >&2
		exit 2
	fi
	say "case $c"
	if ! "$fn"; then
		echo "bench: case '$c' failed" >&2
		status=1
	fi
done
bench_record setup loadavg end "$(cut -d' ' -f1 /proc/loadavg)"
bench_record setup wall seconds "$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
python3 "$BENCH_DIR/report.py" "$BENCH_OUT/samples.tsv" | tee "$BENCH_OUT/report.txt"
exit "$status"
