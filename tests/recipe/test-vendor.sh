#!/usr/bin/env bash
# The recipe against the vendors' own documentation (issue 14): one case per item, each
# failing on the recipe as it was before.  RECIPE_CASES="3 7" runs only those items
# (how each was checked against the old payloads).
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

C=gcloud-gpu-jupyter
argv_pair() { grep -A1 -xF -- "$1" "$FAKE_STATE/docker/c/$C/argv" | tail -n1 | grep -qxF -- "$2"; }
held() { [ -e "$FAKE_STATE/held/$1" ]; }
installed() { [ -e "$FAKE_STATE/pkgs/$1" ]; }
# first_error: the first error line of the steps' output.
first_error() { grep -m1 ': error: ' "$SB/out" || true; }

item1() {
	t "1: the image carries the cuDNN its TensorFlow is built against (tensorflow[and-cuda], same version)"
	local df="$GG_SOURCE_DIR/payloads/Dockerfile" tag ver
	tag="$(sed -n 's/^FROM tensorflow\/tensorflow:\([^ ]*\).*/\1/p' "$df" | head -n1)"
	[ -n "$tag" ] || fail "the Dockerfile no longer starts from a tensorflow/tensorflow image: this case must follow it"
	ver=${tag%%-*}
	assert "a TensorFlow version in the tag ($tag)" grep -qE '^[0-9]+\.[0-9]+\.[0-9]+$' <<<"$ver"
	assert "tensorflow[and-cuda]==$ver installed in the image" \
		grep -qE "^RUN .*pip install .*\"?tensorflow\[and-cuda\]==${ver//./\\.}\"?" "$df"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	assert "the image built is that Dockerfile" grep -qF "tensorflow[and-cuda]==$ver" "$FAKE_STATE/docker/dockerfile"
}

item2() {
	t "2: first boot: cloud-init waited for, the dpkg lock waited for by every package operation"
	sandbox ubuntu2404 l4
	ln -s "$GG_SOURCE_DIR/tests/recipe/stand-in.sh" "$SB/bin/cloud-init"
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	assert "cloud-init status --wait" log_has '^cloud-init status --wait$'
	assert "before the first apt-get" before '^cloud-init status --wait$' '^apt-get '
	assert "under a time limit" out_has "waiting for cloud-init to finish the VM's first boot (time limit 20 min)"
	if grep '^apt-get ' "$SB/calls" | grep -v -- '-o DPkg::Lock::Timeout=1800 '; then
		fail "apt-get runs above do not wait for the dpkg lock"
	fi
	refute "no bare dpkg -i" log_has '^dpkg -i'
	assert "the keyring's key checked inside the package before apt installs it" \
		before '^dpkg-deb -x .*cuda-keyring\.deb ' '^apt-get .* install /.*cuda-keyring\.deb$'

	t "2: cloud-init with recoverable errors (exit 2) is no failure"
	sandbox ubuntu2204 t4
	ln -s "$GG_SOURCE_DIR/tests/recipe/stand-in.sh" "$SB/bin/cloud-init"
	FAKE_CLOUD_INIT_RC=2 step 15-kernel apply || fail "15-kernel failed"
	assert "says so" out_has "cloud-init finished with recoverable errors: going on"

	t "2: an interrupted dpkg run waits for the lock that another package manager holds"
	sandbox ubuntu2204 t4
	touch "$GCLOUD_GPU_SYSROOT/var/lib/dpkg/updates/0001"
	FAKE_DPKG_LOCKED=3 step 15-kernel apply || fail "15-kernel failed"
	assert "dpkg --configure -a tried 4 times" [ "$(grep -c '^dpkg --configure -a$' "$SB/calls")" = 4 ]
	assert "then apt-get" before '^dpkg --configure -a$' '^apt-get '
	sandbox ubuntu2204 t4
	touch "$GCLOUD_GPU_SYSROOT/var/lib/dpkg/updates/0001"
	local rc=0
	GG_LOCK_WAIT=20 FAKE_DPKG_LOCKED=1000 step 15-kernel apply || rc=$?
	assert "a lock held for ever: fails" [ "$rc" = 1 ]
	assert "saying so" out_has "dpkg's lock is still held by another package manager after 20 s"
}

