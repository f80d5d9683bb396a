#!/usr/bin/env bash
# stand-in.sh: one script that plays every command the recipe's steps call (apt-get,
# apt-cache, dpkg, dpkg-deb, dpkg-query, apt-mark, curl, gpg, docker, nvidia-smi,
# nvidia-ctk, dkms, cloud-init, systemctl, modprobe, uname, df, sleep).  harness.sh links each name to it on a PATH
# placed first.  Every call appends its name and argv to $FAKE_LOG, one line a call.
#
# The stand-ins keep state in $FAKE_STATE, so that after a step's apply its check
# passes, as on a real machine:
#   pkgs/NAME                 installed package, holding its version
#   held/NAME                 apt-mark hold
#   apt-lists                 the sources.list.d files seen by the last apt-get update
#   docker/{enabled,active,runtime-nvidia}
#   docker/images/TAG         (TAG with / and : as _) image present
#   docker/dockerfile         the last Dockerfile built
#   docker/c/NAME/            a container: argv, env (from --env-file), publish, running
#   running-kernel            what `uname -r` says; boot-kernel: the kernel the next
#                             (fake) boot runs, set when a kernel metapackage installs one
#   dkms/KERNEL               the nvidia module is built for KERNEL
# and they write the host files a real package would (keyrings, sources lists,
# /proc/driver/nvidia/version once the module "loads", /etc/docker/daemon.json) under
# $GCLOUD_GPU_SYSROOT.
#
# Knobs (environment): FAKE_OFFLINE=1 (no host answers), FAKE_UNREACHABLE="host ..."
# (those hosts do not answer), FAKE_BAD_KEY="host ..." (their signing key has another
# fingerprint), FAKE_MODPROBE_OK=1 (the module loads without a reboot),
# FAKE_APT_FAIL="pkg ..." (installing those fails), FAKE_DF_AVAIL_KB, FAKE_KERNEL,
# FAKE_DOCKER_DEAD=1 (the Docker daemon never starts), FAKE_NVSMI=ok|fail (nvidia-smi
# answers, or not, whatever the module), FAKE_ARCH (dpkg's architecture),
# FAKE_GONE="pkg ..." (no longer in the archive), FAKE_HANG="cmd ..." (those commands
# hang until killed), FAKE_DPKG_LOCKED=N (the first N `dpkg --configure -a` find the
# lock held), FAKE_DOCKER_IO_VERSION (docker.io's version, default Debian 12's 20.10.24),
# FAKE_NEW_KERNEL (the kernel a metapackage brings), FAKE_CLOUD_INIT_RC, FAKE_SLOW.
set -euo pipefail

cmd="$(basename "$0")"
{
	printf '%s' "$cmd"
	printf ' %s' "$@"
	printf '\n'
} >>"${FAKE_LOG:?}"

S="${FAKE_STATE:?}"
R="${GCLOUD_GPU_SYSROOT:?}"
mkdir -p "$S/pkgs" "$S/held" "$S/docker/images" "$S/docker/c" "$S/dkms"

# A command named in FAKE_HANG hangs until killed (bash's read -t: no child process);
# one named in FAKE_SLOW goes on only once the step's output ($FAKE_OUT) shows a
# heartbeat line for it (a condition, with a generous deadline).
for h in ${FAKE_HANG:-}; do
	if [ "$h" = "$cmd" ]; then
		echo "$cmd: (hanging, as FAKE_HANG asks)"
		read -r -t 100000 <> <(:) || true
		exit 0
	fi
done
for h in ${FAKE_SLOW:-}; do
	if [ "$h" = "$cmd" ]; then
		for _ in $(seq 1 1200); do
			grep -q "still running: $cmd" "${FAKE_OUT:?}" && break
			read -r -t 0.1 <> <(:) || true
		done
	fi
done

