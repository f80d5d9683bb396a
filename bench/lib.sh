# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the cases
# bench/lib.sh: what the benchmark cases (bench/cases/*.sh) share.
#
# It stands on the behaviour tests' harness (tests/integration/lib-cli.sh, itself on
# lib.sh): one real OpenSSH sshd on 127.0.0.1 as the "VM", the helper relocated into a
# scratch directory, a private HOME, everything stopped by PID and removed on exit.
# On top of that it adds:
#
#   bench_setup            sshd with aes128-gcm@openssh.com only, the same
#                          cipher for OpenSSH's ssh/scp/rsync (SSH=(ssh -F ...))
#   bench_time CMD...      run CMD, its wall seconds in BENCH_S (exit status kept)
#   bench_wire CMD...      run CMD under strace: the bytes it wrote to the sshd's port
#                          (all of its processes, handshakes included) in BENCH_WIRE
#                          and in $TEST_DIR/wire.bytes (bench_wire_last)
#   bench_record CASE TOOL METRIC VALUE
#                          one sample into $BENCH_OUT/samples.tsv; bench/report.py
#                          turns the samples into the table and one JSON line a case
#   bench_vm_reset         an empty "VM" (the helper binary kept, so no bootstrap)
#   bench_settle           sync, so one run's dirty pages do not slow the next
#
# A case is a function case_NAME in bench/cases/NN-NAME.sh; bench/run.sh calls them in
# order.  Nothing here is a test: no case fails on a number.

# shellcheck source=tests/integration/lib-cli.sh
. "$GG_SOURCE_DIR/tests/integration/lib-cli.sh"

BENCH_CIPHER=aes128-gcm@openssh.com
BENCH_WRAP=()

bench_setup() {
	SSHD_EXTRA_CONFIG="Ciphers $BENCH_CIPHER"
	cli_setup || return 1
	# OpenSSH's clients: the same cipher, no compression, no multiplexing.
	cat >>"$SSHD_SSH_CONFIG" <<CONFIG
  Ciphers $BENCH_CIPHER
  Compression no
  ControlMaster no
CONFIG
	SSH=(ssh -F "$SSHD_SSH_CONFIG")
	SSH_HOST=gg-test
	SINK=$TEST_DIR/sink
	mkdir -p "$SINK"
	export SSH_HOST SINK
}

bench_time() {
	local t0=$EPOCHREALTIME rc
	"$@"
	rc=$?
	BENCH_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')
	return "$rc"
}

bench_record() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_OUT/samples.tsv"
}

# Run CMD under strace (write-type calls only) and count the bytes written to TCP
# sockets whose peer is the harness sshd: what went over the wire from this side, SSH
# handshakes included, for every process CMD starts (rsync's ssh too).  In BENCH_WIRE.
# BENCH_WIRE_PORT counts another port instead (a relay in front of sshd).
# sshd's own "Transferred:" log line is no help: it is not written when the client
# sends a disconnect, as OpenSSH's clients do.
bench_wire() {
	local trace=$TEST_DIR/wire.trace rc
	rm -f "$trace".*
	strace -f -ff -qq -s 0 -yy -e trace=write,writev,sendto,sendmsg -o "$trace" "$@"
	rc=$?
	BENCH_WIRE=$(cat "$trace".* | grep -F -- "->127.0.0.1:${BENCH_WIRE_PORT:-$SSHD_PORT}]>" |
		sed -n 's/.*= \([0-9][0-9]*\)$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	rm -f "$trace".*
	echo "$BENCH_WIRE" >"$TEST_DIR/wire.bytes"
	return "$rc"
}

bench_wire_last() {
	cat "$TEST_DIR/wire.bytes"
}

bench_vm_reset() {
	mkdir -p "$GCLOUD_GPU_REMOTE_ROOT"
	find "$GCLOUD_GPU_REMOTE_ROOT" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +
	set_boot_id boot-1
}

bench_settle() {
	sync
}

# Bytes in FILE (GNU stat).
bench_size() {
	stat -c %s "$1"
}

# The payload bytes a push reported: "sent N payload bytes".
bench_push_sent() {
	sed -n 's/^\([0-9.]* \)\{0,1\}sent \([0-9]*\) payload bytes.*/\2/p' "$1" | tail -1
}

# Run gcloud-gpu push of $PAYLOAD with each output line stamped with the time it
# arrived, and the CLI's peak RSS (KiB) in $1.rss.  bench_push_wire runs it under
# bench_wire.  Sets BENCH_S (whole push) and
# BENCH_TRANSFER_S (from the start to the "sent N payload bytes" line: connect, helper
# check, `have` and the upload, not `apply`).  Output in $1.
bench_push() {
	local log=$1 t0 rc
	shift
	t0=$EPOCHREALTIME
	{
		"${BENCH_WRAP[@]}" /usr/bin/time -f %M -o "$log.rss" "$GG_CLI" push "${TARGET[@]}" --payload "$PAYLOAD" "$@" 2>&1
		echo "exit $?"
	} | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$log"
	BENCH_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')
	BENCH_TRANSFER_S=$(awk -v a="$t0" '/ sent [0-9]+ payload bytes/ { printf "%.4f", $1 - a; exit }' "$log")
	rc=$(sed -n 's/^[0-9.]* exit \([0-9]*\)$/\1/p' "$log")
	if [ "$rc" != 0 ]; then
		echo "bench: push failed (exit $rc):" >&2
		sed 's/^/  /' "$log" >&2
		return 1
	fi
}

# The size of the newest manifest the VM holds (`have` stores it as a blob).
bench_manifest_size() {
	local f newest=
	for f in "$GCLOUD_GPU_REMOTE_ROOT"/blobs/*; do
		[ "$(head -c 9 "$f" | tr -d '\000')" = '{"files":' ] || continue
		if [ -z "$newest" ] || [ "$f" -nt "$newest" ]; then
			newest=$f
		fi
	done
	[ -n "$newest" ] && bench_size "$newest"
}

# Payload bytes the VM holds in its store: whole blobs and partials, manifests not
# counted.
bench_vm_held() {
	local f total=0
	for f in "$GCLOUD_GPU_REMOTE_ROOT"/blobs/*; do
		[ -f "$f" ] || continue
		[ "$(head -c 9 "$f" | tr -d '\000')" = '{"files":' ] && continue
		total=$((total + $(bench_size "$f")))
	done
	echo "$total"
}

# The payload's total size (its files).
bench_payload_bytes() {
	find "$PAYLOAD" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

bench_push_wire() {
	local rc
	BENCH_WRAP=(bench_wire)
	bench_push "$@"
	rc=$?
	BENCH_WRAP=()
	return "$rc"
}
