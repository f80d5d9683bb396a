#!/usr/bin/env bash
# needs: 30-cudnn 60-image
# 50-container-toolkit: the NVIDIA Container Toolkit from NVIDIA's repository (its key
# checked against the pinned fingerprint), and the GPU given to containers through CDI:
# `nvidia-ctk cdi generate` writes /etc/cdi/nvidia.yaml, generated again whenever the
# loaded driver changes (the spec names the driver's files), and
# `nvidia-ctk runtime configure --runtime=docker --cdi.enabled` turns on Docker's CDI
# support; Docker restarted to load it.  The Jupyter container then asks for
# `--device nvidia.com/gpu=all`.  Why CDI and not `--gpus all`: with the legacy hook,
# containers lose the GPU after any `systemctl daemon-reload` (NVIDIA's container
# toolkit troubleshooting; NVIDIA/nvidia-docker#1730), and a Jupyter kernel lives long.
# This replaces the original recipe's nvidia-docker2, which NVIDIA deprecated.
# On a CPU-only run the step is skipped, saying why.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=https://nvidia.github.io/libnvidia-container
KEYRING="$GCLOUD_GPU_SYSROOT/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
LIST="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/nvidia-container-toolkit.list"
CDI_SPEC="$GCLOUD_GPU_SYSROOT/etc/cdi/nvidia.yaml"
# The driver release the CDI spec was generated for.
CDI_STAMP="$GCLOUD_GPU_ROOT/cdi-driver"
DAEMON_JSON="$GCLOUD_GPU_SYSROOT/etc/docker/daemon.json"

runtime_registered() {
	docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"'
}

# docker_cdi_on: daemon.json turns on Docker's CDI feature ("features": {"cdi": true}).
docker_cdi_on() {
	tr -d ' \t\n' <"$DAEMON_JSON" 2>/dev/null | grep -q '"cdi":true'
}

# cdi_current: the CDI spec exists and was generated for the loaded driver.
cdi_current() {
	local rel
	rel="$(driver_release)"
	[ -s "$CDI_SPEC" ] && [ -n "$rel" ] && [ -r "$CDI_STAMP" ] && [ "$(cat "$CDI_STAMP")" = "$rel" ]
}

step_check() {
	if no_gpu_skip; then return 0; fi
	pkg_installed nvidia-container-toolkit && runtime_registered && docker_cdi_on && cdi_current
}

install_toolkit() {
	need_tools curl gpg ca-certificates
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
	apt_get 25 75 install nvidia-container-toolkit ||
		die "installing the NVIDIA Container Toolkit failed: see apt-get's output above"
}

# generate_cdi: the CDI spec for the loaded driver, and the release it was made for.
generate_cdi() {
	local rel
	rel="$(driver_release)"
	[ -n "$rel" ] || die "no NVIDIA driver is loaded, so no CDI spec can be made: step 20-nvidia-driver installs it (run the plan again: gcloud-gpu reattach)"
	progress 78 "generating the CDI spec for the GPU (${CDI_SPEC#"$GCLOUD_GPU_SYSROOT"})"
	mkdir -p "$(dirname "$CDI_SPEC")"
	limited "$GG_LIMIT_SHORT" "nvidia-ctk cdi generate" \
		nvidia-ctk cdi generate --output="$CDI_SPEC" ||
		die "nvidia-ctk could not generate the CDI spec: see its output above"
	mkdir -p "$GCLOUD_GPU_ROOT"
	chmod 0700 "$GCLOUD_GPU_ROOT"
	printf '%s\n' "$rel" | write_file "$CDI_STAMP" 0600
	log "CDI spec generated for: $rel"
}

step_apply() {
	if no_gpu_skip; then return 0; fi
	require_docker
	if ! pkg_installed nvidia-container-toolkit; then
		install_toolkit
	fi
	if ! cdi_current; then
		generate_cdi
	fi
	if runtime_registered && docker_cdi_on; then
		progress 100 "CDI spec current, Docker's CDI support on"
		return 0
	fi
	progress 88 "turning on Docker's CDI support"
	limited "$GG_LIMIT_SHORT" "nvidia-ctk runtime configure" \
		nvidia-ctk runtime configure --runtime=docker --cdi.enabled ||
		die "nvidia-ctk could not configure Docker (/etc/docker/daemon.json): see its output above"
	progress 92 "restarting Docker"
	limited "$GG_LIMIT_SHORT" "systemctl restart docker" systemctl restart docker ||
		die "Docker did not restart: see 'journalctl -u docker' on the VM"
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if runtime_registered; then
			progress 100 "Docker's CDI support on"
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
