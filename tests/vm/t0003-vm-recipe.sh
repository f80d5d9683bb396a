#!/usr/bin/env bash
# t0003: the shipped recipe (payloads/) for real, CPU-only, on a Debian 12 VM.  Only the
# Dockerfile is swapped (tests/vm/jupyter/Dockerfile: Debian's Jupyter FROM a base
# image `docker import`ed in the VM; there is no registry here) and the payload allows
# a machine without a GPU (the file allow-no-gpu).  Everything else is the recipe's own
# doing: Docker installed by 40-docker (download.docker.com is unreachable here, so its
# fallback to Debian's docker.io runs), the image built by 60-image, the container run
# by 70-jupyter with its restart policy, 80-verify.  Then, from outside: the tunnel and
# headless Chromium, a reboot by hand, a power-off and boot, and the same push again.
. "${GG_SOURCE_DIR:-.}/tests/integration/lib.sh"
. "$GG_SOURCE_DIR/tests/vm/lib-vm.sh"

vm_start_with_base || exit 1
vm_cli_env
vm_docker_base_image gg-base:bookworm || exit 1

RECIPE=$TEST_DIR/recipe
cp -a "$GG_SOURCE_DIR/payloads" "$RECIPE"
cp "$GG_SOURCE_DIR/tests/vm/jupyter/Dockerfile" "$RECIPE/Dockerfile"
: >"$RECIPE/allow-no-gpu"

gg_push() {
	local out=$1
	shift
	"$GG_CLI" push "$@" --payload "$RECIPE" >"$out" 2>&1 || { echo "push failed:"; cat "$out"; return 1; }
}

# jupyter_back: the container runs again by itself and Jupyter answers with the token.
jupyter_back() {
	local deadline=$((SECONDS + 180))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if vm_ssh 'curl -sf -o /dev/null -H "Authorization: token $(cat /var/lib/gcloud-gpu/jupyter-token)" http://127.0.0.1:8888/api/status' 2>/dev/null; then
			return 0
		fi
		sleep 1
	done
	echo "Jupyter did not come back by itself within 180 s:"
	vm_ssh 'docker ps -a; docker inspect --format "{{.HostConfig.RestartPolicy.Name}}" gcloud-gpu-jupyter'
	return 1
}

# reattached N: reattach ends 0 after the restart, its plan's checks all hold (80-verify's
# is Jupyter answering with the token and refusing without), and status says it answers.
reattached() {
	"$GG_CLI" reattach "${VM_TARGET[@]}" >"$TEST_DIR/reattach$1.out" 2>&1 ||
		{ echo "reattach failed:"; cat "$TEST_DIR/reattach$1.out"; return 1; }
	test_grep "restarted since the last event seen here" "$TEST_DIR/reattach$1.out" &&
	test_grep "^\[80-verify\] skipped" "$TEST_DIR/reattach$1.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/reattach$1.out" &&
	"$GG_CLI" status "${VM_TARGET[@]}" >"$TEST_DIR/status$1" 2>&1 &&
	test_grep "^jupyter  *answers" "$TEST_DIR/status$1"
}

# Tunnel: `gcloud-gpu tunnel --port 0` in the background; TUNNEL_URL is what it prints.
start_tunnel() {
	"$GG_CLI" tunnel "${VM_TARGET[@]}" --port 0 >"$TEST_DIR/tunnel.out" 2>&1 &
	TUNNEL_PID=$!
	test_track_pid "$TUNNEL_PID"
	for _ in $(seq 1 300); do
		TUNNEL_URL=$(sed -n 's/^Jupyter on .*: \(http:[^ ]*\)$/\1/p' "$TEST_DIR/tunnel.out")
		[ -n "$TUNNEL_URL" ] && grep -q '^forwarding' "$TEST_DIR/tunnel.out" && return 0
		kill -0 "$TUNNEL_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "the tunnel printed no URL:"
	cat "$TEST_DIR/tunnel.out"
	return 1
}

test_expect_success 'push: the shipped recipe ends done, CPU-only, Docker from the recipe itself' '
	vm_target root &&
	gg_push "$TEST_DIR/push1.out" "${VM_TARGET[@]}" --accept-new-host-key &&
	test_grep "^done: the plan finished" "$TEST_DIR/push1.out" &&
	test_grep "cannot reach download.docker.com: trying the distribution.s docker.io" "$TEST_DIR/push1.out" &&
	vm_ssh "dpkg-query -W -f=\"\\\${Status}\" docker.io" | grep -q "install ok installed" &&
	test_grep "^\[80-verify\] done" "$TEST_DIR/push1.out"
