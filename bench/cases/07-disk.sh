# shellcheck shell=bash
# Case 7, disk: what the VM's disk holds after a cold push: du of the state root (the
# store, the release, the marks and seals, state and log; the helper binary under bin/
# is not payload and is left out) against the payload's own bytes.  Releases are hard
# links to the blobs (docs/ARCHITECTURE.md, "Releases"), so the payload is there once.

case_disk() {
	local log=$TEST_DIR/disk used
	bench_vm_reset && bench_settle
	bench_push "$log" || return 1
	used=$(du -s --block-size=1 --exclude=bin "$GCLOUD_GPU_REMOTE_ROOT" | cut -f1)
	bench_record disk "state root after a cold push (du)" bytes "$used"
	bench_record disk "payload" bytes "$(bench_payload_bytes)"
}
