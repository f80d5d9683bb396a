#!/usr/bin/env bash
# 40-docker and 50-container-toolkit: repositories and pinned keys, the docker.io
# fallback, nvidia-ctk + restart; and the clear one-line failures of the steps that
# need the network or Docker.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

t "Docker Engine from Docker's repository, key checked, enabled at boot"
sandbox ubuntu2404 l4
refute "check fails" step 40-docker check
step 40-docker apply || fail "apply failed"
list="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/docker.list"
assert "docker.list for noble, signed-by the stored key" \
	grep -qx 'deb \[arch=amd64 signed-by=/usr/share/keyrings/docker.gpg\] https://download.docker.com/linux/ubuntu noble stable' "$list"
assert "key fingerprint checked before it is stored" \
	before '^gpg .*--show-keys .*key\.asc$' '^gpg .*--dearmor '
assert "keyring stored" [ -s "$GCLOUD_GPU_SYSROOT/usr/share/keyrings/docker.gpg" ]
assert "docker-ce and friends" log_has '^apt-get .* install docker-ce docker-ce-cli containerd.io docker-buildx-plugin$'
assert "enabled and started" log_has '^systemctl enable --now docker$'
assert "check passes" step 40-docker check
assert "progress" progress_ok

t "Debian gets Docker's Debian repository"
sandbox debian12 a100
step 40-docker apply || fail "apply failed"
assert "docker.list for bookworm" grep -q 'https://download.docker.com/linux/debian bookworm stable' "$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/docker.list"

t "download.docker.com unreachable: the distribution's docker.io (new enough: Ubuntu's)"
sandbox ubuntu2204 t4
export FAKE_DOCKER_IO_VERSION=27.5.1
FAKE_UNREACHABLE=download.docker.com step 40-docker apply || fail "apply failed"
assert "docker.io installed" log_has '^apt-get .* install docker.io$'
assert "no docker.list left behind" [ ! -e "$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/docker.list" ]
assert "says why" out_has "cannot reach download.docker.com: trying the distribution's docker.io"
assert "check passes" step 40-docker check

t "docker-ce fails to install: the distribution's docker.io"
sandbox ubuntu2204 t4
FAKE_APT_FAIL=docker-ce step 40-docker apply || fail "apply failed"
assert "docker.io after docker-ce" before 'install docker-ce ' 'install docker.io$'
assert "check passes" step 40-docker check
unset FAKE_DOCKER_IO_VERSION

t "Docker's key with another fingerprint is refused"
sandbox ubuntu2204 t4
rc=0
FAKE_BAD_KEY=download.docker.com step 40-docker apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "the signing key at https://download.docker.com/linux/ubuntu/gpg is not the one expected (fingerprint 9DC858229FC7DD38854AE2D88D81803C0EBFCD88): refusing it"
assert "no key stored" [ ! -e "$GCLOUD_GPU_SYSROOT/usr/share/keyrings/docker.gpg" ]

t "no network at all: one clear line"
sandbox ubuntu2204 t4
rc=0
FAKE_OFFLINE=1 step 40-docker apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "40-docker: error: apt-get update failed: cannot reach a package repository (no network?)"

t "an installed but stopped Docker is only started"
sandbox ubuntu2204 t4
step 40-docker apply || fail "apply failed"
rm "$FAKE_STATE/docker/active" "$FAKE_STATE/docker/enabled"
: >"$SB/calls"
refute "check fails" step 40-docker check
step 40-docker apply || fail "apply failed"
refute "no install" log_has "^apt-get"
assert "started" log_has '^systemctl enable --now docker$'

t "container toolkit: repository, package, CDI spec, nvidia-ctk, restart, in that order"
sandbox ubuntu2204 t4
kernel_ready
FAKE_MODPROBE_OK=1 step 20-nvidia-driver apply || fail "driver failed"
step 40-docker apply || fail "docker failed"
: >"$SB/calls"
refute "check fails" step 50-container-toolkit check
step 50-container-toolkit apply || fail "apply failed"
# shellcheck disable=SC2016 # $(ARCH) is apt's
assert "toolkit list with the key and apt's \$(ARCH)" grep -qxF \
	'deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /' \
	"$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/nvidia-container-toolkit.list"
assert "key pinned" log_has '^gpg .*--show-keys '
assert "update, then install" before '^apt-get .* update$' '^apt-get .* install nvidia-container-toolkit$'
assert "install, then the CDI spec" before 'install nvidia-container-toolkit$' "^nvidia-ctk cdi generate --output=$GCLOUD_GPU_SYSROOT/etc/cdi/nvidia.yaml$"
assert "the spec, then configure with CDI" before '^nvidia-ctk cdi generate' '^nvidia-ctk runtime configure --runtime=docker --cdi.enabled$'
assert "configure, then restart" before '^nvidia-ctk runtime configure' '^systemctl restart docker$'
refute "no nvidia-docker2" log_has "nvidia-docker"
assert "check passes" step 50-container-toolkit check

t "toolkit without network: one clear line"
sandbox ubuntu2204 t4
step 40-docker apply || fail "docker failed"
rc=0
FAKE_UNREACHABLE=nvidia.github.io step 50-container-toolkit apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "50-container-toolkit: error: cannot reach nvidia.github.io: no network"

t "steps that need Docker say 'docker is not running' when it is not"
sandbox ubuntu2204 t4
step 40-docker apply || fail "docker failed"
rm "$FAKE_STATE/docker/active"
for s in 50-container-toolkit 60-image 70-jupyter 80-verify; do
	: >"$SB/out"
	rc=0
	step "$s" apply || rc=$?
	assert "$s fails" [ "$rc" = 1 ]
	assert "$s says why" out_has "$s: error: docker is not running"
done

t "image: the base image cannot be pulled: one clear line"
sandbox ubuntu2204 t4
step 40-docker apply || fail "docker failed"
rc=0
FAKE_UNREACHABLE=registry-1.docker.io step 60-image apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "60-image: error: cannot pull tensorflow/tensorflow:2.19.0-gpu-jupyter: no network, or no such image"

done_testing
