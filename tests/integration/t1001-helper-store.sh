#!/usr/bin/env bash
# The helper's store: blobs go in through have/recv only when they verify, releases
# are hard links to them, and a blob that stops matching is dropped and sent again; bad
# input, a full disk or an unwritable root give one error line and a non-zero exit
# and leave the store and the previous release as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"
helper_env
export GG_NO_REBOOT=1

# A fingerprint of everything under a directory (names, modes, contents), but the
# blobs' seals (what the helper knows of their inodes, not content).
tree_sum() {
	(cd "$1" && find . ! -name "*.seal" -printf '%p %m %s\n' | sort &&
		find . -type f ! -name "*.seal" -print0 | sort -z | xargs -0 sha256sum)
}

# A one-entry tar named $1 holding the bytes of file $2.
tar_entry() {
	python3 - "$1" "$2" <<'PY'
import sys, tarfile
with tarfile.open(fileobj=sys.stdout.buffer, mode='w|') as tar:
    tar.add(sys.argv[2], arcname=sys.argv[1])
PY
}

# Exactly one line on stderr, prefixed with the program's name.
one_error_line() {
	[ "$(wc -l <"$1")" -eq 1 ] && grep -q '^gcloud-gpu-helper: ' "$1"
}

test_expect_success 'have lists every blob once (two paths share one), recv stores them, have then lists none' '
	sha=$(helper_push "$HELPER_RECIPE") &&
	[ "$(jq ".missing | length" "$TEST_DIR/have.json")" -eq 5 ] &&
	[ "$(jq ".stored | length" "$TEST_DIR/recv.json")" -eq 5 ] &&
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" >"$TEST_DIR/have2.json" &&
	[ "$(jq ".missing | length" "$TEST_DIR/have2.json")" -eq 0 ] &&
	[ "$(jq -r .manifest "$TEST_DIR/have2.json")" = "$sha" ] &&
	test_cmp "$TEST_DIR/manifest.json" "$GCLOUD_GPU_ROOT/blobs/$sha"
'

test_expect_success 'the state root and its store are root-only' '
	[ "$(stat -c %a "$GCLOUD_GPU_ROOT")" = 700 ] &&
	[ -z "$(find "$GCLOUD_GPU_ROOT" -perm /077 ! -type l)" ]
'

test_expect_success 'apply lays out the release as hard links to the store: no copy' '
	"$GG_HELPER" apply "$sha" >"$TEST_DIR/apply.out" &&
	rel="$GCLOUD_GPU_ROOT/releases/$sha" &&
	test_cmp "$HELPER_RECIPE/README" "$rel/README" &&
	first=$(sha256sum "$rel/steps/10-first.sh" | cut -d" " -f1) &&
	[ "$(stat -c %i "$rel/steps/10-first.sh")" = "$(stat -c %i "$GCLOUD_GPU_ROOT/blobs/$first")" ] &&
	[ "$(stat -c %a "$rel/steps/10-first.sh")" = 755 ] &&
	[ "$(stat -c %a "$rel/README")" = 644 ] &&
	[ -s "$GCLOUD_GPU_ROOT/blobs/$first.seal" ] &&
	[ -s "$GCLOUD_GPU_ROOT/releases/$sha.done" ]
'

# Inode and ctime of the release, a directory in it and two files: any copy moves them.
# shellcheck disable=SC2154 # rel is set in the test bodies before this runs
rel_stat() {
	stat -c "%n %i %z" "$rel" "$rel/steps" "$rel/README" "$rel/steps/10-first.sh"
}

test_expect_success 'a second apply of the same manifest keeps the release: no copy' '
	rel_stat >"$TEST_DIR/rel.stat" &&
	cp "$GCLOUD_GPU_ROOT/releases/$sha.done" "$TEST_DIR/mark" &&
	"$GG_HELPER" apply "$sha" >"$TEST_DIR/apply.out" &&
	test_grep "\"done\"" "$TEST_DIR/apply.out" &&
	rel_stat | test_cmp "$TEST_DIR/rel.stat" - &&
	test_cmp "$TEST_DIR/mark" "$GCLOUD_GPU_ROOT/releases/$sha.done"
'

