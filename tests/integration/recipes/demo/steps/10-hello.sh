#!/bin/sh
# Demo step: says hello.  Its effect is a marker file in the helper's root, so a second
# push finds it in place and skips it.
set -eu
marker="$GCLOUD_GPU_ROOT/demo-hello"
case "$1" in
check) [ -f "$marker" ] ;;
apply)
	echo "hello from $(uname -n)"
	echo "release: $GCLOUD_GPU_RELEASE"
	: >"$marker"
	;;
esac
