# shellcheck shell=bash
# Case 8, timeline: the shipped recipe's plan on a fresh VM, sequential against
# parallel.  Each step of payloads/steps is replaced by a stand-in that keeps its `#!`
# and `# needs:` header lines and sleeps for the time that step takes on a fresh T4 VM
# (TIMELINE_MINUTES below, one second of stand-in a minute of VM: none of these is a
# measurement yet, see docs/PERFORMANCE.md for where each estimate comes from); the
# driver's stand-in asks for a reboot, which takes TIMELINE_REBOOT.  The sequential
# plan is the same stand-ins without their `# needs:` lines (each needs the one before
# it, as before issue 18).  The helper runs them locally, from `apply` to `done`, with
# the boot unit's part (a `run` on the new boot id) played by the bench.

# Minutes of each shipped step on a fresh VM (estimates), and of the reboot.
declare -A TIMELINE_MINUTES=([10-preflight]=0.1 [15-kernel]=0.5 [20-nvidia-driver]=6 [30-cudnn]=0.75
	[40-docker]=1 [50-container-toolkit]=0.5 [60-image]=7 [70-jupyter]=0.25 [80-verify]=0.2)
TIMELINE_REBOOT=1

# shellcheck source=tests/integration/lib-helper.sh
. "$GG_SOURCE_DIR/tests/integration/lib-helper.sh"

# timeline_recipe DIR KEEP-NEEDS: the stand-ins.
timeline_recipe() {
	local dir=$1 keep=$2 f name
	rm -rf "$dir" && mkdir -p "$dir/steps"
	for f in "$GG_SOURCE_DIR"/payloads/steps/[0-9][0-9]-*.sh; do
		name=$(basename "$f" .sh)
		{
			head -n 1 "$f"
			[ "$keep" = 1 ] && awk 'NR > 1 && !/^#/ { exit } /^# *needs:/' "$f"
			cat <<STEP
# Stand-in for $name: ${TIMELINE_MINUTES[$name]:-0} minutes.
marker="\$GCLOUD_GPU_ROOT/../$name.done"
case "\$1" in
check) [ -f "\$marker" ] ;;
apply)
	sleep ${TIMELINE_MINUTES[$name]:-0}
	touch "\$marker"
	[ "$name" != 20-nvidia-driver ] || exit 100
	;;
esac
STEP
		} >"$dir/steps/$name.sh"
		chmod 755 "$dir/steps/$name.sh"
	done
}

# timeline_run DIR: seconds from apply to done, the reboot included, in BENCH_S.
timeline_run() {
	local dir=$1 root=$1/root t0 sha
	rm -rf "$root" "$dir"/*.done
	echo boot-1 >"$dir/boot_id"
	(
		export GCLOUD_GPU_ROOT=$root GCLOUD_GPU_BOOT_ID_FILE=$dir/boot_id
		export GCLOUD_GPU_REBOOT_COMMAND="sleep $TIMELINE_REBOOT; echo boot-2 >$dir/boot_id"
		sha=$(helper_push "$dir/recipe") || exit 1
		t0=$EPOCHREALTIME
		"$GG_HELPER" apply "$sha" >/dev/null 2>&1
		# The boot unit's runner on the new boot id, then the plan to its end.
		"$GG_HELPER" run && "$GG_HELPER" follow --from 1 --no-wait | tail -n 1 | grep -q '"type":"done"' ||
			exit 1
		awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }' >"$dir/seconds"
	) || { echo "bench: the timeline plan did not finish" >&2; return 1; }
	BENCH_S=$(cat "$dir/seconds")
}

case_timeline() {
	local dir=$TEST_DIR/timeline
	for _ in $(seq "$BENCH_RUNS"); do
		timeline_recipe "$dir/recipe" 0 && timeline_run "$dir" || return 1
		bench_record timeline "sequential (no needs lines)" seconds "$BENCH_S"
		timeline_recipe "$dir/recipe" 1 && timeline_run "$dir" || return 1
		bench_record timeline "parallel (shipped needs lines)" seconds "$BENCH_S"
	done
}