test_expect_success 'a release without its mark (a crash mid-layout) is laid out again' '
	rm "$GCLOUD_GPU_ROOT/releases/$sha.done" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	! rel_stat | cmp -s "$TEST_DIR/rel.stat" - &&
	[ -s "$GCLOUD_GPU_ROOT/releases/$sha.done" ] &&
	test_cmp "$HELPER_RECIPE/README" "$rel/README"
'

test_expect_success 'a release a step added a file to is laid out again' '
	echo "left by a step" >"$rel/steps/left-over" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	[ ! -e "$rel/steps/left-over" ] &&
	chmod 600 "$rel/steps/10-first.sh" && chmod 755 "$rel/steps/10-first.sh" &&
	rel_stat >"$TEST_DIR/rel.stat" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	! rel_stat | cmp -s "$TEST_DIR/rel.stat" -
'

test_expect_success 'a release file a step wrote to (so its blob) is refused, dropped, sent again' '
	echo "written by a step" >>"$rel/README" &&
	test_expect_code 3 "$GG_HELPER" apply "$sha" >/dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "is corrupt" "$TEST_DIR/err" &&
	helper_push "$HELPER_RECIPE" >/dev/null &&
	[ "$(jq ".missing | length" "$TEST_DIR/have.json")" -eq 1 ] &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	test_cmp "$HELPER_RECIPE/README" "$rel/README"
'
tree_sum "$GCLOUD_GPU_ROOT/releases" >"$TEST_DIR/releases.sum"

test_expect_success 'a manifest that is not canonical is refused' '
	jq . "$TEST_DIR/manifest.json" >"$TEST_DIR/pretty.json" &&
	test_expect_code 3 "$GG_HELPER" have <"$TEST_DIR/pretty.json" 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "canonical" "$TEST_DIR/err"
'

test_expect_success 'a blob whose content does not match its name is refused' '
	printf "not what the name says" >"$TEST_DIR/liar" &&
	name=$(printf "something else" | sha256sum | cut -d" " -f1) &&
	tar_entry "$name" "$TEST_DIR/liar" | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "refused: its content has sha256" "$TEST_DIR/err" &&
	[ ! -e "$GCLOUD_GPU_ROOT/blobs/$name" ] && [ ! -e "$GCLOUD_GPU_ROOT/blobs/$name.partial" ]
'

test_expect_success 'a corrupt stream is refused' '
	head -c 4096 /dev/urandom | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err"
'

test_expect_success 'a truncated stream keeps what arrived as a partial blob' '
	head -c 300000 /dev/urandom >"$TEST_DIR/big" &&
	name=$(sha256sum "$TEST_DIR/big" | cut -d" " -f1) &&
	tar_entry "$name" "$TEST_DIR/big" | head -c 150000 | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "kept for resume" "$TEST_DIR/err" &&
	[ ! -e "$GCLOUD_GPU_ROOT/blobs/$name" ] && [ -s "$GCLOUD_GPU_ROOT/blobs/$name.partial" ]
'

test_expect_success 'a resume from before the end of a partial cuts it back and verifies' '
	cp "$GCLOUD_GPU_ROOT/blobs/$name.partial" "$TEST_DIR/partial.keep" &&
	tail -c +1001 "$TEST_DIR/big" >"$TEST_DIR/rest" &&
	tar_entry "$name.1000" "$TEST_DIR/rest" | "$GG_HELPER" recv >"$TEST_DIR/recv.json" &&
	jq -e ".bytes == 299000" "$TEST_DIR/recv.json" &&
	cmp "$TEST_DIR/big" "$GCLOUD_GPU_ROOT/blobs/$name" &&
	rm "$GCLOUD_GPU_ROOT/blobs/$name" && mv "$TEST_DIR/partial.keep" "$GCLOUD_GPU_ROOT/blobs/$name.partial"
'

test_expect_success 'entries with other names or types are refused' '
	tar_entry "../escape" "$TEST_DIR/liar" | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "not named <sha256>" "$TEST_DIR/err" &&
	tar_entry "$name.299999" "$TEST_DIR/liar" | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	test_grep "ask .have. again" "$TEST_DIR/err"
'