item3() {
	t "3: the running kernel's headers are gone: the cloud kernel, a reboot into it, held (Ubuntu)"
	sandbox ubuntu2204 t4
	export FAKE_GONE=linux-headers-6.8.0-1015-gcp
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	unset FAKE_GONE
	assert "the metapackages" log_has '^apt-get .* install linux-image-gcp linux-headers-gcp$'
	assert "15-kernel asked for a reboot, then the driver" \
		[ "$(tr '\n' ' ' <"$SB/applied")" = "15-kernel reboot 20-nvidia-driver reboot 40-docker 50-container-toolkit 60-image 70-jupyter " ]
	assert "the VM runs the new kernel" [ "$(cat "$FAKE_STATE/running-kernel")" = 6.8.0-1020-gcp ]
	local p
	for p in linux-image-gcp linux-headers-gcp linux-image-6.8.0-1020-gcp linux-headers-6.8.0-1020-gcp; do
		assert "$p held" held "$p"
	done
	assert "the module built for the new kernel" [ -e "$FAKE_STATE/dkms/6.8.0-1020-gcp" ]
	assert "verify passed" grep -qx 80-verify "$SB/skipped"

	t "3: Debian: linux-image-cloud-amd64 and linux-headers-cloud-amd64"
	sandbox debian12 l4
	export FAKE_GONE=linux-headers-6.1.0-27-cloud-amd64
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	unset FAKE_GONE
	assert "the metapackages" log_has '^apt-get .* install linux-image-cloud-amd64 linux-headers-cloud-amd64$'
	assert "the new kernel held" held linux-image-6.1.0-28-cloud-amd64
	assert "the metapackage held" held linux-headers-cloud-amd64

	t "3: headers in the archive: installed for the running kernel and held, no reboot"
	sandbox ubuntu2404 l4
	step 15-kernel apply || fail "15-kernel failed"
	assert "headers" log_has '^apt-get .* install linux-headers-6\.8\.0-1015-gcp$'
	assert "image and headers held" held linux-image-6.8.0-1015-gcp
	assert "check passes" step 15-kernel check

	t "3: reattach after a kernel update: the new kernel's headers, the module built, no reboot loop"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	# An upgrade that got past the holds (say, by hand): a new kernel, no headers.
	echo 1.0-1 >"$FAKE_STATE/pkgs/linux-image-6.8.0-1030-gcp"
	echo 6.8.0-1030-gcp >"$FAKE_STATE/boot-kernel"
	fake_reboot
	refute "the driver no longer loads" step 20-nvidia-driver check
	: >"$SB/calls"
	FAKE_MODPROBE_OK=1 run_recipe || fail "the repair failed at $(cat "$SB/failed")"
	assert "15 and 20 repaired it, 50 followed the driver, nothing else" \
		[ "$(tr '\n' ' ' <"$SB/applied")" = "15-kernel 20-nvidia-driver " ]
	assert "headers of the new kernel" log_has '^apt-get .* install linux-headers-6\.8\.0-1030-gcp$'
	assert "the module built for it" log_has '^dkms autoinstall -k 6\.8\.0-1030-gcp$'
	assert "the new kernel held" held linux-image-6.8.0-1030-gcp
	assert "the GPU back in the container" grep -qx 80-verify "$SB/skipped"

	t "3: headers present but no module for this kernel: built, not a reboot loop"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	rm -f "$FAKE_STATE/dkms/"*
	fake_reboot
	: >"$SB/calls"
	FAKE_MODPROBE_OK=1 run_recipe || fail "the repair failed at $(cat "$SB/failed")"
	assert "dkms autoinstall for the running kernel" log_has '^dkms autoinstall -k 6\.8\.0-1015-gcp$'
	refute "no reboot" grep -qx reboot "$SB/applied"

	t "3: a reboot that did not bring the new kernel fails clearly"
	sandbox ubuntu2204 t4
	export FAKE_GONE=linux-headers-6.8.0-1015-gcp
	local rc=0
	step 15-kernel apply || rc=$?
	assert "first: reboot (100)" [ "$rc" = 100 ]
	rm -f "$FAKE_STATE/boot-kernel" # the boot loader kept the old kernel
	fake_reboot
	rc=0
	step 15-kernel apply || rc=$?
	unset FAKE_GONE
	assert "then: failure" [ "$rc" = 1 ]
	assert "says why" out_has "the VM rebooted but still runs kernel 6.8.0-1015-gcp"
}