installed() { [ -f "$S/pkgs/$1" ]; }
install_pkg() { printf '%s\n' "$2" >"$S/pkgs/$1"; }
unreachable() {
	local h
	[ "${FAKE_OFFLINE:-0}" = 1 ] && return 0
	for h in ${FAKE_UNREACHABLE:-}; do [ "$h" = "$1" ] && return 0; done
	return 1
}
host_of() {
	local h=${1#*://}
	printf '%s\n' "${h%%/*}"
}
docker_installed() { installed docker-ce || installed docker.io; }
running_kernel() {
	if [ -n "${FAKE_KERNEL:-}" ]; then
		echo "$FAKE_KERNEL"
	elif [ -r "$S/running-kernel" ]; then
		cat "$S/running-kernel"
	else
		echo 6.8.0-1015-gcp
	fi
}
driver_pkg() {
	local p
	for p in nvidia-driver-open nvidia-open cuda-drivers; do
		if installed "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
# load_module: the module loads when the driver is installed and built for this kernel.
load_module() {
	local d
	d="$(driver_pkg)" || return 1
	[ -e "$S/dkms/$(running_kernel)" ] || return 1
	mkdir -p "$R/proc/driver/nvidia"
	printf 'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build\n' \
		"$(sed 's/-.*//' "$S/pkgs/$d")" >"$R/proc/driver/nvidia/version"
}
# dkms_build: build the module for every kernel whose headers are installed (what the
# DKMS package's postinst and the headers' postinst hook do).
dkms_build() {
	local f k
	driver_pkg >/dev/null || return 0
	for f in "$S"/pkgs/linux-headers-*; do
		[ -e "$f" ] || continue
		k=${f##*/linux-headers-}
		[[ $k =~ ^[0-9] ]] && touch "$S/dkms/$k"
	done
	return 0
}
gone() {
	local g
	for g in ${FAKE_GONE:-}; do [ "$g" = "$1" ] && return 0; done
	return 1
}
# locatable PKG: apt's lists (as of the last update) offer PKG.
locatable() {
	local p=$1 need=""
	gone "$p" && return 1
	case $p in
	nvidia-open | cuda-drivers | nvidia-driver-pinning-* | cudnn*-cuda-*) need=cuda- ;;
	nvidia-driver-open)
		grep -q 'VERSION_ID="24.04"' "$R/etc/os-release" || return 1
		need=cuda-
		;;
	docker-ce | docker-ce-cli | containerd.io | docker-buildx-plugin) need=docker.list ;;
	nvidia-container-toolkit) need=nvidia-container-toolkit.list ;;
	linux-headers-* | linux-image-* | docker.io | libfake* | curl | gpg | ca-certificates) ;;
	*) return 1 ;;
	esac
	[ -z "$need" ] || grep -q "^$need" "$S/apt-lists" 2>/dev/null
}

# A fake .deb is a text file of control fields.
deb_field() { sed -n "s/^$2: //p" "$1" | head -n1; }

case $cmd in
sleep) exit 0 ;;

uname)
	if [ "${1:-}" = -r ]; then running_kernel; else exec /bin/uname "$@"; fi
	;;

cloud-init)
	[ "$*" = "status --wait" ] || exit 2
	echo "status: done"
	exit "${FAKE_CLOUD_INIT_RC:-0}"
	;;

apt-cache)
	[ "${1:-}" = show ] || exit 2
	if locatable "$2"; then
		printf 'Package: %s\nVersion: 1.0-1\n' "$2"
		exit 0
	fi
	echo "E: No packages found" >&2
	exit 100
	;;

dkms)
	case "${1:-}" in
	autoinstall)
		k=${3:-$(running_kernel)}
		driver_pkg >/dev/null || exit 0
		if ! installed "linux-headers-$k"; then
			echo "Error! Your kernel headers for kernel $k cannot be found." >&2
			exit 1
		fi
		touch "$S/dkms/$k"
		;;
	status) ls "$S/dkms" ;;
	*) exit 2 ;;
	esac
	;;

df)
	echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
	echo "/dev/sda1 209715200 1048576 ${FAKE_DF_AVAIL_KB:-104857600} 1% /"
	;;

modprobe)
	if [ "${1:-}" = nvidia ] && [ "${FAKE_MODPROBE_OK:-0}" = 1 ] && load_module; then
		exit 0
	fi
	echo "modprobe: ERROR: could not insert 'nvidia': No such device" >&2
	exit 1
	;;