test_expect_success 'apply of a manifest whose blob is missing is refused, release intact' '
	mkdir -p "$TEST_DIR/payload2/steps" &&
	cp "$HELPER_RECIPE/steps/10-first.sh" "$TEST_DIR/payload2/steps/" &&
	echo "only in payload2" >"$TEST_DIR/payload2/data" &&
	helper_manifest "$TEST_DIR/payload2" >"$TEST_DIR/m2.json" &&
	"$GG_HELPER" have <"$TEST_DIR/m2.json" >"$TEST_DIR/have-m2.json" &&
	sha2=$(jq -r .manifest "$TEST_DIR/have-m2.json") &&
	test_expect_code 3 "$GG_HELPER" apply "$sha2" >/dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "missing from the store" "$TEST_DIR/err" &&
	[ ! -e "$GCLOUD_GPU_ROOT/releases/$sha2" ] &&
	find "$GCLOUD_GPU_ROOT/releases" -mindepth 1 -maxdepth 1 -type d >"$TEST_DIR/releases.ls" &&
	[ "$(wc -l <"$TEST_DIR/releases.ls")" -eq 1 ]
'

test_expect_success 'apply of an unknown manifest is refused' '
	test_expect_code 3 "$GG_HELPER" apply "$(echo nothing | sha256sum | cut -d" " -f1)" 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "no manifest" "$TEST_DIR/err"
'

test_expect_success 'a blob damaged in the store is caught by apply and dropped' '
	readme=$(jq -r ".files[] | select(.path == \"README\") | .sha256" "$TEST_DIR/manifest.json") &&
	tree_sum "$GCLOUD_GPU_ROOT/blobs" >"$TEST_DIR/blobs.sum" &&
	cp "$GCLOUD_GPU_ROOT/blobs/$readme" "$TEST_DIR/readme.good" &&
	echo "tampered" >>"$GCLOUD_GPU_ROOT/blobs/$readme" &&
	test_expect_code 3 "$GG_HELPER" apply "$sha" >/dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "is corrupt" "$TEST_DIR/err" &&
	[ ! -e "$GCLOUD_GPU_ROOT/blobs/$readme" ] && [ ! -e "$GCLOUD_GPU_ROOT/blobs/$readme.seal" ] &&
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" | jq -e ".missing[0].sha256 == \"$readme\"" &&
	cp "$TEST_DIR/readme.good" "$GCLOUD_GPU_ROOT/blobs/$readme" &&
	tree_sum "$GCLOUD_GPU_ROOT/blobs" | test_cmp "$TEST_DIR/blobs.sum" - &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	test_cmp "$HELPER_RECIPE/README" "$rel/README"
'

test_expect_success 'a kept release does not read its blobs again (a garbage seal stays garbage)' '
	"$GG_HELPER" apply "$sha" >/dev/null &&
	rel_stat >"$TEST_DIR/rel.stat" &&
	echo garbage >"$GCLOUD_GPU_ROOT/blobs/$readme.seal" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	rel_stat | test_cmp "$TEST_DIR/rel.stat" - &&
	echo garbage | test_cmp - "$GCLOUD_GPU_ROOT/blobs/$readme.seal"
'

test_expect_success 'a blob without a matching seal is hashed again and sealed by the next layout' '
	rm "$GCLOUD_GPU_ROOT/releases/$sha.done" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	[ "$(cat "$GCLOUD_GPU_ROOT/blobs/$readme.seal")" != garbage ] &&
	test_cmp "$HELPER_RECIPE/README" "$rel/README"
'

# A small file system of our own: full, then read-only.
small="$TEST_DIR/small"
mkdir -p "$small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=2m,mode=0700 tmpfs "$small"; then
	trap 'umount "$small" 2>/dev/null; test_cleanup' EXIT
	have_mount=1
else
	have_mount=0
fi