item4() {
	t "4: Debian 12: the contrib component of the image's own sources"
	sandbox debian12 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	local f
	f="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/gcloud-gpu-contrib.sources"
	assert "a sources file of its own" [ -s "$f" ]
	assert "the image's archive and suites, contrib" grep -qxF 'URIs: https://deb.debian.org/debian' "$f"
	assert "suites kept" grep -qxF 'Suites: bookworm bookworm-updates bookworm-backports' "$f"
	assert "security too" grep -qxF 'URIs: https://deb.debian.org/debian-security' "$f"
	assert "contrib only" [ "$(grep -c '^Components: contrib$' "$f")" = 2 ]
	assert "signed by the image's key" grep -qxF 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' "$f"
	assert "the image's file untouched" grep -qxF 'Components: main' "$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/debian.sources"
	assert "before the driver" before '^apt-get .* update$' '^apt-get .* install nvidia-open$'

	t "4: Debian with a one-line sources.list"
	sandbox debian12 t4
	rm "$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/debian.sources"
	printf 'deb http://deb.debian.org/debian bookworm main\ndeb [signed-by=/usr/share/keyrings/x.gpg] http://deb.debian.org/debian-security bookworm-security main non-free-firmware\ndeb http://example.org/other bookworm stable\n' \
		>"$GCLOUD_GPU_SYSROOT/etc/apt/sources.list"
	kernel_ready
	step 20-nvidia-driver apply || true
	f="$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/gcloud-gpu-contrib.sources"
	assert "two contrib entries" [ "$(grep -c '^Components: contrib$' "$f")" = 2 ]
	assert "signed-by kept" grep -qxF 'Signed-By: /usr/share/keyrings/x.gpg' "$f"
	refute "not for a repository without main" grep -q example.org "$f"
	assert "the driver installed" installed nvidia-open

	t "4: Ubuntu gets no contrib file"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed"
	refute "none" [ -e "$GCLOUD_GPU_SYSROOT/etc/apt/sources.list.d/gcloud-gpu-contrib.sources" ]
}

item5() {
	t "5: no gpg and no curl on the image: installed first"
	sandbox debian12 t4
	rm "$FAKE_STATE/pkgs/gpg" "$FAKE_STATE/pkgs/curl" "$FAKE_STATE/pkgs/ca-certificates"
	step 40-docker apply || fail "40-docker failed"
	assert "installed from the distribution" log_has '^apt-get .* install curl ca-certificates$'
	assert "gpg before the key check" before '^apt-get .* install gpg$' '^gpg .*--show-keys'
	assert "docker-ce from Docker's repository" log_has 'install docker-ce '
	refute "no 'not the key expected'" out_has "not the one expected"

	t "5: when it cannot be installed: one line naming it"
	sandbox ubuntu2204 t4
	rm "$FAKE_STATE/pkgs/gpg"
	local rc=0
	FAKE_APT_FAIL=gpg step 40-docker apply || rc=$?
	assert "fails" [ "$rc" = 1 ]
	assert "names it" out_has "40-docker: error: missing on this VM: gpg, and installing it from the distribution failed"
}

item6() {
	t "6: an arm64 VM with the amd64-only image: refused in preflight, in one line"
	sandbox ubuntu2404 h100
	local rc=0
	FAKE_ARCH=arm64 step 10-preflight apply || rc=$?
	assert "fails" [ "$rc" = 1 ]
	assert "says why" [ "$(first_error)" = "10-preflight: error: the Jupyter image (the payload's Dockerfile) is built for amd64 only, and this VM is arm64: recreate the VM with an x86 machine type (e.g. g2-standard-4 with an L4), or use a Dockerfile whose base image has arm64 and say so in its '# platforms:' line" ]
	FAKE_ARCH=arm64 refute "check fails" step 10-preflight check
	sed -i 's/^# platforms: .*/# platforms: amd64, arm64/' "$GCLOUD_GPU_RELEASE/Dockerfile"
	FAKE_ARCH=arm64 assert "a Dockerfile for arm64 passes" step 10-preflight check
	sed -i '/^# platforms:/d' "$GCLOUD_GPU_RELEASE/Dockerfile"
	FAKE_ARCH=arm64 assert "a Dockerfile that names none passes" step 10-preflight check
}

item7() {
	t "7: the GPU as a CDI device; the spec made again when the driver changes"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	local spec="$GCLOUD_GPU_SYSROOT/etc/cdi/nvidia.yaml"
	assert "spec generated" grep -q '590\.44\.01' "$spec"
	assert "--device nvidia.com/gpu=all" argv_pair --device nvidia.com/gpu=all
	assert "Docker's CDI feature on" grep -q '"cdi":true' "$GCLOUD_GPU_SYSROOT/etc/docker/daemon.json"
	# A driver update (unheld by hand): another release loaded after a reboot.
	for p in nvidia-open nvidia-kernel-open-dkms libnvidia-compute; do echo 590.48.01-1 >"$FAKE_STATE/pkgs/$p"; done
	fake_reboot
	refute "the spec is stale: check fails" step 50-container-toolkit check
	: >"$SB/calls"
	run_recipe || fail "run after the driver update failed at $(cat "$SB/failed")"
	assert "only the toolkit step" [ "$(tr '\n' ' ' <"$SB/applied")" = "50-container-toolkit " ]
	assert "generated again" grep -q '590\.48\.01' "$spec"
	refute "nothing installed" log_has '^apt-get .* install'

	t "7: Docker older than 25 is refused with a GPU, accepted without"
	sandbox debian12 t4
	local rc=0
	FAKE_UNREACHABLE=download.docker.com step 40-docker apply || rc=$?
	assert "fails" [ "$rc" = 1 ]
	assert "says why" out_has "40-docker: error: Docker 20.10.24 is older than 25, the first that gives containers the GPU as a CDI device"
	refute "check fails" step 40-docker check
	sandbox debian12 none
	FAKE_UNREACHABLE=download.docker.com GG_ALLOW_NO_GPU=1 step 40-docker apply || fail "CPU-only: docker.io 20.10 refused"
}