nvidia-smi)
	case ${FAKE_NVSMI:-} in
	ok) ok=1 ;;
	fail) ok=0 ;;
	*)
		ok=0
		if [ -r "$R/proc/driver/nvidia/version" ] || grep -qs '^nvidia ' "$R/proc/modules"; then ok=1; fi
		;;
	esac
	if [ "$ok" = 1 ]; then
		echo "GPU 0: Fake GPU (UUID: GPU-00000000-0000-0000-0000-000000000000)"
		exit 0
	fi
	echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2
	exit 9
	;;

nvidia-ctk)
	installed nvidia-container-toolkit || {
		echo "nvidia-ctk: command not found" >&2
		exit 127
	}
	case "$*" in
	"runtime configure --runtime=docker")
		mkdir -p "$R/etc/docker"
		echo '{"runtimes":{"nvidia":{"args":[],"path":"nvidia-container-runtime"}}}' >"$R/etc/docker/daemon.json"
		;;
	"runtime configure --runtime=docker --cdi.enabled")
		mkdir -p "$R/etc/docker"
		echo '{"features":{"cdi":true},"runtimes":{"nvidia":{"args":[],"path":"nvidia-container-runtime"}}}' >"$R/etc/docker/daemon.json"
		;;
	"cdi generate --output=$R/etc/cdi/nvidia.yaml")
		if [ ! -r "$R/proc/driver/nvidia/version" ]; then
			echo "level=error msg=\"failed to generate CDI spec: failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND\"" >&2
			exit 1
		fi
		{
			echo "cdiVersion: 0.5.0"
			echo "kind: nvidia.com/gpu"
			echo "# for: $(head -n1 "$R/proc/driver/nvidia/version")"
		} >"$R/etc/cdi/nvidia.yaml"
		;;
	*) exit 2 ;;
	esac
	;;

systemctl)
	quiet=0 now=0 verb="" unit=""
	for a in "$@"; do
		case $a in
		--quiet) quiet=1 ;;
		--now) now=1 ;;
		-*) ;;
		*) if [ -z "$verb" ]; then verb=$a; else unit=$a; fi ;;
		esac
	done
	[ "$unit" = docker ] || [ "$unit" = docker.service ] || exit 0
	if ! docker_installed; then
		[ "$quiet" = 1 ] || echo "Unit docker.service could not be found." >&2
		exit 4
	fi
	start() {
		[ "${FAKE_DOCKER_DEAD:-0}" = 1 ] && return 1
		touch "$S/docker/active"
		if grep -q '"nvidia"' "$R/etc/docker/daemon.json" 2>/dev/null; then
			touch "$S/docker/runtime-nvidia"
		fi
	}
	case $verb in
	enable)
		touch "$S/docker/enabled"
		if [ "$now" = 1 ]; then start; fi
		;;
	start | restart) start ;;
	is-enabled) [ -e "$S/docker/enabled" ] ;;
	is-active) [ -e "$S/docker/active" ] ;;
	*) exit 0 ;;
	esac
	;;

dpkg)
	case "${1:-}" in
	--print-architecture) echo "${FAKE_ARCH:-amd64}" ;;
	--configure)
		n=$(($(cat "$S/dpkg-lock-tries" 2>/dev/null || echo 0) + 1))
		echo "$n" >"$S/dpkg-lock-tries"
		if ((n <= ${FAKE_DPKG_LOCKED:-0})); then
			echo "dpkg: error: dpkg frontend lock was locked by another process with pid 4242" >&2
			exit 2
		fi
		rm -rf "${R:?}/var/lib/dpkg/updates/"*
		;;
	-i)
		shift
		for f in "$@"; do
			name="$(deb_field "$f" Package)"
			[ -n "$name" ] || {
				echo "dpkg-deb: error: '$f' is not a Debian format archive" >&2
				exit 2
			}
			install_pkg "$name" "$(deb_field "$f" Version)"
			if [ "$name" = cuda-keyring ]; then
				mkdir -p "$R/usr/share/keyrings" "$R/etc/apt/sources.list.d"
				echo "FAKEKEY developer.download.nvidia.com" >"$R/usr/share/keyrings/cuda-archive-keyring.gpg"
				echo "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] https://developer.download.nvidia.com/compute/cuda/repos/fake/x86_64/ /" \
					>"$R/etc/apt/sources.list.d/cuda-fake-x86_64.list"
			fi
		done
		;;
	*) exit 2 ;;
	esac
	;;

