#!/usr/bin/env bash
# 80-verify: the whole recipe works, seen from outside:
#   - the Jupyter container runs and is published on loopback only;
#   - Jupyter refuses its API without the token and answers it with the token;
#   - the GPU is visible inside the container: the framework lists it (TensorFlow or
#     PyTorch, whichever the image has; nvidia-smi -L otherwise).
# It changes nothing; check makes one quick attempt, apply waits for Jupyter to start.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOKEN_FILE="$GCLOUD_GPU_ROOT/jupyter-token"
API=http://127.0.0.1:8888/api/status
GG_VERIFY_WAIT="${GG_VERIFY_WAIT:-180}"

GPU_PROBE='import importlib.util as u
if u.find_spec("tensorflow"):
    import tensorflow as tf
    print("tensorflow", len(tf.config.list_physical_devices("GPU")))
elif u.find_spec("torch"):
    import torch
    print("torch", torch.cuda.device_count())
else:
    print("none 0")'

# api_status [auth]: the HTTP status of Jupyter's /api/status, with the token when
# asked.  The token reaches curl on its stdin (-K -), never on its command line.
api_status() {
	if [ "${1:-}" = auth ]; then
		printf 'header = "Authorization: token %s"\n' "$(<"$TOKEN_FILE")" |
			curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -K - "$API" 2>/dev/null || true
	else
		curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$API" 2>/dev/null || true
	fi
}

# gpus_in_container: prints "FRAMEWORK COUNT".
gpus_in_container() {
	local out n
	out="$(docker exec "$GG_CONTAINER" python3 -c "$GPU_PROBE" 2>/dev/null | tail -n1 || true)"
	if [[ $out =~ ^(tensorflow|torch)\ [0-9]+$ ]]; then
		printf '%s\n' "$out"
		return 0
	fi
	n="$(docker exec "$GG_CONTAINER" nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
	printf 'nvidia-smi %s\n' "${n:-0}"
}

verify() {
	local wait=$1
	require_docker
	[ -s "$TOKEN_FILE" ] || die "no Jupyter token at $TOKEN_FILE: step 70-jupyter makes it"
	progress 5 "checking the Jupyter container"
	local running
	running="$(docker inspect --format '{{.State.Running}}' "$GG_CONTAINER" 2>/dev/null || true)"
	[ "$running" = true ] || die "the Jupyter container $GG_CONTAINER is not running: see 'docker ps -a' and 'docker logs $GG_CONTAINER' on the VM"

	local ports p
	ports="$(docker port "$GG_CONTAINER" 8888/tcp 2>/dev/null || true)"
	[ -n "$ports" ] || die "the Jupyter container publishes no port 8888"
	while read -r p; do
		case $p in
		127.0.0.1:8888) ;;
		*) die "Jupyter is published on $p, not on 127.0.0.1:8888 only: refusing an open port" ;;
		esac
	done <<<"$ports"

	progress 20 "waiting for Jupyter to answer"
	local code="" waited=0
	while :; do
		code="$(api_status auth)"
		[ "$code" = 200 ] && break
		if ((waited >= wait)); then
			die "Jupyter does not answer its API with the token (HTTP ${code:-no answer}) after ${wait}s: see 'docker logs $GG_CONTAINER' on the VM"
		fi
		sleep 2
		waited=$((waited + 2))
	done
	code="$(api_status)"
	case $code in
	401 | 403) ;;
	*) die "Jupyter answers its API without the token (HTTP $code): the image must not disable token authentication" ;;
	esac
	log "Jupyter answers with the token and refuses without it"

	progress 60 "looking for the GPU inside the container"
	if [ -z "$(nvidia_gpus)" ] && allow_no_gpu; then
		log "no GPU (CPU-only dry run): GPU check skipped"
	else
		local fw n
		read -r fw n < <(gpus_in_container)
		if [ "${n:-0}" -lt 1 ]; then
			die "the GPU is not visible inside the Jupyter container ($fw lists none): check 'docker run --rm --device nvidia.com/gpu=all ubuntu nvidia-smi -L' on the VM"
		fi
		log "GPU visible inside the container: $fw lists $n"
	fi
	log "Jupyter is ready on the VM at 127.0.0.1:8888: reach it through an SSH tunnel; the token is in $TOKEN_FILE (root-only)"
	progress 100 "verified"
}

step_check() {
	GG_FD3=0
	verify 0 >/dev/null 2>&1
}
step_apply() { verify "$GG_VERIFY_WAIT"; }

step_main "$@"
