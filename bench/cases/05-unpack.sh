# shellcheck shell=bash
# Case 5, unpack: `gcloud-gpu-helper unpack ARCHIVE DEST` (secure extraction into a
# staging directory, synced, swapped in) against GNU tar -x of the same tar+zstd file,
# and tar -x followed by sync (the helper syncs; tar alone leaves dirty pages).

case_unpack() {
	local dest=$TEST_DIR/unpacked
	for _ in $(seq "$BENCH_RUNS"); do
		rm -rf "$dest" && bench_settle
		bench_time /usr/bin/time -f %M -o "$TEST_DIR/unpack.rss" "$GG_HELPER" unpack "$ARCHIVE" "$dest" || return 1
		bench_record unpack "gcloud-gpu-helper unpack" seconds "$BENCH_S"
		bench_record memory "gcloud-gpu-helper unpack" rss_kib "$(cat "$TEST_DIR/unpack.rss")"
		rm -rf "$dest" && bench_settle && mkdir "$dest"
		bench_time tar --zstd -xf "$ARCHIVE" -C "$dest" || return 1
		bench_record unpack "tar -x" seconds "$BENCH_S"
		rm -rf "$dest" && bench_settle && mkdir "$dest"
		# shellcheck disable=SC2016 # the inner shell's $1 and $2
		bench_time sh -c 'tar --zstd -xf "$1" -C "$2" && sync' sh "$ARCHIVE" "$dest" || return 1
		bench_record unpack "tar -x; sync" seconds "$BENCH_S"
	done
	rm -rf "$dest"
}
