#!/usr/bin/env bash
# `unpack ARCHIVE DEST` with hostile archives: each is refused with the entry
# named, nothing appears outside DEST, and the previous DEST stays as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"

work="$TEST_DIR/work"
mkdir -p "$work/outside"

# Build the archive set with python's tarfile: NAME KIND (see the cases below).
python3 - "$TEST_DIR" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
def entry(name, type=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = type, mode, link, len(data)
    return info, io.BytesIO(data)
sets = {
    "good":      [entry("./", tarfile.DIRTYPE, mode=0o755), entry("bin/", tarfile.DIRTYPE, mode=0o755),
                  entry("bin/run.sh", data=b"#!/bin/sh\n", mode=0o755), entry("doc", data=b"hello\n"),
                  entry("bin/same", tarfile.LNKTYPE, link="bin/run.sh"),
                  entry("bin/up", tarfile.SYMTYPE, link="../doc")],
    "dotdot":    [entry("ok", data=b"x"), entry("../escaped", data=b"evil")],
    "deepdotdot":[entry("a/../../escaped", data=b"evil")],
    "absolute":  [entry("/tmp/gg-unpack-absolute", data=b"evil")],
    "symlink":   [entry("link", tarfile.SYMTYPE, link="../outside"), entry("link/planted", data=b"evil")],
    "symlink-abs":[entry("abs", tarfile.SYMTYPE, link="/etc")],
    "symlink-in":[entry("dir/", tarfile.DIRTYPE, mode=0o755), entry("dir/self", tarfile.SYMTYPE, link=".."),
                  entry("dir/self/planted", data=b"evil")],
    "hardlink":  [entry("stolen", tarfile.LNKTYPE, link="../outside/secret")],
    "hardlink-abs": [entry("stolen", tarfile.LNKTYPE, link="/etc/passwd")],
    "device":    [entry("null", tarfile.CHRTYPE)],
    "blockdev":  [entry("disk", tarfile.BLKTYPE)],
    "fifo":      [entry("pipe", tarfile.FIFOTYPE)],
    "setuid":    [entry("su", data=b"#!/bin/sh\n", mode=0o4755)],
    "setgid":    [entry("sg", data=b"#!/bin/sh\n", mode=0o2755)],
    "longname":  [entry("d/" + "n" * 300, data=b"x")],
    "big":       [entry("big", data=b"x" * 20000)],
    "longpath":  [entry("/".join(["dir%03d" % i for i in range(200)]) + "/f", data=b"x")],
}
for name, entries in sets.items():
    with tarfile.open("%s/%s.tar" % (d, name), "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, data)
PY
echo secret >"$work/outside/secret"
for t in "$TEST_DIR"/*.tar; do zstd -q -f "$t" -o "$t.zst"; done

# Everything outside DEST, to compare before and after.
outside_sum() {
	(cd "$work" && find . -path ./dest -prune -o -printf '%p %y %m %s\n' | sort)
	[ -e /tmp/gg-unpack-absolute ] && echo "/tmp/gg-unpack-absolute exists"
	return 0
}

test_expect_success 'a good archive is extracted with its files, links and modes' '
	"$GG_HELPER" unpack "$TEST_DIR/good.tar.zst" "$work/dest" &&
	[ "$(cat "$work/dest/doc")" = hello ] &&
	[ -x "$work/dest/bin/run.sh" ] &&
	[ "$(stat -c %i "$work/dest/bin/same")" = "$(stat -c %i "$work/dest/bin/run.sh")" ] &&
	[ "$(readlink "$work/dest/bin/up")" = ../doc ] &&
	(cd "$work/dest" && find . -printf "%p %y %m\n" | sort) >"$TEST_DIR/dest.before"
'

outside_sum >"$TEST_DIR/outside.before"

check_refused() {
	local name=$1 entry=$2
	test_expect_code 3 "$GG_HELPER" unpack "$TEST_DIR/$name.tar.zst" "$work/dest" 2>"$TEST_DIR/err"
	[ $? -eq 0 ] || return 1
	cat "$TEST_DIR/err"
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] &&
	grep -qF "refused entry '$entry"  "$TEST_DIR/err" &&
	outside_sum | test_cmp "$TEST_DIR/outside.before" - &&
	(cd "$work/dest" && find . -printf "%p %y %m\n" | sort) | test_cmp "$TEST_DIR/dest.before" - &&
	[ "$(cat "$work/outside/secret")" = secret ]
}

test_expect_success 'a ".." component is refused' 'check_refused dotdot ../escaped'
test_expect_success 'a ".." deeper down is refused' 'check_refused deepdotdot a/../../escaped'
test_expect_success 'an absolute path is refused' 'check_refused absolute /tmp/gg-unpack-absolute'
test_expect_success 'a symlink out of the tree (then a write through it) is refused' 'check_refused symlink link'
test_expect_success 'an absolute symlink is refused' 'check_refused symlink-abs abs'
test_expect_success 'a write through a symlink inside the tree is refused' 'check_refused symlink-in dir/self/planted'
test_expect_success 'a hard link out of the tree is refused' 'check_refused hardlink stolen'
test_expect_success 'a hard link to an absolute path is refused' 'check_refused hardlink-abs stolen'
test_expect_success 'a character device is refused' 'check_refused device null'
test_expect_success 'a block device is refused' 'check_refused blockdev disk'
test_expect_success 'a fifo is refused' 'check_refused fifo pipe'
test_expect_success 'a set-uid file is refused' 'check_refused setuid su'
test_expect_success 'a set-gid file is refused' 'check_refused setgid sg'
test_expect_success 'a name over 255 bytes is refused' 'check_refused longname d/nnnn'
test_expect_success 'a path over 1024 bytes is refused' 'check_refused longpath dir000/dir001'

test_expect_success 'a truncated archive fails cleanly, DEST untouched' '
	head -c 10000 "$TEST_DIR/big.tar" >"$TEST_DIR/cut.tar" &&
	zstd -q "$TEST_DIR/cut.tar" -o "$TEST_DIR/cut.tar.zst" &&
	test_expect_code 3 "$GG_HELPER" unpack "$TEST_DIR/cut.tar.zst" "$work/dest" 2>"$TEST_DIR/err" &&
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] &&
	(cd "$work/dest" && find . -printf "%p %y %m\n" | sort) | test_cmp "$TEST_DIR/dest.before" -
'

test_expect_success 'a corrupt archive fails cleanly, nothing is left behind' '
	head -c 5000 /dev/urandom >"$TEST_DIR/junk.tar.zst" &&
	test_expect_code 3 "$GG_HELPER" unpack "$TEST_DIR/junk.tar.zst" "$work/dest" 2>"$TEST_DIR/err" &&
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] &&
	outside_sum | test_cmp "$TEST_DIR/outside.before" -
'

test_expect_success 'a good archive replaces DEST whole' '
	echo stale >"$work/dest/stale" &&
	"$GG_HELPER" unpack "$TEST_DIR/good.tar" "$work/dest" &&
	[ ! -e "$work/dest/stale" ] && [ -x "$work/dest/bin/run.sh" ] &&
	outside_sum | test_cmp "$TEST_DIR/outside.before" -
'

test_done
