#!/bin/sh
# fault-step.sh NAME check|apply: the body of every fault-injection step (tests/integration/t9001-faults-schedules.sh): logs its start
# and its end to the test's journal, and its own and its runner's PID so that the
# test can kill both; several lines of output and progress between, so that a fault
# can land mid-step.  Its effect is a marker per release: a later run skips it.
# The numbered steps exec this with their own name (the runner runs only NN-*.sh).
set -eu
name=$1
shift
release=$(basename "$GCLOUD_GPU_RELEASE")
marker="$GCLOUD_GPU_ROOT/fault-done-$release-$name"
journal="$GCLOUD_GPU_ROOT/../fault-journal"
case "$1" in
check) [ -f "$marker" ] ;;
apply)
	echo "start $release $name" >>"$journal"
	echo "$PPID $$" >"$GCLOUD_GPU_ROOT/../fault-pids"
	for i in 1 2 3 4; do
		echo "$name line $i"
		echo "progress $((i * 25)) $name part $i" >&3
		sleep 0.02
	done
	# The end is logged before the marker: a kill between them reruns the step.
	echo "end $release $name" >>"$journal"
	: >"$marker"
	;;
esac
