# shellcheck shell=bash
# Case 1, cold push: the whole payload onto an empty VM.  gcloud-gpu push (its
# transfer phase: connect, helper check, `have`, the tar+zstd upload that the helper
# hashes and stores; and the whole push with `apply`) against OpenSSH's own tools
# moving the same bytes: ssh 'cat > f' < the tar+zstd archive, scp -r (SFTP, the
# default of OpenSSH 9), scp -O -r (the old protocol), rsync -a -e ssh.
# The very first push also hashes the payload (the hash cache is cold): one sample.

case_cold_push() {
	local _ log=$TEST_DIR/push
	bench_vm_reset
	rm -f "$XDG_CACHE_HOME/gcloud-gpu/hashes.json"
	bench_settle
	bench_push "$log" || return 1
	bench_record cold-push "gcloud-gpu, hash cache cold" seconds "$BENCH_TRANSFER_S"
	for _ in $(seq "$BENCH_RUNS"); do
		bench_vm_reset && bench_settle
		bench_push "$log" || return 1
		bench_record cold-push "gcloud-gpu push (transfer)" seconds "$BENCH_TRANSFER_S"
		bench_record cold-push "gcloud-gpu push (whole, with apply)" seconds "$BENCH_S"
		bench_record memory "gcloud-gpu push" rss_kib "$(cat "$log.rss")"

		rm -rf "${SINK:?}"/* && bench_settle
		bench_time "${SSH[@]}" "$SSH_HOST" "cat > '$SINK/f'" <"$ARCHIVE" || return 1
		bench_record cold-push "ssh 'cat > f'" seconds "$BENCH_S"

		rm -rf "${SINK:?}"/* && bench_settle
		bench_time scp -q -r -F "$SSHD_SSH_CONFIG" "$PAYLOAD" "$SSH_HOST:$SINK/scp" || return 1
		bench_record cold-push "scp (sftp)" seconds "$BENCH_S"

		rm -rf "${SINK:?}"/* && bench_settle
		bench_time scp -q -O -r -F "$SSHD_SSH_CONFIG" "$PAYLOAD" "$SSH_HOST:$SINK/scp" || return 1
		bench_record cold-push "scp -O (legacy)" seconds "$BENCH_S"

		rm -rf "${SINK:?}"/* && bench_settle
		bench_time rsync -a -e "ssh -F $SSHD_SSH_CONFIG" "$PAYLOAD/" "$SSH_HOST:$SINK/rsync/" || return 1
		bench_record cold-push "rsync -e ssh" seconds "$BENCH_S"
	done
	# The changed-script case starts from this: a VM with the payload, an rsync copy.
	rm -rf "${SINK:?}"/* && bench_settle
	rsync -a -e "ssh -F $SSHD_SSH_CONFIG" "$PAYLOAD/" "$SSH_HOST:$SINK/rsync/" &&
	bench_push "$log"
}