dpkg-deb)
	if [ "${1:-}" = -x ]; then
		name="$(deb_field "$2" Package)"
		[ -n "$name" ] || exit 2
		mkdir -p "$3"
		if [ "$name" = cuda-keyring ]; then
			mkdir -p "$3/usr/share/keyrings"
			echo "FAKEKEY developer.download.nvidia.com" >"$3/usr/share/keyrings/cuda-archive-keyring.gpg"
		fi
		exit 0
	fi
	[ "${1:-}" = -f ] || exit 2
	v="$(deb_field "$2" "$3")"
	[ -n "$v" ] || {
		echo "dpkg-deb: error: '$2' is not a Debian format archive" >&2
		exit 2
	}
	echo "$v"
	;;

dpkg-query)
	# shellcheck disable=SC2016 # dpkg-query's own ${Field} syntax, not the shell's
	fmt='${Package}\n'
	pkgs=()
	for a in "$@"; do
		case $a in
		-f=*) fmt=${a#-f=} ;;
		-W) ;;
		*) pkgs+=("$a") ;;
		esac
	done
	if [ ${#pkgs[@]} -eq 0 ]; then
		for f in "$S"/pkgs/*; do [ -e "$f" ] && pkgs+=("${f##*/}"); done
	fi
	rc=0
	for p in "${pkgs[@]}"; do
		if ! installed "$p"; then
			echo "dpkg-query: no packages found matching $p" >&2
			rc=1
			continue
		fi
		# shellcheck disable=SC2016
		out=${fmt//'${Package}'/$p}
		# shellcheck disable=SC2016
		out=${out//'${Version}'/$(cat "$S/pkgs/$p")}
		# shellcheck disable=SC2016
		out=${out//'${db:Status-Status}'/installed}
		printf '%b' "$out"
	done
	exit "$rc"
	;;

apt-mark)
	verb=$1
	shift
	case $verb in
	hold) for p in "$@"; do
		touch "$S/held/$p"
		echo "$p set on hold."
	done ;;
	showhold) ls "$S/held" ;;
	unhold) for p in "$@"; do rm -f "$S/held/$p"; done ;;
	esac
	;;

