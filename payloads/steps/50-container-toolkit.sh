#!/usr/bin/env bash
# 50-container-toolkit: the NVIDIA Container Toolkit from NVIDIA's repository (its key
# checked against the pinned fingerprint), registered with Docker by
# `nvidia-ctk runtime configure --runtime=docker`, Docker restarted to load it.  This
# replaces the original recipe's nvidia-docker2, which NVIDIA deprecated: plain
# `docker run --gpus all` now reaches the GPU through the toolkit.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=https://nvidia.github.io/libnvidia-container
KEYRING="$GCLOUD_GPU_SYSROOT/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
LIST="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/nvidia-container-toolkit.list"

runtime_registered() {
	docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"'
}

step_check() {
	if [ -z "$(nvidia_gpus)" ] && allow_no_gpu; then
		log "no NVIDIA GPU (CPU-only dry run): the container toolkit only serves a GPU"
		return 0
	fi
	pkg_installed nvidia-container-toolkit && runtime_registered
}

step_apply() {
	require_docker
	if ! pkg_installed nvidia-container-toolkit; then
		require_net "$REPO/gpgkey"
		progress 5 "adding NVIDIA's container toolkit repository"
		install_apt_key "$REPO/gpgkey" "$GG_FPR_NVCTK" "$KEYRING"
		# The same line as NVIDIA's nvidia-container-toolkit.list, with the keyring named;
		# $(ARCH) is apt's, not the shell's.
		# shellcheck disable=SC2016
		printf 'deb [signed-by=%s] %s/stable/deb/$(ARCH) /\n' \
			"${KEYRING#"$GCLOUD_GPU_SYSROOT"}" "$REPO" | write_file "$LIST" 0644
		progress 10 "updating package lists"
		apt_update 10 25
		progress 25 "installing nvidia-container-toolkit"
		apt_get 25 85 install nvidia-container-toolkit ||
			die "installing the NVIDIA Container Toolkit failed: see apt-get's output above"
	fi
	progress 88 "registering the nvidia runtime with Docker"
	nvidia-ctk runtime configure --runtime=docker ||
		die "nvidia-ctk could not configure Docker (/etc/docker/daemon.json): see its output above"
	progress 92 "restarting Docker"
	systemctl restart docker || die "Docker did not restart: see 'journalctl -u docker' on the VM"
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if runtime_registered; then
			progress 100 "nvidia runtime registered"
			return 0
		fi
		sleep "$i"
	done
	if ! docker info >/dev/null 2>&1; then
		die "docker is not running after its restart: see 'journalctl -u docker' on the VM"
	fi
	die "Docker restarted but does not list the nvidia runtime: see /etc/docker/daemon.json on the VM"
}

step_main "$@"
