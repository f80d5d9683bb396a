#!/usr/bin/env bash
# needs: 50-container-toolkit
# 70-jupyter: the Jupyter container, from the image step 60 built:
#   --device nvidia.com/gpu=all  every GPU, as a CDI device (the spec that step
#                              50-container-toolkit generates); not --gpus, whose legacy
#                              hook loses the GPU on a `systemctl daemon-reload`
#   --restart unless-stopped   back up after every VM restart, with no login
#   -p 127.0.0.1:8888:8888     loopback only: reached through an SSH tunnel, never
#                              through a firewall hole
#   JUPYTER_TOKEN              a random token made here, kept root-only in
#                              $GCLOUD_GPU_ROOT/jupyter-token and handed to the
#                              container in a 0600 --env-file: it is on no command line
#   /notebooks                 the host directory /srv/gcloud-gpu/notebooks, which
#                              outlives every container
# A container made from another image or with other settings is replaced.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOKEN_FILE="$GCLOUD_GPU_ROOT/jupyter-token"
ENV_FILE="$GCLOUD_GPU_ROOT/jupyter.env"

use_gpu() { [ -n "$(nvidia_gpus)" ]; }

# run_args: every `docker run` argument that shapes the container, one a line.
run_args() {
	printf '%s\n' --detach --restart unless-stopped --publish 127.0.0.1:8888:8888 \
		--env-file "$ENV_FILE" --volume "$GG_NOTEBOOKS_DIR:/notebooks" --shm-size 1g
	if use_gpu; then printf '%s\n' --device nvidia.com/gpu=all; fi
}

# token_env: the env file's content, from the token file.  printf is a shell builtin:
# the token is on no command line.
token_env() { printf 'JUPYTER_TOKEN=%s\n' "$(<"$TOKEN_FILE")"; }

# spec: a hash of what the container should be: image, arguments and token.
spec() {
	{
		image_tag
		run_args
		token_env | sha256sum
	} | sha256sum | cut -c1-64
}

private_file() { [ -s "$1" ] && [ "$(stat -c %a "$1")" = 600 ]; }

step_check() {
	private_file "$TOKEN_FILE" && private_file "$ENV_FILE" || return 1
	cmp -s "$ENV_FILE" <(token_env) || return 1
	docker info >/dev/null 2>&1 || return 1
	local state
	state="$(docker inspect --format '{{.State.Running}} {{index .Config.Labels "gcloud-gpu.spec"}}' "$GG_CONTAINER" 2>/dev/null)" ||
		return 1
	[ "$state" = "true $(spec)" ]
}

ensure_token() {
	mkdir -p "$GCLOUD_GPU_ROOT"
	chmod 0700 "$GCLOUD_GPU_ROOT"
	local tok
	if [ -s "$TOKEN_FILE" ]; then
		chmod 0600 "$TOKEN_FILE"
	else
		tok="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
		[[ $tok =~ ^[0-9a-f]{64}$ ]] || die "cannot make a random token from /dev/urandom"
		printf '%s\n' "$tok" | write_file "$TOKEN_FILE" 0600
		log "made a new Jupyter token: $TOKEN_FILE (root-only)"
	fi
	token_env | write_file "$ENV_FILE" 0600
}

# container_logs: the container's last lines, the token masked should it show.
container_logs() {
	local out tok
	out="$(docker logs --tail 20 "$GG_CONTAINER" 2>&1 || true)"
	tok="$(<"$TOKEN_FILE")"
	printf '%s\n' "${out//"$tok"/<token>}"
}

remove_old_images() {
	local tag=$1 img
	while read -r img; do
		if [ -n "$img" ] && [ "$img" != "$tag" ]; then
			log "removing the previous image $img"
			docker image rm "$img" >/dev/null 2>&1 || log "cannot remove $img (in use?): keeping it"
		fi
	done < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$GG_IMAGE_REPO" 2>/dev/null)
}

step_apply() {
	require_docker
	local tag
	tag="$(image_tag)"
	image_present "$tag" || die "image $tag is missing: step 60-image builds it"
	progress 10 "preparing the token and the notebooks directory"
	ensure_token
	mkdir -p "$GG_NOTEBOOKS_DIR"
	chmod 0755 "$GG_NOTEBOOKS_DIR"
	if docker inspect --format '{{.Id}}' "$GG_CONTAINER" >/dev/null 2>&1; then
		progress 30 "replacing the previous Jupyter container"
		docker rm --force "$GG_CONTAINER" >/dev/null ||
			die "cannot remove the previous container $GG_CONTAINER: see 'docker ps -a' on the VM"
	fi
	local -a args
	mapfile -t args < <(run_args)
	progress 50 "starting Jupyter ($tag)"
	docker run --name "$GG_CONTAINER" --label "gcloud-gpu.spec=$(spec)" "${args[@]}" "$tag" >/dev/null ||
		die "docker run of $tag failed (is something else using 127.0.0.1:8888?): see its output above"
	local i running=""
	for i in 1 2 3 4 5; do
		running="$(docker inspect --format '{{.State.Running}}' "$GG_CONTAINER" 2>/dev/null || true)"
		[ "$running" = true ] && break
		sleep "$i"
	done
	if [ "$running" != true ]; then
		die "the Jupyter container stopped right after it started: its last lines follow" "$(container_logs)"
	fi
	remove_old_images "$tag"
	log "Jupyter runs in container $GG_CONTAINER on 127.0.0.1:8888; notebooks in ${GG_NOTEBOOKS_DIR#"$GCLOUD_GPU_SYSROOT"}"
	progress 100 "Jupyter container running"
}

step_main "$@"
