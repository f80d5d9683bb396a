# shellcheck shell=bash
# Case 2, no-op re-push: nothing changed and the plan is done.  The whole push
# (manifest from the hash cache, connect, helper check, `have`, `apply` that finds the
# plan done, its events) against a bare `ssh host true`; then once each under strace
# for the bytes on the wire.

case_noop_push() {
	local log=$TEST_DIR/noop
	# From an empty VM if the cold-push case did not run before.
	[ -d "$GCLOUD_GPU_REMOTE_ROOT/releases" ] || bench_push "$log" || return 1
	for _ in $(seq "$BENCH_RUNS"); do
		bench_push "$log" || return 1
		bench_record noop-push "gcloud-gpu push" seconds "$BENCH_S"
		bench_record noop-push "gcloud-gpu push" payload_bytes "$(bench_push_sent "$log")"
		bench_time "${SSH[@]}" "$SSH_HOST" true || return 1
		bench_record noop-push "ssh host true" seconds "$BENCH_S"
	done
	bench_push_wire "$log" || return 1
	bench_record noop-push "gcloud-gpu push" wire_bytes "$(bench_wire_last)"
	bench_wire "${SSH[@]}" "$SSH_HOST" true || return 1
	bench_record noop-push "ssh host true" wire_bytes "$BENCH_WIRE"
}
