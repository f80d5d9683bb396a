#!/usr/bin/env bash
# 70-jupyter and 80-verify: --gpus all, --restart unless-stopped, 127.0.0.1:8888 only,
# a random root-only token that is on no command line and in no log, notebooks on the
# host; a changed Dockerfile or token replaces the container; verify refuses an open
# port, an unauthenticated Jupyter and a container without the GPU.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

C=gcloud-gpu-jupyter

# up OS GPU: a sandbox with the whole recipe run.
up() {
	sandbox "$1" "$2"
	run_recipe || fail "recipe failed: $(cat "$SB/failed")"
}

argv_has() { grep -qxF -- "$1" "$FAKE_STATE/docker/c/$C/argv"; }
# argv_pair A B: the container's command line holds A immediately followed by B.
argv_pair() { grep -A1 -xF -- "$1" "$FAKE_STATE/docker/c/$C/argv" | tail -n1 | grep -qxF -- "$2"; }

t "the container: the GPU as a CDI device, --restart unless-stopped, 127.0.0.1:8888, env-file, notebooks"
up ubuntu2204 t4
assert "--device nvidia.com/gpu=all" argv_pair --device nvidia.com/gpu=all
refute "not the legacy --gpus" argv_has --gpus
assert "--restart unless-stopped" argv_pair --restart unless-stopped
assert "published on loopback only" argv_pair --publish 127.0.0.1:8888:8888
assert "no other publish" [ "$(grep -cxE -- '--publish|-p' "$FAKE_STATE/docker/c/$C/argv")" = 1 ]
assert "token through a file" argv_pair --env-file "$GCLOUD_GPU_ROOT/jupyter.env"
assert "notebooks on the host" argv_pair --volume "$GCLOUD_GPU_SYSROOT/srv/gcloud-gpu/notebooks:/notebooks"
assert "notebooks directory exists" [ -d "$GCLOUD_GPU_SYSROOT/srv/gcloud-gpu/notebooks" ]
assert "image tagged by the Dockerfile's hash" argv_has "gcloud-gpu-jupyter:$(sha256sum <"$GCLOUD_GPU_RELEASE/Dockerfile" | cut -c1-16)"
assert "built before run" before '^docker build ' '^docker run '

t "the token: random, 64 hex digits, root-only, in the helper's root"
tok="$(cat "$GCLOUD_GPU_ROOT/jupyter-token")"
[[ $tok =~ ^[0-9a-f]{64}$ ]] || fail "token is not 64 hex digits"
assert "token file 0600" [ "$(stat -c %a "$GCLOUD_GPU_ROOT/jupyter-token")" = 600 ]
assert "env file 0600" [ "$(stat -c %a "$GCLOUD_GPU_ROOT/jupyter.env")" = 600 ]
assert "root dir 0700" [ "$(stat -c %a "$GCLOUD_GPU_ROOT")" = 700 ]
assert "env file carries it" grep -qxF "JUPYTER_TOKEN=$tok" "$GCLOUD_GPU_ROOT/jupyter.env"

t "no token and no password on any command line, in any log or progress line"
refute "token not in recorded command lines" grep -qF "$tok" "$SB/calls"
refute "token not in the steps' output" grep -qF "$tok" "$SB/out"
refute "token not in progress" grep -qF "$tok" "$SB/progress"
refute "token not in the container's command line" grep -qF "$tok" "$FAKE_STATE/docker/c/$C/argv"
refute "no password in commands, logs, progress" grep -qi "password" "$SB/calls" "$SB/out" "$SB/progress"
refute "no password set in the image" grep -qiE "(NotebookApp|ServerApp|IdentityProvider)\.(password|hashed_password)" "$FAKE_STATE/docker/dockerfile"
refute "no empty token in the image" grep -qiE "token=(\"\"|'')" "$FAKE_STATE/docker/dockerfile"
assert "verify used the token (through curl's stdin)" log_has '^curl .* -K - http://127\.0\.0\.1:8888/api/status$'

