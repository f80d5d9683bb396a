#!/usr/bin/env bash
# needs: 10-preflight
# 40-docker: Docker Engine from Docker's apt repository (its signing key checked against
# the pinned fingerprint), or the distribution's docker.io when Docker's repository
# cannot be used; the daemon enabled at boot and running.  With a GPU, Docker 25 or
# newer: the Jupyter container gets the GPU as a CDI device (50-container-toolkit).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEYRING="$GCLOUD_GPU_SYSROOT/usr/share/keyrings/docker.gpg"
LIST="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/docker.list"
DOCKER_PKGS=(docker-ce docker-ce-cli containerd.io docker-buildx-plugin)

docker_installed() {
	pkg_installed docker-ce || pkg_installed docker.io || pkg_installed moby-engine
}

# The first Docker release that takes CDI devices (docker run --device VENDOR/CLASS=NAME).
CDI_DOCKER=25

# docker_fits: Docker is new enough for what this machine needs (CDI with a GPU).
docker_fits() {
	local major
	[ -n "$(nvidia_gpus)" ] || return 0
	major="$(docker_major)"
	[ -n "$major" ] && ((major >= CDI_DOCKER))
}

step_check() {
	docker_installed &&
		systemctl is-enabled --quiet docker &&
		systemctl is-active --quiet docker &&
		docker info >/dev/null 2>&1 &&
		docker_fits
}

# install_from_docker: Docker's own repository; fails (returns 1) when unusable.
install_from_docker() {
	local id codename url arch
	id="$(os_field ID)"
	codename="$(os_field VERSION_CODENAME)"
	url="https://download.docker.com/linux/$id"
	if ! net_ok "$url/gpg"; then
		DOCKER_REPO_UNREACHABLE=1
		log "cannot reach download.docker.com: trying the distribution's docker.io"
		rm -f "$LIST"
		return 1
	fi
	progress 5 "adding Docker's apt repository"
	install_apt_key "$url/gpg" "$GG_FPR_DOCKER" "$KEYRING"
	arch="$(dpkg --print-architecture)"
	printf 'deb [arch=%s signed-by=%s] %s %s stable\n' \
		"$arch" "${KEYRING#"$GCLOUD_GPU_SYSROOT"}" "$url" "$codename" | write_file "$LIST" 0644
	progress 10 "updating package lists"
	apt_update 10 25
	progress 25 "installing Docker Engine"
	if ! apt_get 25 90 install "${DOCKER_PKGS[@]}"; then
		log "installing docker-ce failed (apt-get output above): trying the distribution's docker.io"
		return 1
	fi
}

install_from_distro() {
	progress 30 "updating package lists"
	apt_update 30 40
	progress 40 "installing docker.io"
	if apt_get 40 90 install docker.io; then
		return 0
	fi
	# apt-get update succeeds without a network (it only warns), so say it here.
	if [ -n "${DOCKER_REPO_UNREACHABLE:-}" ]; then
		die "cannot install Docker: no network (download.docker.com is unreachable and the distribution's docker.io did not install)"
	fi
	die "installing Docker failed both from Docker's repository and as the distribution's docker.io: see apt-get's output above"
}

step_apply() {
	need_tools curl ca-certificates
	if docker_installed; then
		log "Docker is installed"
	elif ! install_from_docker; then
		install_from_distro
	fi
	progress 92 "enabling and starting the Docker daemon"
	systemctl enable --now docker ||
		die "cannot start the Docker daemon: see 'systemctl status docker' and 'journalctl -u docker' on the VM"
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if docker info >/dev/null 2>&1; then
			docker_fits ||
				die "Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null) is older than $CDI_DOCKER, the first that gives containers the GPU as a CDI device: remove it (apt-get remove docker.io) and push again, and the recipe installs docker-ce from download.docker.com (which must then be reachable)"
			progress 100 "Docker is running"
			return 0
		fi
		sleep "$i"
	done
	die "docker is not running although systemd started it: see 'journalctl -u docker' on the VM"
}

step_main "$@"
