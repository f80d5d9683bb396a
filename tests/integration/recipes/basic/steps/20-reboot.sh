#!/bin/sh
# A step that needs a reboot unless GG_NO_REBOOT is set; can be made to block.
case "$1" in
check) [ -f "$GCLOUD_GPU_ROOT/../reboot.done" ] ;;
apply)
	echo "reboot step apply" >>"$GG_TRACE"
	if [ -n "${GG_BLOCK:-}" ] && [ ! -f "$GCLOUD_GPU_ROOT/../unblock" ]; then
		echo "$PPID" >"$GCLOUD_GPU_ROOT/../runner.pid"
		while [ ! -f "$GCLOUD_GPU_ROOT/../unblock" ]; do sleep 0.05; done
	fi
	touch "$GCLOUD_GPU_ROOT/../reboot.done"
	[ -n "${GG_NO_REBOOT:-}" ] || exit 100
	;;
esac
