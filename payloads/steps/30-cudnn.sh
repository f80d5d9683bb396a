#!/usr/bin/env bash
# 30-cudnn: every .deb file the user put in the payload's debs/ (cuDNN downloaded by
# hand from NVIDIA, as in the original recipe, or any other package) installed with
# apt, which hands them to dpkg and resolves their dependencies from the repositories
# in the same transaction.  Nothing to do (skipped) when debs/ holds no .deb file.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBS_DIR="$GCLOUD_GPU_RELEASE/debs"

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
	while read -r f; do
		deb_done "$f" || return 1
	done < <(list_debs)
	return 0
}

step_apply() {
	local -a todo=()
	local f name ver
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