t "a second push with the same Dockerfile changes nothing; the token stays"
s1="$(snapshot)"
: >"$SB/calls"
run_recipe || fail "second run failed"
assert "nothing applied" [ ! -s "$SB/applied" ]
assert "same state" [ "$(snapshot)" = "$s1" ]
refute "no docker run or build" log_has "^docker (run|build|rm|pull)"

t "a changed Dockerfile: new image, container replaced, old image removed, same token"
old_tag="$(tail -n1 "$FAKE_STATE/docker/c/$C/argv")"
sed -i 's/^FROM .*/FROM pytorch\/pytorch:2.5.1-cuda12.4-cudnn9-runtime/' "$GCLOUD_GPU_RELEASE/Dockerfile"
new_tag="gcloud-gpu-jupyter:$(sha256sum <"$GCLOUD_GPU_RELEASE/Dockerfile" | cut -c1-16)"
: >"$SB/calls"
run_recipe || fail "run after the change failed: $(cat "$SB/failed")"
assert "60 and 70 applied" [ "$(tr '\n' ' ' <"$SB/applied")" = "60-image 70-jupyter " ]
assert "new base pulled" log_has '^docker pull pytorch/pytorch:2\.5\.1-cuda12\.4-cudnn9-runtime$'
assert "old container removed first" before "^docker rm --force $C$" '^docker run '
assert "runs the new image" argv_has "$new_tag"
assert "old image removed" log_has "^docker image rm $old_tag$"
assert "same token" grep -qxF "$tok" "$GCLOUD_GPU_ROOT/jupyter-token"

t "a lost token: a new one, the container replaced"
rm "$GCLOUD_GPU_ROOT/jupyter-token"
: >"$SB/calls"
run_recipe || fail "run failed"
tok2="$(cat "$GCLOUD_GPU_ROOT/jupyter-token")"
assert "new token" [ "$tok2" != "$tok" ]
assert "container replaced" log_has '^docker run '
assert "env file follows" grep -qxF "JUPYTER_TOKEN=$tok2" "$GCLOUD_GPU_ROOT/jupyter.env"
assert "verify passes with it" grep -qx 80-verify "$SB/skipped"

t "a stopped container is started again (replaced)"
rm "$FAKE_STATE/docker/c/$C/running"
run_recipe || fail "run failed"
assert "70 applied" grep -qx 70-jupyter "$SB/applied"
assert "running" [ -e "$FAKE_STATE/docker/c/$C/running" ]

t "verify refuses a Jupyter published beyond loopback"
echo "0.0.0.0:8888" >"$FAKE_STATE/docker/c/$C/publish"
rc=0
step 80-verify apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "Jupyter is published on 0.0.0.0:8888, not on 127.0.0.1:8888 only"

t "verify refuses a container that does not see the GPU"
up ubuntu2204 l4
rm -rf "$GCLOUD_GPU_SYSROOT/proc/driver/nvidia" # the framework will list no GPU
rc=0
step 80-verify apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "the GPU is not visible inside the Jupyter container (tensorflow lists none)"

t "verify fails when Jupyter does not answer with the token"
up ubuntu2204 t4
echo "JUPYTER_TOKEN=other" >"$FAKE_STATE/docker/c/$C/env"
rc=0
step 80-verify apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "Jupyter does not answer its API with the token (HTTP 403)"

t "CPU-only dry run: no --gpus, driver skipped, verify skips the GPU"
sandbox ubuntu2204 none
export GG_ALLOW_NO_GPU=1
run_recipe || fail "dry run failed: $(cat "$SB/failed")"
unset GG_ALLOW_NO_GPU
assert "driver step skipped" grep -qx 20-nvidia-driver "$SB/skipped"
refute "no --gpus" argv_has --gpus
refute "no GPU device" argv_has --device
assert "still loopback only" argv_pair --publish 127.0.0.1:8888:8888

done_testing
