#!/bin/sh
# Demo step: "installs" something with progress on fd 3, as a real step reports
# apt's or docker's progress.
set -eu
marker="$GCLOUD_GPU_ROOT/demo-work"
case "$1" in
check) [ -f "$marker" ] ;;
apply)
	for pct in 0 25 50 75 100; do
		echo "progress $pct unpacking part $pct" >&3
		echo "working: $pct%"
		sleep 0.1
	done
	: >"$marker"
	;;
esac
