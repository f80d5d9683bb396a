# shellcheck shell=bash
# tests/vm/lib-vm.sh: a real Debian 12 VM for the tests, booted with systemd-nspawn.
# Source it after tests/integration/lib.sh (it uses TEST_DIR and test_track_pid):
#
#   . "$GG_SOURCE_DIR/tests/integration/lib.sh"
#   . "$GG_SOURCE_DIR/tests/vm/lib-vm.sh"
#   vm_start                      # or the test fails: "vm: cannot run a VM here: WHY"
#   vm_ssh 'systemctl is-system-running --wait'
#
# What is real: a Debian 12 tree from debootstrap (systemd as PID 1, sshd, apt reaching
# the mirror this machine's apt uses), its own network namespace, its own cgroups, its
# own boot id per boot, real reboots and power-offs.  What is not: its kernel (the
# host's, as in any container) and a GPU.  docs/TESTING.md says more.
#
# Functions (each returns non-zero with a line on stderr when it fails):
#   vm_require              fail the test, one line "vm: cannot run a VM here: WHY",
#                           when debootstrap, nspawn, slirp4netns, overlayfs or root is
#                           missing (vm_start calls it; a VM test never skips)
#   vm_image [KIND]         build once and cache the VM's tree of KIND (root by
#                           default; the key is a hash of KIND, the mirror and
#                           tests/vm/vm-image.sh), under a lock; prints its path, and a
#                           progress line on stderr when it has to build
#   vm_base_image           the same for the minbase tarball tests `docker import`
#                           inside the VM; prints its path
#   vm_start [KIND]         a fresh VM (an overlay over the cached tree of KIND: root,
#                           the default, or jupyter: root with Debian's Jupyter
#                           Notebook installed), booted and answering SSH; exports
#                             VM_DIR         its directory (upper layer, logs, keys)
#                             VM_PORT        the host's 127.0.0.1 port forwarded to its sshd
#                             VM_KEY         client key for root and for "gg"
#                             VM_KNOWN_HOSTS known_hosts for [127.0.0.1]:VM_PORT
#                             VM_SSH_CONFIG  ssh_config: ssh -F "$VM_SSH_CONFIG" vm|vm-gg
#                             VM_USER_SUDO   gg (a user with passwordless sudo)
#   vm_ssh CMD...           run CMD as root in the VM (OpenSSH client); vm_ssh_as USER CMD...
#   vm_wait_ssh [SECONDS]   wait until its sshd answers (default 180 s)
#   vm_boot_id              print the VM's current boot id
#   vm_reboot               `systemctl reboot` in the VM, wait for a new boot id
#   vm_poweroff             `systemctl poweroff`, wait until nspawn exited 0
#   vm_boot                 boot a powered-off VM again (same disk: the upper layer)
#   vm_forward PORT [HOST]  forward a host loopback port (HOST if free, else a new one)
#                           to the VM's PORT; prints it
#   vm_stop                 stop everything by PID (also run by the EXIT trap)
#   vm_boots                how many times nspawn has started this VM since vm_boot
#   vm_cli_env              a private HOME and XDG dirs for gcloud-gpu, the helper of
#                           this build (GCLOUD_GPU_HELPER), no agent
#   vm_target [USER]        VM_TARGET=(--ssh USER@127.0.0.1:VM_PORT -i ... --known-hosts
#                           ...) for gcloud-gpu; USER root (default) or gg
#   vm_journal_unit UNIT    the VM's journal of UNIT since this boot
#   vm_docker_base_image NAME  the stand-in for a registry: once Docker runs in the VM
#                           (installed by the recipe), the cached minbase tree is
#                           `docker import`ed as NAME, before `systemctl start docker`
#                           returns (an ExecStartPost drop-in).  Needs the VM started
#                           with vm_start_with_base.
#   vm_browse URL OUT       headless Chromium loads URL (its scripts run) with a fresh
#                           profile (no cookie of an earlier visit) and writes the DOM it
#                           ends with to OUT; in a PID namespace of its own, so that none
#                           of its helpers (crashpad) outlives it
#   vm_start_with_base      vm_start with the cached minbase tarball bound read-only
#                           at /var/cache/gg-test/base.tar in the VM
#
# GG_VM_NSPAWN_EXTRA (read by vm_start): more systemd-nspawn options for this VM, kept
# for its later boots (vm_start_with_base uses it for the bind mount).
#
# Processes are stopped by PID (the EXIT trap calls vm_stop), the VM's own processes
# through the cgroup made for it.  A record in /run/gg-vm/ names the PIDs (with their
# start times) of every running VM; vm_start reaps those whose test is gone (killed
# with -9), checking each PID's start time before it sends a signal.

