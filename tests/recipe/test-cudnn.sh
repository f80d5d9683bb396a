#!/usr/bin/env bash
# 30-cudnn: the user's .deb files from the payload's debs/, installed with apt
# (dependencies resolved); skipped when there are none; refused when not packages.
# shellcheck source-path=SCRIPTDIR source=harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

t "no .deb in debs/: check passes, the step is skipped, nothing runs"
sandbox ubuntu2204 t4
assert "check passes" step 30-cudnn check
refute "no apt-get" log_has "^apt-get"

t "cuDNN debs: installed by apt from their absolute paths, dependencies resolved"
sandbox ubuntu2204 t4
fake_deb "$GCLOUD_GPU_RELEASE/debs/libcudnn9-cuda-12_9.5.1.17-1_amd64.deb" libcudnn9-cuda-12 9.5.1.17-1
fake_deb "$GCLOUD_GPU_RELEASE/debs/libcudnn9-dev-cuda-12_9.5.1.17-1_amd64.deb" libcudnn9-dev-cuda-12 9.5.1.17-1 libfakedep
refute "check fails" step 30-cudnn check
step 30-cudnn apply || fail "apply failed"
assert "one apt-get install of both files" log_has "^apt-get .* install $GCLOUD_GPU_RELEASE/debs/libcudnn9-cuda-12_9\.5\.1\.17-1_amd64\.deb $GCLOUD_GPU_RELEASE/debs/libcudnn9-dev-cuda-12_9\.5\.1\.17-1_amd64\.deb$"
assert "lists updated first" before '^apt-get .* update$' '^apt-get .* install '
assert "installed at their versions" grep -qx 9.5.1.17-1 "$FAKE_STATE/pkgs/libcudnn9-dev-cuda-12"
assert "dependency installed" [ -e "$FAKE_STATE/pkgs/libfakedep" ]
assert "check passes" step 30-cudnn check
assert "progress" progress_ok

t "re-running apply installs nothing twice"
: >"$SB/calls"
step 30-cudnn apply || fail "apply failed"
refute "no apt-get" log_has "^apt-get"

t "a newer .deb of an installed package is installed"
rm "$GCLOUD_GPU_RELEASE/debs/libcudnn9-cuda-12_9.5.1.17-1_amd64.deb"
fake_deb "$GCLOUD_GPU_RELEASE/debs/libcudnn9-cuda-12_9.6.0.74-1_amd64.deb" libcudnn9-cuda-12 9.6.0.74-1
refute "check fails" step 30-cudnn check
step 30-cudnn apply || fail "apply failed"
assert "only the new one" log_has "install $GCLOUD_GPU_RELEASE/debs/libcudnn9-cuda-12_9\.6\.0\.74-1_amd64\.deb$"

t "a local-repository installer is refused, saying what to put there instead"
sandbox ubuntu2204 t4
fake_deb "$GCLOUD_GPU_RELEASE/debs/cudnn-local-repo-ubuntu2204-9.5.1_1.0-1_amd64.deb" cudnn-local-repo-ubuntu2204-9.5.1 1.0-1
rc=0
step 30-cudnn apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "is a local-repository installer (cudnn-local-repo-ubuntu2204-9.5.1), not a package"

t "a file that is not a package is refused"
sandbox ubuntu2204 t4
echo "<html>login required</html>" >"$GCLOUD_GPU_RELEASE/debs/libcudnn9.deb"
rc=0
step 30-cudnn apply || rc=$?
assert "fails" [ "$rc" = 1 ]
assert "says why" out_has "debs/libcudnn9.deb is not a Debian package"

t "payloads/debs/ never commits a .deb"
assert "debs/.gitignore ignores everything but itself and the README" \
	grep -qx '\*' "$GG_SOURCE_DIR/payloads/debs/.gitignore"

done_testing
