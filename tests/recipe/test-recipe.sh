#!/usr/bin/env bash
# The whole recipe as the runner runs it (check, apply when needed, reboot on 100):
# the order of installs, one reboot after the driver, valid progress, and a second run
# that changes nothing (every check passes, nothing applied).
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

MUTATING='^(apt-get .* (install|update)|dpkg (-i|--configure)|apt-mark hold|docker (run|rm|build|pull|image rm)|systemctl (enable|start|restart)|nvidia-ctk|dkms autoinstall|modprobe|curl .* -o /[^d])'

# twice OS GPU: run the recipe on a fresh sandbox, then again; the second run must
# skip every step and change nothing.
twice() {
	sandbox "$1" "$2"
	run_recipe || fail "$1/$2: first run failed at $(cat "$SB/failed")"
	assert "$1/$2: progress lines well formed" progress_ok
	local s1
	s1="$(snapshot)"
	: >"$SB/calls"
	run_recipe || fail "$1/$2: second run failed at $(cat "$SB/failed")"
	assert "$1/$2: second run applied nothing ($(tr '\n' ' ' <"$SB/applied"))" [ ! -s "$SB/applied" ]
	assert "$1/$2: second run skipped all nine steps" [ "$(wc -l <"$SB/skipped")" = 9 ]
	assert "$1/$2: second run changed no file" [ "$(snapshot)" = "$s1" ]
	if grep -E "$MUTATING" "$SB/calls"; then
		fail "$1/$2: second run ran commands that change the machine (above)"
	fi
}

t "Ubuntu 22.04 + T4: the order of installs"
sandbox ubuntu2204 t4
run_recipe || fail "recipe failed at $(cat "$SB/failed")"
assert "kernel headers, then driver repo" before 'install linux-headers-6\.8\.0-1015-gcp$' 'install /.*cuda-keyring'
assert "driver repo, then driver" before 'install /.*cuda-keyring' 'install nvidia-open$'
assert "driver, then docker" before 'install nvidia-open$' 'install docker-ce '
assert "docker, then toolkit" before 'install docker-ce ' 'install nvidia-container-toolkit$'
assert "toolkit, then the CDI spec" before 'install nvidia-container-toolkit$' '^nvidia-ctk cdi generate '
assert "the CDI spec, then Docker's CDI on" before '^nvidia-ctk cdi generate ' '^nvidia-ctk runtime configure --runtime=docker --cdi.enabled$'
assert "runtime, then image" before '^nvidia-ctk runtime' '^docker build '
assert "image, then container" before '^docker build ' '^docker run '
assert "container, then verification" before '^docker run ' '^docker exec gcloud-gpu-jupyter python3 '
assert "applied: driver, reboot, then the rest" \
	[ "$(tr '\n' ' ' <"$SB/applied")" = "15-kernel 20-nvidia-driver reboot 40-docker 50-container-toolkit 60-image 70-jupyter " ]
assert "exactly one reboot" [ "$(grep -c reboot "$SB/applied")" = 1 ]
assert "preflight and verify passed as checks" grep -qx 80-verify "$SB/skipped"

t "each supported OS and GPU twice: the second run changes nothing"
twice ubuntu2204 t4
twice ubuntu2404 l4
twice debian12 a100
twice ubuntu2204 v100
twice ubuntu2404 h100

t "a run cut off mid-way resumes: the next run finishes it"
sandbox ubuntu2204 t4
# A run that dies at the container toolkit (no network to nvidia.github.io) ...
FAKE_UNREACHABLE=nvidia.github.io run_recipe && fail "expected a failure"
assert "it failed at 50" grep -q '^50-container-toolkit 1$' "$SB/failed"
# ... and the next one, with the network back, skips what is done.
run_recipe || fail "resumed run failed at $(cat "$SB/failed")"
assert "resumed at 50" [ "$(head -n1 "$SB/applied")" = 50-container-toolkit ]
assert "driver and docker skipped" grep -qx 40-docker "$SB/skipped"

t "unsupported OS and no GPU stop the recipe at preflight, before any install"
sandbox ubuntu2004 t4
run_recipe && fail "expected a failure"
assert "failed at preflight" grep -q '^10-preflight 1$' "$SB/failed"
refute "nothing installed" log_has "$MUTATING"
sandbox debian12 none
run_recipe && fail "expected a failure"
assert "failed at preflight" grep -q '^10-preflight 1$' "$SB/failed"
assert "says why" out_has "no NVIDIA GPU on this machine's PCI bus"

t "every step script is executable and follows the NN-name.sh pattern"
for f in "$GG_SOURCE_DIR"/payloads/steps/*.sh; do
	case ${f##*/} in
	lib.sh) assert "lib.sh is not executable (not a step)" [ ! -x "$f" ] ;;
	[0-9][0-9]-*.sh) assert "${f##*/} executable" [ -x "$f" ] ;;
	*) fail "unexpected file in steps/: ${f##*/}" ;;
	esac
done
assert "the nine steps" [ "$(steps_in_order | tr '\n' ' ')" = "10-preflight 15-kernel 20-nvidia-driver 30-cudnn 40-docker 50-container-toolkit 60-image 70-jupyter 80-verify " ]

t "steps run by hand without fd 3 still work"
sandbox ubuntu2204 t4
(cd "$GCLOUD_GPU_RELEASE" && bash steps/10-preflight.sh apply >/dev/null 2>&1) || fail "preflight by hand failed"
(cd / && bash "$GCLOUD_GPU_RELEASE/steps/10-preflight.sh" check) || fail "check from another directory failed"

done_testing