apt-get)
	fd="" args=()
	while [ $# -gt 0 ]; do
		case $1 in
		-o)
			case $2 in APT::Status-Fd=*) fd=${2#APT::Status-Fd=} ;; esac
			shift 2
			;;
		-*) shift ;;
		*)
			args+=("$1")
			shift
			;;
		esac
	done
	status() { if [ -n "$fd" ]; then printf '%s\n' "$1" >&"$fd"; fi; }
	verb=${args[0]}
	case $verb in
	update)
		for l in "$R"/etc/apt/sources.list.d/*.list; do
			[ -e "$l" ] || continue
			h="$(host_of "$(grep -o 'https://[^ ]*' "$l" | head -n1)")"
			if unreachable "$h"; then
				echo "E: Failed to fetch https://$h/  Could not resolve '$h'" >&2
				exit 100
			fi
		done
		if [ "${FAKE_OFFLINE:-0}" = 1 ]; then
			echo "E: Failed to fetch http://archive.example/  Temporary failure resolving" >&2
			exit 100
		fi
		status "dlstatus:1:0.0000:Retrieving file 1 of 2"
		status "dlstatus:2:50.0000:Retrieving file 2 of 2"
		status "dlstatus:2:100.0000:Retrieving file 2 of 2"
		(cd "$R/etc/apt/sources.list.d" 2>/dev/null && ls) >"$S/apt-lists" || : >"$S/apt-lists"
		;;
	install)
		todo=()
		keyring=0
		for p in "${args[@]:1}"; do
			case $p in
			/* | ./*)
				name="$(deb_field "$p" Package)"
				todo+=("$name=$(deb_field "$p" Version)")
				[ "$name" = cuda-keyring ] && keyring=1
				for d in $(deb_field "$p" Depends | tr ',' ' '); do todo+=("$d=1.0-1"); done
				continue
				;;
			esac
			for f in ${FAKE_APT_FAIL:-}; do
				if [ "$f" = "$p" ]; then
					echo "E: Sub-process /usr/bin/dpkg returned an error code (1)" >&2
					exit 100
				fi
			done
			if ! locatable "$p"; then
				echo "E: Unable to locate package $p" >&2
				exit 100
			fi
			case $p in
			nvidia-open | nvidia-driver-open | cuda-drivers)
				# NVIDIA's Debian packages depend on packages of Debian's contrib.
				if grep -q '^ID=debian' "$R/etc/os-release" &&
					! grep -rqsw contrib "$R/etc/apt/sources.list" "$R/etc/apt/sources.list.d"; then
					echo "E: Unable to correct problems, you have held broken packages. ($p needs packages from contrib)" >&2
					exit 100
				fi
				;;
			esac
			case $p in
			nvidia-open | nvidia-driver-open)
				v=590.44.01-1
				todo+=("$p=$v" "nvidia-kernel-open-dkms=$v" "libnvidia-compute=$v")
				;;
			cuda-drivers)
				v=590.44.01-1
				if installed nvidia-driver-pinning-580 ||
					grep -qs '^Pin: version 580\.\*' "$R"/etc/apt/preferences.d/*; then v=580.105.08-1; fi
				todo+=("cuda-drivers=$v" "nvidia-kernel-dkms=$v" "libnvidia-compute=$v")
				;;
			linux-image-[a-z]*)
				# a kernel metapackage: the flavour's current kernel, booted next time
				f=${p#linux-image-}
				case $f in
				gcp) nk=${FAKE_NEW_KERNEL:-6.8.0-1020-gcp} ;;
				*) nk=${FAKE_NEW_KERNEL:-6.1.0-28-$f} ;;
				esac
				todo+=("$p=1.0-1" "linux-image-$nk=1.0-1")
				echo "$nk" >"$S/boot-kernel"
				;;
			linux-headers-[a-z]*)
				f=${p#linux-headers-}
				case $f in
				gcp) nk=${FAKE_NEW_KERNEL:-6.8.0-1020-gcp} ;;
				*) nk=${FAKE_NEW_KERNEL:-6.1.0-28-$f} ;;
				esac
				todo+=("$p=1.0-1" "linux-headers-$nk=1.0-1")
				;;
			*) todo+=("$p=1.0-1") ;;
			esac
		done
		n=${#todo[@]} i=0
		for t in "${todo[@]}"; do
			status "pmstatus:${t%%=*}:$((i * 100 / n)).0000:Installing ${t%%=*}"
			install_pkg "${t%%=*}" "${t#*=}"
			i=$((i + 1))
		done
		if [ "$keyring" = 1 ]; then
			mkdir -p "$R/usr/share/keyrings" "$R/etc/apt/sources.list.d"
			echo "FAKEKEY developer.download.nvidia.com" >"$R/usr/share/keyrings/cuda-archive-keyring.gpg"
			echo "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] https://developer.download.nvidia.com/compute/cuda/repos/fake/x86_64/ /" \
				>"$R/etc/apt/sources.list.d/cuda-fake-x86_64.list"
		fi
		dkms_build
		status "pmstatus:dpkg-exec:100.0000:Running dpkg"
		;;
	*) exit 0 ;;
	esac
	;;

curl)
	out="" wfmt="" cfg=0 url=""
	while [ $# -gt 0 ]; do
		case $1 in
		-o)
			out=$2
			shift 2
			;;
		-w)
			wfmt=$2
			shift 2
			;;
		-K)
			[ "$2" = - ] && cfg=1
			shift 2
			;;
		--max-time | --retry)
			shift 2
			;;
		http://* | https://*)
			url=$1
			shift
			;;
		*) shift ;;
		esac
	done
	host="$(host_of "$url")"
	if [ "$host" = 127.0.0.1:8888 ]; then
		c="$S/docker/c/gcloud-gpu-jupyter"
		if [ ! -e "$c/running" ] || [ ! -e "$S/docker/active" ]; then
			echo "curl: (7) Failed to connect to 127.0.0.1 port 8888" >&2
			[ -n "$wfmt" ] && printf '000'
			exit 7
		fi
		code=403
		if [ "$cfg" = 1 ]; then
			given="$(sed -n 's/^header = "Authorization: token \(.*\)"$/\1/p')"
			want="$(sed -n 's/^JUPYTER_TOKEN=//p' "$c/env")"
			if [ -n "$want" ] && [ "$given" = "$want" ]; then code=200; fi
		fi
		[ -n "$wfmt" ] && printf '%s' "$code"
		exit 0
	fi
	if unreachable "$host"; then
		echo "curl: (6) Could not resolve host: $host" >&2
		exit 6
	fi
	if [ -n "$out" ] && [ "$out" != /dev/null ]; then
		case $url in
		*/cuda-keyring_*.deb) printf 'Package: cuda-keyring\nVersion: 1.1-1\n' >"$out" ;;
		*) echo "FAKEKEY $host" >"$out" ;;
		esac
	fi
	;;

