#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables set here are read in the single-quoted test bodies
# An upload of a 200 MiB blob cut off at about half: `have` reports how much the VM
# kept, and the next `recv` takes only the rest, then the blob verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"
helper_env

payload="$TEST_DIR/payload"
mkdir -p "$payload"
head -c $((200 * 1024 * 1024)) /dev/urandom >"$payload/big.bin"
total=$(stat -c %s "$payload/big.bin")

test_expect_success 'an upload cut at about half keeps a partial blob' '
	helper_manifest "$payload" >"$TEST_DIR/manifest.json" &&
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" >"$TEST_DIR/have.json" &&
	jq -e ".missing[0].offset == 0" "$TEST_DIR/have.json" &&
	helper_blobs_tar "$payload" "$TEST_DIR/have.json" | zstd -q --fast -c |
		head -c $((100 * 1024 * 1024)) | test_expect_code 3 "$GG_HELPER" recv 2>"$TEST_DIR/err" &&
	test_grep "kept for resume" "$TEST_DIR/err"
'

test_expect_success 'have reports the offset the VM holds' '
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" >"$TEST_DIR/have2.json" &&
	offset=$(jq ".missing[0].offset" "$TEST_DIR/have2.json") &&
	echo "offset $offset of $total" &&
	[ "$offset" -gt $((90 * 1024 * 1024)) ] && [ "$offset" -lt $((101 * 1024 * 1024)) ]
'

test_expect_success 'the next recv takes only the rest, and the blob verifies' '
	helper_blobs_tar "$payload" "$TEST_DIR/have2.json" | zstd -q --fast -c | "$GG_HELPER" recv >"$TEST_DIR/recv.json" &&
	bytes=$(jq .bytes "$TEST_DIR/recv.json") &&
	echo "second recv: $bytes bytes" &&
	[ "$bytes" -eq $((total - offset)) ] &&
	sum=$(sha256sum "$payload/big.bin" | cut -d" " -f1) &&
	jq -e ".stored == [\"$sum\"]" "$TEST_DIR/recv.json" &&
	echo "$sum  $GCLOUD_GPU_ROOT/blobs/$sum" | sha256sum -c - &&
	[ ! -e "$GCLOUD_GPU_ROOT/blobs/$sum.partial" ] &&
	"$GG_HELPER" have <"$TEST_DIR/manifest.json" | jq -e ".missing == []"
'

test_done
