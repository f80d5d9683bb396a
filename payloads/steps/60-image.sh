#!/usr/bin/env bash
# needs: 40-docker
# 60-image: `docker build` of the payload's Dockerfile, tagged
# gcloud-gpu-jupyter:<first 16 hex digits of the Dockerfile's sha256>, so an unchanged
# Dockerfile is never rebuilt and a changed one always is.  The Dockerfile is built
# without a context (fed on stdin): it may not COPY or ADD local files.  The pull and
# the build each run under a time limit (GG_LIMIT_PULL, GG_LIMIT_BUILD) with a heartbeat.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKERFILE="$GCLOUD_GPU_RELEASE/Dockerfile"

step_check() {
	command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 &&
		image_present "$(image_tag)"
}

# base_images: the images the Dockerfile starts FROM (not its own stages, not scratch,
# not those named through an ARG).
base_images() {
	local line img alias
	local -A stages=()
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]]+(--[^[:space:]]+[[:space:]]+)*([^[:space:]]+)([[:space:]]+[Aa][Ss][[:space:]]+([^[:space:]]+))? ]] || continue
		img=${BASH_REMATCH[2]}
		alias=${BASH_REMATCH[4]}
		if [[ $img != *'$'* && $img != scratch && -z ${stages[$img]:-} ]]; then
			printf '%s\n' "$img"
		fi
		if [ -n "$alias" ]; then stages[$alias]=1; fi
	done <"$DOCKERFILE"
}

# pull_progress LO HI IMAGE: docker pull's output on stdin to the log, and layers
# done / layers seen as progress.
pull_progress() {
	local lo=$1 hi=$2 image=$3 line id status p last=-1
	local -A seen=() done_=()
	while IFS= read -r line; do
		printf '%s\n' "$line"
		[[ $line =~ ^([0-9a-f]{12}):\ (.*)$ ]] || continue
		id=${BASH_REMATCH[1]}
		status=${BASH_REMATCH[2]}
		seen[$id]=1
		case $status in
		"Pull complete"* | "Already exists"*) done_[$id]=1 ;;
		esac
		p=$((lo + (hi - lo) * ${#done_[@]} / ${#seen[@]}))
		if ((p != last)); then
			progress "$p" "pulling $image: ${#done_[@]} of ${#seen[@]} layers"
			last=$p
		fi
	done
}

# build_progress LO HI: docker build's output (BuildKit "[2/5]" or classic
# "Step 2/5") on stdin to the log, and the build step as progress.
build_progress() {
	local lo=$1 hi=$2 line n m p last=-1 what
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [[ $line =~ \[([A-Za-z0-9_.-]+\ )?([0-9]+)/([0-9]+)\]\ (.*)$ ]]; then
			n=${BASH_REMATCH[2]} m=${BASH_REMATCH[3]} what=${BASH_REMATCH[4]}
		elif [[ $line =~ ^Step\ ([0-9]+)/([0-9]+)\ :\ (.*)$ ]]; then
			n=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]} what=${BASH_REMATCH[3]}
		else
			continue
		fi
		((m > 0)) || continue
		p=$((lo + (hi - lo) * (n - 1) / m))
		if ((p != last)); then
			progress "$p" "building step $n of $m: ${what:0:60}"
			last=$p
		fi
	done
}

step_apply() {
	require_docker
	local tag img
	tag="$(image_tag)"
	if image_present "$tag"; then
		log "image $tag is already built"
		return 0
	fi
	log "building $tag from the payload's Dockerfile"
	while read -r img; do
		if image_present "$img"; then
			log "base image $img is present"
			continue
		fi
		progress 1 "pulling $img"
		limited "$GG_LIMIT_PULL" "docker pull $img" docker pull "$img" 2>&1 |
			pull_progress 1 50 "$img" ||
			die "cannot pull $img: no network, or no such image (docker pull's output above)"
	done < <(base_images)
	progress 50 "building $tag"
	local sum
	sum="$(sha256_of "$DOCKERFILE")"
	limited "$GG_LIMIT_BUILD" "docker build of $tag" env BUILDKIT_PROGRESS=plain \
		docker build --tag "$tag" --label "gcloud-gpu.dockerfile-sha256=$sum" - <"$DOCKERFILE" 2>&1 |
		build_progress 50 99 ||
		die "docker build of the payload's Dockerfile failed: see its output above"
	image_present "$tag" || die "docker build ended but image $tag is missing"
	progress 100 "image $tag built"
}

step_main "$@"
