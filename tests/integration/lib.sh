# shellcheck shell=bash
# tests/integration/lib.sh: the harness every behaviour test sources.
#
#   . "$GG_SOURCE_DIR/tests/integration/lib.sh"
#   test_expect_success 'what it shows' '
#       command && other command
#   '
#   test_done
#
# Each test script gets its own scratch directory ($TEST_DIR) and an EXIT trap that
# stops every process it registered with test_track_pid (by PID, never by name) and
# removes the scratch directory, also when the script fails or is interrupted.
#
# sshd_start runs a real OpenSSH sshd on 127.0.0.1 on a free port with its own host
# key, its own client key and authorized_keys and a private config, as root or as a
# normal user, and waits until it accepts connections.  It exports:
#   SSHD_PORT SSHD_USER SSHD_DIR SSHD_PID
#   SSHD_CLIENT_KEY       private key authorized on that sshd
#   SSHD_KNOWN_HOSTS      known_hosts file holding the host key for [127.0.0.1]:PORT
#   SSHD_SSH_CONFIG       an ssh_config for OpenSSH's ssh/scp: ssh -F "$SSHD_SSH_CONFIG" gg-test
# Extra sshd_config lines can be passed in SSHD_EXTRA_CONFIG before sshd_start.

set -u

: "${GG_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${GG_BUILD_DIR:=$GG_SOURCE_DIR/build}"
export GG_SOURCE_DIR GG_BUILD_DIR
GG_CLI="$GG_BUILD_DIR/plugin/gcloud-gpu"
# The CLI's test-only hooks (GCLOUD_GPU_REMOTE_*) work only with this set.
GCLOUD_GPU_TEST_HOOKS=1
export GCLOUD_GPU_TEST_HOOKS
GG_HELPER="$GG_BUILD_DIR/helper/gcloud-gpu-helper"
export GG_CLI GG_HELPER

TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gg-$TEST_NAME.XXXXXX")
export TEST_DIR
test_pids=()
test_count=0
test_failures=0

test_track_pid() {
	test_pids+=("$1")
}

# Stop a tracked process: TERM, a short wait, then KILL.
test_stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

test_cleanup() {
	local pid
	for pid in "${test_pids[@]}"; do
		test_stop_pid "$pid"
	done
	if [ -n "${GG_KEEP_TEST_DIR:-}" ]; then
		echo "# kept $TEST_DIR"
	else
		rm -rf "$TEST_DIR"
	fi
}
trap test_cleanup EXIT
trap 'exit 130' INT TERM

say() {
	printf '# %s\n' "$*"
}

# test_expect_success DESCRIPTION BODY: run BODY in this shell, as git's tests do, so
# that harness state it changes (a restarted sshd's PID) stays tracked.  Chain the
# commands of a body with && : its status is the status of the chain.
# A body runs inside a function of its own: a `return 1` in it (a loop's `|| return 1`)
# ends the body as a failure, where a bare eval here would return from
# test_expect_success itself, and the case would be neither ok nor not ok.
test_run_body() {
	eval "$1"
}

test_expect_success() {
	local description=$1 body=$2 rc
	test_count=$((test_count + 1))
	test_run_body "$body" >"$TEST_DIR/test-$test_count.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok $test_count - $description"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $description (exit $rc)"
		sed 's/^/#   /' "$TEST_DIR/test-$test_count.out"
	fi
}

test_done() {
	echo "1..$test_count"
	if [ "$test_failures" -ne 0 ]; then
		echo "# failed $test_failures of $test_count"
		exit 1
	fi
	exit 0
}

# Assertions that say what they expected.
test_cmp() {
	diff -u "$1" "$2"
}
test_grep() {
	grep -q -e "$1" "$2" || { echo "expected '$1' in $2:"; cat "$2"; return 1; }
}
# test_expect_code CODE CMD...: CMD must exit with exactly CODE.
test_expect_code() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	[ "$rc" -eq "$want" ] || { echo "expected exit $want, got $rc: $*"; return 1; }
}

test_must_fail() {
	if "$@"; then
		echo "expected failure: $*"
		return 1
	fi
	return 0
}

# A free TCP port on 127.0.0.1 (the kernel picks; a race with another binder is
# handled by the callers retrying).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until something accepts on 127.0.0.1:$1, up to $2 tenths of a second.
wait_for_port() {
	local port=$1 tries=${2:-100}
	while [ "$tries" -gt 0 ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

sshd_start() {
	local dir="$TEST_DIR/sshd" sshd_bin
	sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$sshd_bin" ] || { echo "sshd not found: run tools/deps"; return 1; }
	mkdir -p "$dir"
	chmod 700 "$dir"
	SSHD_DIR=$dir
	SSHD_USER=$(id -un)
	if [ ! -f "$dir/host_ed25519" ]; then
		ssh-keygen -q -t ed25519 -N '' -C gg-test-host -f "$dir/host_ed25519"
		ssh-keygen -q -t ed25519 -N '' -C gg-test-client -f "$dir/client_ed25519"
		cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
		chmod 600 "$dir/authorized_keys"
	fi
	# sshd running as root insists on its privilege separation directory.
	if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	for _ in 1 2 3 4 5; do
		SSHD_PORT=$(free_port)
		cat >"$dir/sshd_config" <<CONFIG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $SSHD_USER
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
${SSHD_EXTRA_CONFIG:-}
CONFIG
		"$sshd_bin" -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
		SSHD_PID=$!
		if wait_for_port "$SSHD_PORT" 50 && kill -0 "$SSHD_PID" 2>/dev/null; then
			break
		fi
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
	done
	[ -n "$SSHD_PID" ] || { echo "sshd did not start:"; cat "$dir/sshd.log"; return 1; }
	test_track_pid "$SSHD_PID"
	SSHD_CLIENT_KEY=$dir/client_ed25519
	SSHD_KNOWN_HOSTS=$dir/known_hosts
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >"$SSHD_KNOWN_HOSTS"
	SSHD_SSH_CONFIG=$dir/ssh_config
	cat >"$SSHD_SSH_CONFIG" <<CONFIG
Host gg-test
  HostName 127.0.0.1
  Port $SSHD_PORT
  User $SSHD_USER
  IdentityFile $SSHD_CLIENT_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $SSHD_KNOWN_HOSTS
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
CONFIG
	export SSHD_PORT SSHD_USER SSHD_DIR SSHD_PID SSHD_CLIENT_KEY SSHD_KNOWN_HOSTS SSHD_SSH_CONFIG
}

# Stop the harness sshd by its PID and wait until the port is free.
sshd_stop() {
	[ -n "${SSHD_PID:-}" ] || return 0
	test_stop_pid "$SSHD_PID"
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=
}

# Restart on the same port with the same keys (a VM coming back).
sshd_restart() {
	local port=$SSHD_PORT sshd_bin
	sshd_stop
	sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
	"$sshd_bin" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	test_track_pid "$SSHD_PID"
	wait_for_port "$port" 100 || { echo "sshd did not come back:"; cat "$SSHD_DIR/sshd.log"; return 1; }
	export SSHD_PID
}
