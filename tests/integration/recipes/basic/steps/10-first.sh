#!/bin/sh
# A step that is done once its marker exists; reports progress on fd 3.
case "$1" in
check) [ -f "$GCLOUD_GPU_ROOT/../first.done" ] ;;
apply)
	echo "first: apply in $(pwd)"
	echo "progress 50 halfway" >&3
	echo "progress junk" >&3
	echo "progress 250 over the top" >&3
	echo "first: to stderr" >&2
	echo "first apply" >>"$GG_TRACE"
	touch "$GCLOUD_GPU_ROOT/../first.done"
	;;
esac
