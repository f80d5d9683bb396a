# shellcheck shell=bash
# Case 3, one step script changed in the payload: wall time and what goes over the
# wire, gcloud-gpu push against rsync -a -e ssh of the same directory.  Each run
# changes the script twice: once for the timed runs, once for a run under strace that
# counts the bytes written to sshd's port (SSH handshake included; a bare
# `ssh host true` is measured the same way for scale).  The goal's yardstick is the
# changed file's size plus the manifest's.

case_changed_script() {
	local i log=$TEST_DIR/changed
	[ -d "$GCLOUD_GPU_REMOTE_ROOT/releases" ] || bench_push "$log" || return 1
	[ -d "$SINK/rsync" ] || rsync -a -e "ssh -F $SSHD_SSH_CONFIG" "$PAYLOAD/" "$SSH_HOST:$SINK/rsync/" || return 1
	for i in $(seq "$BENCH_RUNS"); do
		bench_change_script "$PAYLOAD" "$i"
		bench_push "$log" || return 1
		bench_record changed-script "gcloud-gpu push" seconds "$BENCH_S"
		bench_record changed-script "gcloud-gpu push" payload_bytes "$(bench_push_sent "$log")"
		bench_time rsync -a -e "ssh -F $SSHD_SSH_CONFIG" "$PAYLOAD/" "$SSH_HOST:$SINK/rsync/" || return 1
		bench_record changed-script "rsync -e ssh" seconds "$BENCH_S"

		bench_change_script "$PAYLOAD" "$i.wire"
		bench_push_wire "$log" || return 1
		bench_record changed-script "gcloud-gpu push" wire_bytes "$(bench_wire_last)"
		bench_wire rsync -a -e "ssh -F $SSHD_SSH_CONFIG" "$PAYLOAD/" "$SSH_HOST:$SINK/rsync/" || return 1
		bench_record changed-script "rsync -e ssh" wire_bytes "$BENCH_WIRE"
		bench_wire "${SSH[@]}" "$SSH_HOST" true || return 1
		bench_record changed-script "ssh host true" wire_bytes "$BENCH_WIRE"
		bench_record changed-script "changed file" bytes "$(bench_size "$PAYLOAD/steps/20-cudnn.sh")"
		bench_record changed-script manifest bytes "$(bench_manifest_size)"
	done
}