item8() {
	t "8: cuDNN from NVIDIA's repository on the host, as an option (cudnn-from-repo)"
	sandbox ubuntu2204 t4
	touch "$GCLOUD_GPU_RELEASE/cudnn-from-repo"
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	assert "cudnn9-cuda-12 installed" log_has '^apt-get .* install cudnn9-cuda-12$'
	assert "after the CUDA repository" before 'install /.*cuda-keyring' 'install cudnn9-cuda-12$'
	assert "30 applied" grep -qx 30-cudnn "$SB/applied"
	assert "check passes" step 30-cudnn check
	sandbox ubuntu2204 t4
	echo 'cudnn9-cuda-12; rm -rf /' >"$GCLOUD_GPU_RELEASE/cudnn-from-repo"
	local rc=0
	step 30-cudnn apply || rc=$?
	assert "a bad name is refused" [ "$rc" = 1 ]
	assert "saying so" out_has "not a cuDNN package of NVIDIA's repository (e.g. cudnn9-cuda-12): fix that file"
	sandbox debian12 none
	echo cudnn9-cuda-12 >"$GCLOUD_GPU_RELEASE/cudnn-from-repo"
	GG_ALLOW_NO_GPU=1 assert "CPU-only: skipped" step 30-cudnn check
}

item9() {
	t "9: CPU-only: the GPU steps skipped, saying why, nvidia.github.io never asked"
	sandbox debian12 none
	touch "$GCLOUD_GPU_RELEASE/allow-no-gpu"
	FAKE_UNREACHABLE="nvidia.github.io developer.download.nvidia.com download.docker.com" run_recipe ||
		fail "CPU-only run failed at $(cat "$SB/failed")"
	local s
	for s in 15-kernel 20-nvidia-driver 50-container-toolkit; do
		assert "$s skipped" grep -qx "$s" "$SB/skipped"
	done
	assert "saying why" [ "$(grep -c 'no NVIDIA GPU (CPU-only dry run): nothing to do for the GPU here, skipped' "$SB/out")" -ge 3 ]
	refute "nvidia.github.io not asked" log_has 'nvidia\.github\.io'
	assert "docker.io from Debian" log_has '^apt-get .* install docker\.io$'
	assert "verify passed" grep -qx 80-verify "$SB/skipped"
}

item10() {
	t "10: a hung apt-get is stopped at its time limit, naming what ran"
	sandbox ubuntu2204 t4
	local rc=0
	GG_LIMIT_APT=2 FAKE_HANG=apt-get step 15-kernel apply || rc=$?
	assert "fails" [ "$rc" = 1 ]
	assert "first error names it" [ "$(first_error)" = "15-kernel: error: apt-get update did not finish within 2 s (its time limit), so it was stopped: push again to retry (a slow mirror or a held dpkg lock), or see the log above" ]
	assert "the limit was stated when it started" out_has "15-kernel: apt-get update (time limit 2 s)"

	t "10: a long operation shows a heartbeat"
	sandbox ubuntu2204 t4
	GG_HEARTBEAT=1 FAKE_SLOW=apt-get step 15-kernel apply || fail "15-kernel failed"
	assert "heartbeat" out_has "15-kernel: still running: apt-get update ("
	assert "the limit stated" out_has "limit 60 min)"

	t "10: docker pull and build, dkms run under limits"
	sandbox ubuntu2204 t4
	run_recipe || fail "recipe failed at $(cat "$SB/failed")"
	assert "pull" out_has "60-image: docker pull tensorflow/tensorflow:2.19.0-gpu-jupyter (time limit 60 min)"
	assert "build" grep -qE '^60-image: docker build of gcloud-gpu-jupyter:[0-9a-f]{16} \(time limit 60 min\)$' "$SB/out"
	assert "dkms" out_has "20-nvidia-driver: dkms autoinstall -k 6.8.0-1015-gcp (time limit 30 min)"
}

for n in ${RECIPE_CASES:-1 2 3 4 5 6 7 8 9 10}; do "item$n"; done
done_testing
