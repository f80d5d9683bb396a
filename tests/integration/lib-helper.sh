# shellcheck shell=bash
# tests/integration/lib-helper.sh: driving gcloud-gpu-helper directly, as the CLI
# would over SSH, for the t1NNN helper tests.  Source it after lib.sh.
#
#   helper_env                     a private state root, boot id file and fake reboot
#   helper_manifest DIR >FILE      the canonical manifest of a payload directory
#   helper_blobs_tar DIR HAVE.json >FILE.tar
#                                  a tar of the blobs HAVE.json lists as missing,
#                                  named <sha256> (or <sha256>.<offset> to continue)
#   helper_push DIR                have + recv; prints the manifest sha256
#   helper_events_check FILE       seq 1.. without gaps or repeats, hello first
#   wait_until CMD...              poll until CMD succeeds (20 s at most)
#   strace_to FILE CALLS CMD...    CMD's system calls CALLS, into FILE

# The recipe the runner tests use (steps write what they did into $GG_TRACE).
export HELPER_RECIPE="$GG_SOURCE_DIR/tests/integration/recipes/basic"

helper_env() {
	export GCLOUD_GPU_ROOT="$TEST_DIR/root"
	export GCLOUD_GPU_BOOT_ID_FILE="$TEST_DIR/boot_id"
	export GCLOUD_GPU_REBOOT_COMMAND="echo rebooted >>$TEST_DIR/reboots"
	export GG_TRACE="$TEST_DIR/trace"
	echo boot-1 >"$GCLOUD_GPU_BOOT_ID_FILE"
}

helper_manifest() {
	python3 - "$1" <<'PY'
import hashlib, json, os, stat, sys
top = sys.argv[1]
files = []
for base, dirs, names in os.walk(top):
    for n in names:
        p = os.path.join(base, n)
        data = open(p, 'rb').read()
        mode = 0o755 if os.stat(p).st_mode & 0o111 else 0o644
        files.append({"mode": mode, "path": os.path.relpath(p, top),
                      "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
files.sort(key=lambda f: f["path"])
sys.stdout.write(json.dumps({"files": files, "format": 1}, separators=(',', ':'), sort_keys=True))
PY
}

helper_blobs_tar() {
	python3 - "$1" "$2" <<'PY'
import hashlib, io, json, os, sys, tarfile
top, have = sys.argv[1], json.load(open(sys.argv[2]))
by_sha = {}
for base, dirs, names in os.walk(top):
    for n in names:
        p = os.path.join(base, n)
        by_sha[hashlib.sha256(open(p, 'rb').read()).hexdigest()] = p
with tarfile.open(fileobj=sys.stdout.buffer, mode='w|', format=tarfile.PAX_FORMAT) as tar:
    for m in have["missing"]:
        f = open(by_sha[m["sha256"]], 'rb')
        f.seek(m["offset"])
        info = tarfile.TarInfo(m["sha256"] + ("." + str(m["offset"]) if m["offset"] else ""))
        info.size = m["size"] - m["offset"]
        tar.addfile(info, f)
PY
}

helper_push() {
	local dir=$1
	helper_manifest "$dir" >"$TEST_DIR/manifest.json" &&
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" >"$TEST_DIR/have.json" &&
	helper_blobs_tar "$dir" "$TEST_DIR/have.json" | zstd -q -c | "$GG_HELPER" recv >"$TEST_DIR/recv.json" &&
	jq -r .manifest "$TEST_DIR/have.json"
}

helper_events_check() {
	python3 - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and lines[0]["type"] == "hello" and lines[0]["seq"] == 0, "hello first"
seqs = [l["seq"] for l in lines[1:]]
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gaps or repeats: %s" % seqs
PY
}

# wait_until CMD...: wait (up to 20 s) until CMD succeeds: a condition, never a fixed
# pause, which a loaded machine makes too short.
wait_until() {
	local _
	for _ in $(seq 400); do
		"$@" && return 0
		sleep 0.05
	done
	echo "timed out waiting for: $*"
	return 1
}

# strace_to FILE CALLS CMD...: run CMD under strace -f, the calls named in CALLS (a
# comma list) written to FILE.  LeakSanitizer cannot run under ptrace: in the
# sanitizer build the leak check is off for that one run.
strace_to() {
	local out=$1 calls=$2
	shift 2
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace="$calls" -o "$out" "$@"
}
