#!/bin/sh
# The last step; fails on demand to show step-failed and its tail.
case "$1" in
check) exit 1 ;;
apply)
	echo "last apply" >>"$GG_TRACE"
	if [ -n "${GG_FAIL:-}" ]; then
		i=0
		while [ $i -lt 30 ]; do echo "line $i"; i=$((i + 1)); done
		exit 7
	fi
	echo "all done"
	;;
esac
