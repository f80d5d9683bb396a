# shellcheck shell=bash
# bench/payload.sh: the payload every case pushes, made once per run.
#
# Like the real recipe with the user's cuDNN debs in it: a few incompressible files
# (random bytes, as .deb files are already compressed) that add up to $BENCH_SIZE, in
# sizes from about 40% of it down to a few percent, plus small step scripts and a
# Dockerfile.  The steps do nothing (check says "already done"), so a push's time is
# the transfer's and the helper's, not a recipe's.
#
#   bench_make_payload DIR      the directory
#   bench_make_archive DIR FILE the same files as tar+zstd (GNU tar, zstd -3), for the
#                               `ssh cat` competitor and the unpack case
#   bench_change_script DIR N   append a line to one step script (a new blob)

bench_make_payload() {
	local dir=$1 left=$BENCH_SIZE part n=0 pct name
	mkdir -p "$dir/steps" "$dir/debs"
	for name in 10-preflight 20-cudnn 30-docker 40-jupyter; do
		{
			echo '#!/bin/sh'
			echo "# bench step $name: does nothing; a real step installs something here."
			echo 'set -eu'
			# shellcheck disable=SC2016 # the script's own $1
			echo 'case "$1" in'
			echo 'check) exit 0 ;;'
			echo 'apply) exit 0 ;;'
			echo 'esac'
			# Some bulk, as real steps have (comments, functions): about 2 KiB.
			for _ in $(seq 30); do echo "# padding line to give the script a realistic size ......"; done
		} >"$dir/steps/$name.sh"
		chmod 755 "$dir/steps/$name.sh"
	done
	printf 'FROM tensorflow/tensorflow:latest-gpu-jupyter\nRUN pip install --no-cache-dir pandas\n' \
		>"$dir/Dockerfile"
	for pct in 40 25 15 10 6; do
		part=$((BENCH_SIZE * pct / 100))
		n=$((n + 1))
		head -c "$part" /dev/urandom >"$dir/debs/libcudnn-part$n.deb"
		left=$((left - part))
	done
	head -c "$left" /dev/urandom >"$dir/debs/libcudnn-rest.deb"
	# An mtime in the past: the CLI's hash cache does not keep entries of files that
	# changed in the last second (git's "racy" rule), and the cases want it warm.
	find "$dir" -type f -exec touch -d "@$(($(date +%s) - 120))" {} +
}

bench_make_archive() {
	tar -C "$1" -cf - . | zstd -q -3 -T1 >"$2"
}

bench_change_script() {
	echo "# changed by the benchmark, round $2" >>"$1/steps/20-cudnn.sh"
}
