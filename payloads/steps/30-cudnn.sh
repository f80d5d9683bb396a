#!/usr/bin/env bash
# 30-cudnn: every .deb file the user put in the payload's debs/ (cuDNN downloaded by
# hand from NVIDIA, as in the original recipe, or any other package) installed with
# apt, which hands them to dpkg and resolves their dependencies from the repositories
# in the same transaction.  Or, asked for with a payload file named cudnn-from-repo (or
# GG_CUDNN_FROM_REPO=PACKAGE), cuDNN from NVIDIA's CUDA network repository, which step
# 20 set up: the package named in that file's first line, cudnn9-cuda-12 when empty.
# Nothing to do (skipped) when neither is there.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBS_DIR="$GCLOUD_GPU_RELEASE/debs"
REPO_OPTION="$GCLOUD_GPU_RELEASE/cudnn-from-repo"
CUDA_KEYRING="$GCLOUD_GPU_SYSROOT/usr/share/keyrings/cuda-archive-keyring.gpg"

# repo_cudnn: the cuDNN package asked for from the repository (none: empty).
repo_cudnn() {
	local p="${GG_CUDNN_FROM_REPO:-}"
	if [ -z "$p" ] && [ -e "$REPO_OPTION" ]; then
		p="$(head -n1 "$REPO_OPTION" | tr -d '[:space:]')"
		[ -n "$p" ] || p=cudnn9-cuda-12
	fi
	[ -n "$p" ] || return 0
	[[ $p =~ ^cudnn[0-9]+-cuda-[0-9]+$ ]] ||
		die "cudnn-from-repo names '$p', not a cuDNN package of NVIDIA's repository (e.g. cudnn9-cuda-12): fix that file"
	printf '%s\n' "$p"
}

# repo_done: the repository's cuDNN, when asked for, is installed (or cannot apply: no GPU).
repo_done() {
	local p
	p="$(repo_cudnn)"
	[ -z "$p" ] || pkg_installed "$p" || { [ -z "$(nvidia_gpus)" ] && allow_no_gpu; }
}

# install_repo_cudnn PKG: cuDNN from the CUDA network repository.
install_repo_cudnn() {
	local p=$1
	if [ -z "$(nvidia_gpus)" ] && allow_no_gpu; then
		log "cudnn-from-repo: no NVIDIA GPU on this CPU-only run, so no CUDA repository: $p skipped"
		return 0
	fi
	pkg_installed "$p" && return 0
	[ -r "$CUDA_KEYRING" ] ||
		die "cudnn-from-repo needs NVIDIA's CUDA repository, which step 20-nvidia-driver adds: it is not set up on this VM"
	progress 2 "updating package lists"
	apt_update 2 10
	progress 10 "installing $p from NVIDIA's CUDA repository"
	apt_get 10 60 install "$p" || die "installing $p from NVIDIA's CUDA repository failed: see apt-get's output above"
}

list_debs() {
	local f
	for f in "$DEBS_DIR"/*.deb; do
		if [ -f "$f" ]; then printf '%s\n' "$f"; fi
	done
}

# deb_wanted FILE: prints "NAME VERSION" of a .deb, or fails when it is not one.
deb_wanted() {
	local name ver
	name="$(dpkg-deb -f "$1" Package 2>/dev/null)" || return 1
	ver="$(dpkg-deb -f "$1" Version 2>/dev/null)" || return 1
	[ -n "$name" ] && [ -n "$ver" ] || return 1
	printf '%s %s\n' "$name" "$ver"
}

# deb_done FILE: that package is installed at that version.
deb_done() {
	local name ver
	read -r name ver < <(deb_wanted "$1") || return 1
	pkg_installed "$name" && [ "$(pkg_version "$name")" = "$ver" ]
}

step_check() {
	local f
	repo_done || return 1
	while read -r f; do
		deb_done "$f" || return 1
	done < <(list_debs)
	return 0
}

step_apply() {
	local -a todo=()
	local f name ver p
	p="$(repo_cudnn)"
	if [ -n "$p" ]; then install_repo_cudnn "$p"; fi
	while read -r f; do
		if ! read -r name ver < <(deb_wanted "$f"); then
			die "debs/${f##*/} is not a Debian package (dpkg-deb cannot read it): remove it from payloads/debs/"
		fi
		case $name in
		*local-repo* | *-local)
			die "debs/${f##*/} is a local-repository installer ($name), not a package: put the library packages themselves in payloads/debs/ (e.g. libcudnn9-cuda-12_*.deb; they are inside that installer under /var/$name/)"
			;;
		esac
		if deb_done "$f"; then
			log "$name $ver: already installed"
		else
			log "$name $ver: to install from debs/${f##*/}"
			todo+=("$f")
		fi
	done < <(list_debs)
	if [ ${#todo[@]} -eq 0 ]; then
		log "no .deb files to install in debs/"
		progress 100 "nothing to install"
		return 0
	fi
	progress 2 "updating package lists"
	if ! GG_APT_DL_SHARE=100 apt_get 2 10 update; then
		log "apt-get update failed: going on with the package lists at hand"
	fi
	progress 10 "installing ${#todo[@]} package(s) from debs/"
	apt_get 10 98 install "${todo[@]}" ||
		die "installing the .deb files in debs/ failed: see apt-get's output above (a missing dependency needs the network)"
	for f in "${todo[@]}"; do
		deb_done "$f" || die "debs/${f##*/} did not end up installed: see apt-get's output above"
	done
	progress 100 "installed ${#todo[@]} package(s) from debs/"
}

step_main "$@"