GG_VM_CACHE=${GG_VM_CACHE:-/var/cache/gcloud-gpu-tests}
GG_VM_RUN=/run/gg-vm
GG_VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_USER_SUDO=gg
vm_sup_pid=
vm_slirp_pid=
vm_lower=
vm_extra=
vm_cgroups=()

vm_die() {
	echo "vm: cannot run a VM here: $*" >&2
	return 1
}

vm_require() {
	[ "$(id -u)" -eq 0 ] || { vm_die "not root (nspawn, mounts and cgroups need it)"; return 1; }
	local tool
	for tool in debootstrap systemd-nspawn slirp4netns unshare ssh ssh-keygen python3 flock; do
		command -v "$tool" >/dev/null || { vm_die "'$tool' is missing (tools/deps installs it)"; return 1; }
	done
	grep -qw overlay /proc/filesystems || { vm_die "the kernel has no overlayfs"; return 1; }
	[ -c /dev/net/tun ] || { vm_die "/dev/net/tun is missing (slirp4netns needs it)"; return 1; }
	[ -d /sys/fs/cgroup ] || { vm_die "no /sys/fs/cgroup"; return 1; }
	vm_mirror >/dev/null || return 1
}

# The Debian mirror this machine's apt uses for bookworm main, read from its sources
# (one-line and deb822 formats); no host name is written in the tree.
vm_mirror() {
	local m
	m=$(python3 - /etc/apt/sources.list /etc/apt/sources.list.d/* <<'PY'
import sys, re
def one_line(text):
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        line = re.sub(r'\[[^]]*\]', ' ', line)
        f = line.split()
        if len(f) >= 4 and f[0] == 'deb':
            yield f[1], [f[2]], f[3:]
def deb822(text):
    for para in re.split(r'\n\s*\n', text):
        d = {}
        for line in para.splitlines():
            if line.startswith('#') or ':' not in line or line[:1].isspace():
                continue
            k, v = line.split(':', 1)
            d[k.strip().lower()] = v.split()
        if 'deb' in d.get('types', []) and d.get('enabled', ['yes'])[0] != 'no':
            for uri in d.get('uris', []):
                yield uri, d.get('suites', []), d.get('components', [])
for path in sys.argv[1:]:
    try:
        text = open(path).read()
    except OSError:
        continue
    entries = deb822(text) if path.endswith('.sources') else one_line(text) if path.endswith('.list') else []
    for uri, suites, comps in entries:
        if 'bookworm' in suites and 'main' in comps and re.match(r'(https?|file):', uri):
            print(uri.rstrip('/'))
            sys.exit(0)
sys.exit(1)
PY
	) || { vm_die "no Debian 12 (bookworm) main mirror in /etc/apt/sources.list*"; return 1; }
	printf '%s\n' "$m"
}

# _vm_cached KIND: build (once, under the cache's lock) and print the cached path of
# KIND (root and jupyter: a directory; base: a .tar).
_vm_cached() {
	local kind=$1 mirror key path
	mirror=$(vm_mirror) || return 1
	key=$( { printf '%s\n%s\n' "$kind" "$mirror"; cat "$GG_VM_LIB_DIR/vm-image.sh"; } | sha256sum | cut -c1-16)
	path=$GG_VM_CACHE/$kind-$key
	[ "$kind" = base ] && path=$path.tar
	mkdir -p "$GG_VM_CACHE" || { vm_die "cannot create $GG_VM_CACHE"; return 1; }
	if [ ! -e "$path" ]; then
		(
			flock 9
			if [ ! -e "$path" ]; then
				echo "vm: building the Debian 12 $kind tree once (debootstrap from $mirror; cached in $GG_VM_CACHE) ..." >&2
				"$GG_VM_LIB_DIR/vm-image.sh" "$kind" "$mirror" "${path%.tar}" ||
					{ vm_die "debootstrap of the $kind tree failed"; exit 1; }
			fi
		) 9>"$GG_VM_CACHE/lock" || return 1
	fi
	printf '%s\n' "$path"
}

vm_image() { _vm_cached "${1:-root}"; }
vm_base_image() { _vm_cached base; }

# The start time of PID (field 22 of /proc/PID/stat), empty when it is gone.
_vm_start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	# shellcheck disable=SC2086  # split the fields after the command name
	set -- $stat
	printf '%s\n' "${20}"
}

# _vm_kill_checked PID START: TERM then KILL PID, only while it is still the process
# that started at START.
_vm_kill_checked() {
	local pid=$1 start=$2
	[ -n "$pid" ] && [ -n "$start" ] || return 0
	[ "$(_vm_start_time "$pid")" = "$start" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		[ "$(_vm_start_time "$pid")" = "$start" ] || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# The cgroup hierarchies of this machine (v1 controllers, named ones and v2).
_vm_hierarchies() {
	awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

# _vm_cgroup_kill NAME: kill every process left in the VM's cgroup NAME (they can
# only be the VM's: the cgroup was made for it), then remove it, deepest first.
_vm_cgroup_kill() {
	local name=$1 h pid dir
	for h in $(_vm_hierarchies); do
		[ -d "$h/$name" ] || continue
		find "$h/$name" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for h in $(_vm_hierarchies); do
		[ -d "$h/$name" ] || continue
		for _ in $(seq 1 100); do
			[ -z "$(find "$h/$name" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
			sleep 0.1
		done
		find "$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
}

# Reap the VMs of tests that are gone (a killed ctest run): their records name the
# owner's PID and start time; a record whose owner no longer runs is stale.
_vm_reap() {
	local rec owner owner_start sup sup_start slirp slirp_start cg dir
	mkdir -p "$GG_VM_RUN"
	for rec in "$GG_VM_RUN"/*; do
		[ -f "$rec" ] || continue
		read -r owner owner_start sup sup_start slirp slirp_start cg dir <"$rec" || continue
		[ "$(_vm_start_time "$owner")" = "$owner_start" ] && continue
		_vm_kill_checked "$sup" "$sup_start"
		_vm_kill_checked "$slirp" "$slirp_start"
		_vm_cgroup_kill "$cg"
		case $dir in /tmp/gg-*) rm -rf "$dir" ;; esac
		rm -f "$rec"
	done
}

# Make the VM's cgroup in every hierarchy (cpuset needs its cpus and mems first).
_vm_cgroup_make() {
	local name=$1 h
	vm_cgroups=()
	for h in $(_vm_hierarchies); do
		mkdir -p "$h/$name" || { vm_die "cannot create cgroup $h/$name"; return 1; }
		if [ -f "$h/$name/cpuset.cpus" ]; then
			cat "$h/cpuset.cpus" >"$h/$name/cpuset.cpus"
			cat "$h/cpuset.mems" >"$h/$name/cpuset.mems"
		fi
		vm_cgroups+=("$h/$name")
	done
}

# A free loopback port, asked of the kernel.
_vm_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# _vm_slirp_api JSON: one request to the slirp4netns API socket; prints the reply.
_vm_slirp_api() {
	python3 - "$VM_DIR/slirp.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
print(s.recv(65536).decode())
PY
}

# vm_forward GUEST_PORT [HOST_PORT]: a 127.0.0.1 port of the host (HOST_PORT when it
# is free, else a new one) forwarded to the VM's GUEST_PORT; prints the host port.
vm_forward() {
	local guest=$1 port reply try
	for try in 1 2 3 4 5; do
		# The port it had before a power-off first: a target keeps its name.
		if [ "$try" = 1 ] && [ -n "${2:-}" ]; then
			port=$2
		else
			port=$(_vm_free_port)
		fi
		reply=$(_vm_slirp_api "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$port,\"guest_port\":$guest}}") || continue
		case $reply in *'"return"'*'"id"'*) printf '%s\n' "$port"; return 0 ;; esac
	done
	echo "vm: cannot forward a loopback port to the VM's port $guest: $reply" >&2
	return 1
}

_vm_keys() {
	local up=$VM_DIR/upper
	ssh-keygen -q -t ed25519 -N '' -C gg-vm-client -f "$VM_DIR/client_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C gg-vm-host -f "$VM_DIR/host_ed25519"
	mkdir -p "$up/etc/ssh" "$up/root/.ssh" "$up/home/gg/.ssh"
	install -m 600 "$VM_DIR/host_ed25519" "$up/etc/ssh/ssh_host_ed25519_key"
	install -m 644 "$VM_DIR/host_ed25519.pub" "$up/etc/ssh/ssh_host_ed25519_key.pub"
	chmod 700 "$up/root/.ssh"
	install -m 600 "$VM_DIR/client_ed25519.pub" "$up/root/.ssh/authorized_keys"
	# gg's uid and gid in the tree (useradd picked them; 1000 on a fresh tree).
	local ids
	ids=$(awk -F: '$1 == "gg" { print $3 ":" $4 }' "$1/etc/passwd")
	install -m 600 "$VM_DIR/client_ed25519.pub" "$up/home/gg/.ssh/authorized_keys"
	chown -R "$ids" "$up/home/gg/.ssh"
	chmod 700 "$up/home/gg/.ssh"
	chown "$ids" "$up/home/gg"
	chmod 755 "$up/home/gg"
	VM_KEY=$VM_DIR/client_ed25519
}

_vm_ssh_files() {
	VM_KNOWN_HOSTS=$VM_DIR/known_hosts
	printf '[127.0.0.1]:%s %s\n' "$VM_PORT" "$(cut -d' ' -f1-2 "$VM_DIR/host_ed25519.pub")" >"$VM_KNOWN_HOSTS"
	VM_SSH_CONFIG=$VM_DIR/ssh_config
	local host user
	: >"$VM_SSH_CONFIG"
	for host in vm vm-gg; do
		user=root
		[ "$host" = vm-gg ] && user=gg
		cat >>"$VM_SSH_CONFIG" <<CONFIG
Host $host
  HostName 127.0.0.1
  Port $VM_PORT
  User $user
  IdentityFile $VM_KEY
  IdentitiesOnly yes
  UserKnownHostsFile $VM_KNOWN_HOSTS
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 20
  ServerAliveInterval 5
  ServerAliveCountMax 6
  LogLevel ERROR
CONFIG
	done
	export VM_DIR VM_PORT VM_KEY VM_KNOWN_HOSTS VM_SSH_CONFIG VM_USER_SUDO
}

vm_ssh() { ssh -F "$VM_SSH_CONFIG" vm "$@"; }
vm_ssh_as() {
	local user=$1 host=vm
	shift
	[ "$user" = root ] || host=vm-$user
	ssh -F "$VM_SSH_CONFIG" "$host" "$@"
}

# shellcheck disable=SC2120  # callers may pass a deadline
vm_wait_ssh() {
	local deadline=$((SECONDS + ${1:-180}))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if vm_ssh true 2>/dev/null; then
			return 0
		fi
		if [ -n "$vm_sup_pid" ] && ! kill -0 "$vm_sup_pid" 2>/dev/null; then
			vm_die "systemd-nspawn stopped while booting it (its console follows)"
			tail -n 30 "$VM_DIR/console.log" "$VM_DIR/supervisor.log" >&2
			return 1
		fi
		sleep 0.5
	done
	vm_die "its sshd did not answer within ${1:-180} s of the boot (its console follows)"
	tail -n 30 "$VM_DIR/console.log" >&2
	return 1
}

vm_boot_id() { vm_ssh cat /proc/sys/kernel/random/boot_id; }
vm_boots() { cat "$VM_DIR/boots"; }

# Start the supervisor in the VM's cgroups and namespaces, attach slirp4netns, forward
# sshd, record the PIDs for the reaper and wait for SSH.
vm_boot() {
	local root=${1:-$vm_lower} cg=gg-vm-${VM_DIR##*.}
	_vm_cgroup_make "$cg" || return 1
	rm -f "$VM_DIR/exit"
	(
		for h in "${vm_cgroups[@]}"; do
			echo "$BASHPID" >"$h/cgroup.procs"
		done
		export GG_VM_NSPAWN_EXTRA=$vm_extra
		exec unshare --net --mount --propagation private -- \
			"$GG_VM_LIB_DIR/nspawn-boot.sh" "$VM_DIR" "$root"
	) </dev/null >>"$VM_DIR/supervisor.log" 2>&1 &
	vm_sup_pid=$!
	test_track_pid "$vm_sup_pid"
	# slirp4netns joins the supervisor's network namespace: wait until it has one.
	for _ in $(seq 1 300); do
		[ "$(readlink "/proc/$vm_sup_pid/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.1
	done
	[ "$(readlink "/proc/$vm_sup_pid/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] ||
		{ cat "$VM_DIR/supervisor.log" >&2; vm_die "the VM's network namespace was not made"; return 1; }
	# Outside the VM's cgroups: slirp4netns belongs to the host side.
	slirp4netns --configure --mtu=65520 --disable-host-loopback \
		--api-socket "$VM_DIR/slirp.sock" "$vm_sup_pid" tap0 \
		</dev/null >>"$VM_DIR/slirp.log" 2>&1 &
	vm_slirp_pid=$!
	test_track_pid "$vm_slirp_pid"
	printf '%s %s %s %s %s %s %s %s\n' "$$" "$(_vm_start_time $$)" \
		"$vm_sup_pid" "$(_vm_start_time "$vm_sup_pid")" \
		"$vm_slirp_pid" "$(_vm_start_time "$vm_slirp_pid")" "$cg" "$TEST_DIR" \
		>"$GG_VM_RUN/$cg"
	for _ in $(seq 1 300); do
		[ -S "$VM_DIR/slirp.sock" ] && break
		kill -0 "$vm_slirp_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$VM_DIR/slirp.sock" ] || { cat "$VM_DIR/slirp.log" >&2; vm_die "slirp4netns did not start"; return 1; }
	VM_PORT=$(vm_forward 22 "${VM_PORT:-}") || return 1
	_vm_ssh_files
	vm_wait_ssh
}

# shellcheck disable=SC2120 # KIND is optional; t0010 passes it
vm_start() {
	local root
	vm_require || return 1
	mkdir -p "$GG_VM_RUN"
	_vm_reap
	root=$(vm_image "${1:-root}") || return 1
	VM_DIR=$(mktemp -d "$TEST_DIR/vm.XXXXXX")
	VM_PORT=
	vm_lower=$root
	vm_extra=${GG_VM_NSPAWN_EXTRA:-}
	mkdir -p "$VM_DIR/upper"
	_vm_keys "$root" || return 1
	trap 'vm_stop; test_cleanup' EXIT
	vm_boot "$root"
}

vm_start_with_base() {
	local base
	vm_require || return 1
	base=$(vm_base_image) || return 1
	GG_VM_NSPAWN_EXTRA="--bind-ro=$base:/var/cache/gg-test/base.tar" vm_start
}

vm_docker_base_image() {
	vm_ssh "mkdir -p /etc/systemd/system/docker.service.d && cat >/etc/systemd/system/docker.service.d/gg-test-base.conf" <<CONF
# Written by the gcloud-gpu VM tests (tests/vm/lib-vm.sh): the stand-in for pulling
# the Dockerfile's base image from a registry, which this test machine cannot reach.
[Service]
ExecStartPost=/bin/sh -c 'docker image inspect $1 >/dev/null 2>&1 || docker import /var/cache/gg-test/base.tar $1'
CONF
}

# vm_reboot: reboot from inside and wait for the VM to answer with a new boot id.
vm_reboot() {
	local before after deadline=$((SECONDS + 240))
	before=$(vm_boot_id) || return 1
	vm_ssh 'systemctl reboot' 2>/dev/null || true
	while [ "$SECONDS" -lt "$deadline" ]; do
		after=$(vm_boot_id 2>/dev/null) || after=
		if [ -n "$after" ] && [ "$after" != "$before" ]; then
			return 0
		fi
		sleep 0.5
	done
	echo "vm: no new boot id within 240 s of the reboot" >&2
	return 1
}

# vm_wait_down [SECONDS]: wait until the supervisor ended (a power-off); its status 0.
# shellcheck disable=SC2120  # callers may pass a deadline
vm_wait_down() {
	local deadline=$((SECONDS + ${1:-180}))
	while kill -0 "$vm_sup_pid" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || { echo "vm: still running ${1:-180} s after power-off" >&2; return 1; }
		sleep 0.2
	done
	wait "$vm_sup_pid" 2>/dev/null || true
	_vm_stop_net
	[ "$(cat "$VM_DIR/exit" 2>/dev/null)" = 0 ] ||
		{ echo "vm: nspawn ended with status '$(cat "$VM_DIR/exit" 2>/dev/null)', not a power-off" >&2; return 1; }
}

vm_poweroff() {
	vm_ssh 'systemctl poweroff' 2>/dev/null || true
	vm_wait_down
}

_vm_stop_net() {
	_vm_kill_checked "$vm_slirp_pid" "$(_vm_start_time "$vm_slirp_pid")"
	vm_slirp_pid=
	rm -f "$VM_DIR/slirp.sock"
}

# vm_stop: stop the VM (nspawn's TERM powers it off; KILL after a deadline), slirp4netns,
# whatever is left in its cgroups, and remove its record.  Safe to call twice.
vm_stop() {
	[ -n "${VM_DIR:-}" ] || return 0
	local cg=gg-vm-${VM_DIR##*.}
	if [ -n "$vm_sup_pid" ] && kill -0 "$vm_sup_pid" 2>/dev/null; then
		# The supervisor passes TERM to nspawn: an orderly halt, KILL after 30 s.
		kill -TERM "$vm_sup_pid" 2>/dev/null || true
		for _ in $(seq 1 300); do
			kill -0 "$vm_sup_pid" 2>/dev/null || break
			sleep 0.1
		done
		test_stop_pid "$vm_sup_pid"
	fi
	vm_sup_pid=
	[ -n "$vm_slirp_pid" ] && _vm_stop_net
	_vm_cgroup_kill "$cg"
	rm -f "$GG_VM_RUN/$cg"
}

vm_cli_env() {
	HOME=$TEST_DIR/home
	XDG_CACHE_HOME=$HOME/.cache
	XDG_STATE_HOME=$HOME/.local/state
	mkdir -p "$HOME"
	GCLOUD_GPU_HELPER=$GG_HELPER
	export HOME XDG_CACHE_HOME XDG_STATE_HOME GCLOUD_GPU_HELPER
	unset SSH_AUTH_SOCK GCLOUD_GPU_REMOTE_ROOT GCLOUD_GPU_REMOTE_BOOT_ID_FILE
}

# shellcheck disable=SC2034  # VM_TARGET is for the tests that source this
vm_target() {
	VM_TARGET=(--ssh "${1:-root}@127.0.0.1:$VM_PORT" -i "$VM_KEY" --known-hosts "$VM_KNOWN_HOSTS"
		--connect-timeout 20)
}

vm_journal_unit() {
	vm_ssh "journalctl -b --no-pager -o cat -u '$1'"
}

vm_browse() {
	local url=$1 out=$2 profile
	profile=$(mktemp -d "$TEST_DIR/chromium.XXXXXX")
	HOME=$profile timeout 120 unshare --pid --fork --kill-child -- \
		chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-breakpad \
		--user-data-dir="$profile" --virtual-time-budget=10000 --dump-dom "$url" \
		>"$out" 2>"$out.err"
}