'

test_expect_success 'the GPU steps are skipped, saying why' '
	grep -A1 "^\[20-nvidia-driver\] 20-nvidia-driver: no NVIDIA GPU (CPU-only dry run)" "$TEST_DIR/push1.out" |
		grep -q "^\[20-nvidia-driver\] skipped" &&
	grep -A1 "^\[50-container-toolkit\] 50-container-toolkit: no NVIDIA GPU (CPU-only dry run)" "$TEST_DIR/push1.out" |
		grep -q "^\[50-container-toolkit\] skipped" || { grep "^\[[25]0-" "$TEST_DIR/push1.out"; false; }
'

test_expect_success 'the container runs with its restart policy, on loopback only, and status says Jupyter answers' '
	vm_ssh "docker inspect --format \"{{.State.Running}} {{.HostConfig.RestartPolicy.Name}}\" gcloud-gpu-jupyter" >"$TEST_DIR/inspect" &&
	test_grep "^true unless-stopped$" "$TEST_DIR/inspect" &&
	[ "$(vm_ssh docker port gcloud-gpu-jupyter 8888/tcp)" = 127.0.0.1:8888 ] &&
	"$GG_CLI" status "${VM_TARGET[@]}" >"$TEST_DIR/status" 2>&1 &&
	test_grep "^plan  *done" "$TEST_DIR/status" &&
	test_grep "^jupyter  *answers" "$TEST_DIR/status"
'

test_expect_success 'through the tunnel, Chromium shows the notebook list with the token, the login page without' '
	vm_ssh "printf %s \"{\\\"cells\\\": [], \\\"metadata\\\": {}, \\\"nbformat\\\": 4, \\\"nbformat_minor\\\": 5}\" >/srv/gcloud-gpu/notebooks/gg-hello.ipynb" &&
	start_tunnel &&
	vm_browse "$TUNNEL_URL" "$TEST_DIR/list.html" &&
	test_grep "notebook_list" "$TEST_DIR/list.html" &&
	test_grep "gg-hello.ipynb" "$TEST_DIR/list.html" &&
	vm_browse "${TUNNEL_URL%%\?*}" "$TEST_DIR/login.html" &&
	test_grep "login_form\|Password or token" "$TEST_DIR/login.html" &&
	! grep -q "gg-hello.ipynb" "$TEST_DIR/login.html" &&
	code=$(curl -s -o /dev/null -w "%{http_code}" "${TUNNEL_URL%%/\?*}/api/kernels") &&
	{ [ "$code" = 403 ] || { echo "/api/kernels without the token: HTTP $code"; false; }; }
'

test_expect_success 'a kernel started through the tunnel runs a cell: 1+1 gives 2 (websockets pass)' '
	timeout 180 python3 "$GG_SOURCE_DIR/tests/vm/kernel-run.py" "$TUNNEL_URL" >"$TEST_DIR/kernel.out" 2>&1 &&
	test_grep "^2$" "$TEST_DIR/kernel.out"
'

test_expect_success 'rebooted by hand: the container is back by itself, reattach ends 0, status says Jupyter answers' '
	test_stop_pid "$TUNNEL_PID" &&
	vm_reboot &&
	jupyter_back &&
	reattached 1
'

test_expect_success 'powered off, then booted: the container is back by itself, reattach ends 0, Jupyter answers' '
	vm_poweroff &&
	vm_boot &&
	vm_target root &&
	jupyter_back &&
	reattached 2
'

test_expect_success 'the same push again: every step skipped, no payload byte sent' '
	gg_push "$TEST_DIR/push2.out" "${VM_TARGET[@]}" &&
	test_grep "^sent 0 payload bytes" "$TEST_DIR/push2.out" &&
	[ "$(grep -c "^\[[0-9][0-9]-[a-z-]*\] skipped" "$TEST_DIR/push2.out")" = "$(ls "$RECIPE"/steps/[0-9][0-9]-*.sh | wc -l)" ] &&
	! grep "^\[[0-9][0-9]-[a-z-]*\] done" "$TEST_DIR/push2.out"
'

test_expect_success 'as the sudo user gg: the same push skips every step too' '
	vm_target gg &&
	gg_push "$TEST_DIR/push3.out" "${VM_TARGET[@]}" &&
	test_grep "^sent 0 payload bytes" "$TEST_DIR/push3.out" &&
	test_grep "^done: the plan finished" "$TEST_DIR/push3.out" &&
	! grep "^\[[0-9][0-9]-[a-z-]*\] done" "$TEST_DIR/push3.out"
'

test_done