test_expect_success 'a full disk: recv fails with one line, the store is as it was' '
	[ "$have_mount" = 1 ] || { echo "needs root to mount a 2 MiB tmpfs"; false; } &&
	export GCLOUD_GPU_ROOT="$small/root" &&
	sha=$(helper_push "$HELPER_RECIPE") &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	tree_sum "$small/root/blobs" >"$TEST_DIR/small-blobs.sum" &&
	tree_sum "$small/root/releases" >"$TEST_DIR/small-releases.sum" &&
	head -c 3000000 /dev/urandom >"$TEST_DIR/huge" &&
	name=$(sha256sum "$TEST_DIR/huge" | cut -d" " -f1) &&
	tar_entry "$name" "$TEST_DIR/huge" | test_expect_code 4 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "No space left on device" "$TEST_DIR/err" &&
	tree_sum "$small/root/blobs" | test_cmp "$TEST_DIR/small-blobs.sum" -
'

test_expect_success 'a full disk: apply fails with one line, the previous release stays' '
	[ "$have_mount" = 1 ] &&
	mkdir -p "$TEST_DIR/payload3/steps" &&
	cp "$HELPER_RECIPE/steps/10-first.sh" "$TEST_DIR/payload3/steps/" &&
	head -c 1100000 /dev/urandom >"$TEST_DIR/payload3/data" &&
	sha3=$(helper_push "$TEST_DIR/payload3") &&
	tree_sum "$small/root/releases/$sha" >"$TEST_DIR/small-release.sum" &&
	{ dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null || true; } &&
	test_expect_code 4 "$GG_HELPER" apply "$sha3" >/dev/null 2>"$TEST_DIR/err" &&
	rm -f "$small/filler" &&
	one_error_line "$TEST_DIR/err" && test_grep "No space left on device" "$TEST_DIR/err" &&
	tree_sum "$small/root/releases/$sha" | test_cmp "$TEST_DIR/small-release.sum" - &&
	"$GG_HELPER" status | jq -e ".plan == \"$sha\" and .state == \"done\""
'

test_expect_success 'an unwritable root: have, recv and apply fail with one line each' '
	[ "$have_mount" = 1 ] &&
	tree_sum "$small/root" >"$TEST_DIR/small-root.sum" &&
	mount -o remount,ro "$small" &&
	test_expect_code 4 "$GG_HELPER" have <"$TEST_DIR/m2.json" 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "Read-only file system" "$TEST_DIR/err" &&
	tar_entry "$name" "$TEST_DIR/liar" | test_expect_code 4 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" &&
	test_expect_code 4 "$GG_HELPER" apply "$sha" >/dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "Read-only file system" "$TEST_DIR/err" &&
	tree_sum "$small/root" | test_cmp "$TEST_DIR/small-root.sum" -
'
[ "$have_mount" = 1 ] && umount "$small"

# recv --manifest: have and recv over one stdin, as a push sends them.
test_expect_success 'recv --manifest answers as have, then takes the stream of what it named' '
	root2=$TEST_DIR/root-one && helper_manifest "$HELPER_RECIPE" >"$TEST_DIR/m1.json" &&
	GCLOUD_GPU_ROOT=$root2 "$GG_HELPER" have <"$TEST_DIR/m1.json" >"$TEST_DIR/m1.have" &&
	rm -rf "$root2" &&
	helper_blobs_tar "$HELPER_RECIPE" "$TEST_DIR/m1.have" >"$TEST_DIR/m1.tar" &&
	cat "$TEST_DIR/m1.json" "$TEST_DIR/m1.tar" |
		GCLOUD_GPU_ROOT=$root2 "$GG_HELPER" recv --manifest "$(stat -c %s "$TEST_DIR/m1.json")" \
		>"$TEST_DIR/one.out" &&
	[ "$(wc -l <"$TEST_DIR/one.out")" -eq 2 ] &&
	head -n 1 "$TEST_DIR/one.out" | test_cmp "$TEST_DIR/m1.have" - &&
	tail -n 1 "$TEST_DIR/one.out" | jq -e ".stored | length == 5" &&
	GCLOUD_GPU_ROOT=$root2 "$GG_HELPER" have <"$TEST_DIR/m1.json" | jq -e ".missing == []"
'

test_expect_success 'recv --manifest with nothing missing reads no stream and stores nothing' '
	GCLOUD_GPU_ROOT=$root2 "$GG_HELPER" recv --manifest "$(stat -c %s "$TEST_DIR/m1.json")" \
		<"$TEST_DIR/m1.json" >"$TEST_DIR/none.out" &&
	tail -n 1 "$TEST_DIR/none.out" | jq -e ".stored == [] and .bytes == 0"