gpg)
	mode="" out="" files=()
	while [ $# -gt 0 ]; do
		case $1 in
		--show-keys) mode=show ;;
		--dearmor) mode=dearmor ;;
		-o | --output)
			out=$2
			shift
			;;
		--homedir)
			shift
			;;
		-*) ;;
		*) files+=("$1") ;;
		esac
		shift
	done
	case $mode in
	show)
		h="$(sed -n 's/^FAKEKEY //p' "${files[0]}")"
		case $h in
		download.docker.com) f=9DC858229FC7DD38854AE2D88D81803C0EBFCD88 ;;
		nvidia.github.io) f=C95B321B61E88C1809C4F759DDCAE044F796ECB0 ;;
		developer.download.nvidia.com) f=EB693B3035CD5710E231E123A4B469963BF863CC ;;
		*) exit 2 ;;
		esac
		for b in ${FAKE_BAD_KEY:-}; do [ "$b" = "$h" ] && f=0000000000000000000000000000000000000000; done
		echo "pub:-:4096:1:0000000000000000:1500000000:::-:::scESC::::::23::0:"
		echo "fpr:::::::::$f:"
		;;
	dearmor) cp "${files[0]}" "$out" ;;
	*) exit 2 ;;
	esac
	;;

docker)
	if ! docker_installed; then
		echo "docker: command not found" >&2
		exit 127
	fi
	if [ ! -e "$S/docker/active" ]; then
		echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
		exit 1
	fi
	key() { printf '%s\n' "${1//[\/:]/_}"; }
	sub=$1
	shift
	case $sub in
	version)
		if installed docker-ce; then echo 28.5.1; else echo "${FAKE_DOCKER_IO_VERSION:-20.10.24}"; fi
		;;
	info)
		if [ "$*" = "--format {{json .Runtimes}}" ]; then
			if [ -e "$S/docker/runtime-nvidia" ]; then
				echo '{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}'
			else
				echo '{"runc":{"path":"runc"}}'
			fi
		else
			echo "Server Version: 0.0-fake"
		fi
		;;
	image)
		verb=$1
		shift
		case $verb in
		inspect) [ -e "$S/docker/images/$(key "$1")" ] ;;
		ls)
			repo=${*: -1}
			for f in "$S"/docker/images/*; do
				[ -e "$f" ] || continue
				n=$(cat "$f")
				case $n in "$repo":*) echo "$n" ;; esac
			done
			;;
		rm) rm -f "$S/docker/images/$(key "$1")" ;;
		esac
		;;
	pull)
		if unreachable registry-1.docker.io; then
			echo "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host" >&2
			exit 1
		fi
		echo "${1##*:}: Pulling from ${1%:*}"
		for l in aaaaaaaaaaa1 aaaaaaaaaaa2; do echo "$l: Pulling fs layer"; done
		for l in aaaaaaaaaaa1 aaaaaaaaaaa2; do echo "$l: Pull complete"; done
		echo "Status: Downloaded newer image for $1"
		echo "$1" >"$S/docker/images/$(key "$1")"
		;;
	build)
		tag=""
		while [ $# -gt 0 ]; do
			case $1 in
			--tag | -t)
				tag=$2
				shift
				;;
			esac
			shift
		done
		cat >"$S/docker/dockerfile"
		n="$(grep -c -E '^(FROM|RUN|WORKDIR|EXPOSE|CMD|ENV|COPY|ADD|ARG|LABEL) ' "$S/docker/dockerfile" || true)"
		from="$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$S/docker/dockerfile" | head -n1)"
		if [ ! -e "$S/docker/images/$(key "$from")" ]; then
			echo "ERROR: failed to solve: $from: not found" >&2
			exit 1
		fi
		for i in $(seq 1 "$n"); do echo "#$((i + 3)) [$i/$n] STEP $i"; done
		echo "$tag" >"$S/docker/images/$(key "$tag")"
		;;
	run)
		name="" envf="" pub="" img="" argv=("$@")
		while [ $# -gt 0 ]; do
			case $1 in
			--name)
				name=$2
				shift
				;;
			--env-file)
				envf=$2
				shift
				;;
			--publish | -p)
				pub=$2
				shift
				;;
			--label | --restart | --volume | -v | --shm-size | --gpus | --device | -e | --env) shift ;;
			-*) ;;
			*)
				img=$1
				break
				;;
			esac
			shift
		done
		c="$S/docker/c/$name"
		if [ -e "$c" ]; then
			echo "docker: Error response from daemon: Conflict. The container name \"/$name\" is already in use." >&2
			exit 125
		fi
		if [ ! -e "$S/docker/images/$(key "$img")" ]; then
			echo "Unable to find image '$img' locally" >&2
			exit 125
		fi
		mkdir -p "$c"
		printf '%s\n' "${argv[@]}" >"$c/argv"
		if [ -n "$envf" ]; then cp "$envf" "$c/env"; else : >"$c/env"; fi
		echo "${pub%:*}" >"$c/publish"
		echo "$img" >"$c/image"
		touch "$c/running"
		echo "0123456789abcdef"
		;;
	rm)
		[ "$1" = --force ] && shift
		rm -rf "${S:?}/docker/c/$1"
		;;
	inspect)
		fmt=$2 name=$3 c="$S/docker/c/$3"
		if [ ! -e "$c" ]; then
			echo "Error: No such object: $name" >&2
			exit 1
		fi
		r=false
		[ -e "$c/running" ] && r=true
		spec="$(sed -n 's/^gcloud-gpu\.spec=//p' "$c/argv")"
		fmt=${fmt//'{{.State.Running}}'/$r}
		fmt=${fmt//'{{index .Config.Labels "gcloud-gpu.spec"}}'/$spec}
		fmt=${fmt//'{{.Id}}'/0123456789abcdef}
		echo "$fmt"
		;;
	port)
		c="$S/docker/c/$1"
		[ -e "$c" ] || exit 1
		cat "$c/publish"
		;;
	exec)
		c="$S/docker/c/$1"
		[ -e "$c/running" ] || exit 1
		n=0
		# The GPU reaches the container as a CDI device: the spec must exist and Docker's
		# CDI feature be on.
		grep -qx -- nvidia.com/gpu=all "$c/argv" && [ -s "$R/etc/cdi/nvidia.yaml" ] &&
			grep -qs '"cdi":true' "$R/etc/docker/daemon.json" &&
			[ -r "$R/proc/driver/nvidia/version" ] && n=1
		case $2 in
		python3) echo "tensorflow $n" ;;
		nvidia-smi) [ "$n" = 1 ] && echo "GPU 0: Fake GPU" ;;
		esac
		;;
	logs) echo "[I 00:00:00 ServerApp] Jupyter Server is running at: http://127.0.0.1:8888/tree?token=..." ;;
	*) exit 0 ;;
	esac
	;;

*)
	echo "stand-in.sh: no stand-in for $cmd" >&2
	exit 127
	;;
esac