'

test_expect_success 'recv --manifest refuses a bad count or a short manifest, one line each' '
	test_expect_code 2 "$GG_HELPER" recv --manifest 0 </dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" &&
	test_expect_code 2 "$GG_HELPER" recv --manifest 12x </dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" &&
	head -c 10 "$TEST_DIR/m1.json" | GCLOUD_GPU_ROOT=$root2 test_expect_code 3 "$GG_HELPER" recv \
		--manifest "$(stat -c %s "$TEST_DIR/m1.json")" 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "manifest ended after 10 of" "$TEST_DIR/err"
'

test_expect_success 'forty have of one new manifest at once: each succeeds, no temporary file left' '
	mkdir -p "$TEST_DIR/race" && echo "race $$" >"$TEST_DIR/race/file" &&
	helper_manifest "$TEST_DIR/race" >"$TEST_DIR/race.json" &&
	pids=() &&
	for i in $(seq 40); do
		"$GG_HELPER" have <"$TEST_DIR/race.json" >"$TEST_DIR/race.$i" 2>&1 &
		pids+=($!)
	done &&
	failed=0 &&
	for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done &&
	echo "failed: $failed" && [ "$failed" = 0 ] &&
	! ls "$GCLOUD_GPU_ROOT/blobs" | grep -q "tmp"
'

test_expect_success 'have promotes a complete partial and makes the rename durable (directory fsync)' '
	mkdir -p "$TEST_DIR/promote" && echo "promote $$" >"$TEST_DIR/promote/file" &&
	helper_manifest "$TEST_DIR/promote" >"$TEST_DIR/promote.json" &&
	blob=$(sha256sum <"$TEST_DIR/promote/file" | cut -d" " -f1) &&
	"$GG_HELPER" have <"$TEST_DIR/promote.json" >/dev/null &&
	cp "$TEST_DIR/promote/file" "$GCLOUD_GPU_ROOT/blobs/$blob.partial" &&
	strace_to "$TEST_DIR/strace" rename,renameat,renameat2,openat,fsync \
		"$GG_HELPER" have <"$TEST_DIR/promote.json" >"$TEST_DIR/promote.have" &&
	jq -e ".missing == []" "$TEST_DIR/promote.have" &&
	sed -n "/rename.*$blob.partial/,\$p" "$TEST_DIR/strace" >"$TEST_DIR/after" &&
	test_grep "O_DIRECTORY" "$TEST_DIR/after" && test_grep "fsync" "$TEST_DIR/after"
'

test_expect_success 'a state root others can write, or another user owns, is refused with one line' '
	mkdir -p "$TEST_DIR/loose" && chmod 777 "$TEST_DIR/loose" &&
	test_expect_code 3 env GCLOUD_GPU_ROOT="$TEST_DIR/loose" "$GG_HELPER" have \
		<"$TEST_DIR/race.json" >/dev/null 2>"$TEST_DIR/err" &&
	one_error_line "$TEST_DIR/err" && test_grep "writable by other users" "$TEST_DIR/err" &&
	[ ! -e "$TEST_DIR/loose/blobs" ] &&
	chmod 700 "$TEST_DIR/loose" && mkdir -m 777 "$TEST_DIR/loose/bin" &&
	test_expect_code 3 env GCLOUD_GPU_ROOT="$TEST_DIR/loose" "$GG_HELPER" have \
		<"$TEST_DIR/race.json" >/dev/null 2>"$TEST_DIR/err" &&
	test_grep "loose/bin. is writable" "$TEST_DIR/err" &&
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$TEST_DIR/theirs" && chown 65534 "$TEST_DIR/theirs" && chmod 700 "$TEST_DIR/theirs" &&
		test_expect_code 3 env GCLOUD_GPU_ROOT="$TEST_DIR/theirs" "$GG_HELPER" have \
			<"$TEST_DIR/race.json" >/dev/null 2>"$TEST_DIR/err" &&
		test_grep "belongs to user 65534" "$TEST_DIR/err"
	fi
'

test_done
