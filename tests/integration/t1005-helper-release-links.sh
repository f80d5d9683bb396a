#!/usr/bin/env bash
# Releases are hard links to the store's verified blobs: the payload's bytes are on
# the disk once, a layout copies and hashes nothing the store sealed, and a step that
# writes into its release (so into the blob) cannot damage a later push: the blob's
# seal stops matching, `have` hashes it again, drops it and asks for it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"
helper_env
export GG_NO_REBOOT=1

# Paths, modes, sizes and contents of the regular files under a directory.
files_sum() {
	(cd "$1" && find . -type f -printf '%p %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

inode() {
	stat -c %i "$1"
}

# Every file of release $1 is the inode of its blob (blobs/<its sha256>).
all_linked() {
	local f sha
	while IFS= read -r -d '' f; do
		sha=$(sha256sum "$f" | cut -d" " -f1)
		[ "$(inode "$f")" = "$(inode "$GCLOUD_GPU_ROOT/blobs/$sha")" ] ||
			{ echo "$f is not its blob"; return 1; }
	done < <(find "$1" -type f -print0)
}

test_expect_success 'setup: the first release is hard links to the blobs, each blob sealed' '
	cp -r "$HELPER_RECIPE" "$TEST_DIR/recipe" &&
	sha1=$(helper_push "$TEST_DIR/recipe") &&
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	rel1="$GCLOUD_GPU_ROOT/releases/$sha1" &&
	[ -s "$rel1.done" ] &&
	all_linked "$rel1" &&
	files_sum "$TEST_DIR/recipe" >"$TEST_DIR/recipe.sum" &&
	files_sum "$rel1" | test_cmp "$TEST_DIR/recipe.sum" - &&
	for b in $(jq -r ".files[].sha256" "$TEST_DIR/manifest.json"); do
		[ -s "$GCLOUD_GPU_ROOT/blobs/$b.seal" ] || { echo "no seal for $b"; false; } || break
	done
'

test_expect_success 'the payload is on the disk once: each distinct content is one inode, store and release' '
	payload=$(jq "[.files | unique_by(.sha256)[] | .size] | add" "$TEST_DIR/manifest.json") &&
	manifest=$(stat -c %s "$GCLOUD_GPU_ROOT/blobs/$sha1") &&
	stored=$(find "$GCLOUD_GPU_ROOT/blobs" "$GCLOUD_GPU_ROOT/releases" -type f ! -name "*.seal" \
		! -name "*.done" -printf "%i %s\n" | sort -u | awk "{ s += \$2 } END { print s }") &&
	echo "payload $payload + manifest $manifest, stored $stored" &&
	[ "$stored" -eq $((payload + manifest)) ]
'

test_expect_success 'applying the same manifest again changes nothing (no link, no copy)' '
	stat -c "%n %i %h %z" "$rel1/README" "$rel1/steps/10-first.sh" >"$TEST_DIR/rel1.stat" &&
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	stat -c "%n %i %h %z" "$rel1/README" "$rel1/steps/10-first.sh" | test_cmp "$TEST_DIR/rel1.stat" -
'

test_expect_success 'a new manifest links the same blobs; the release before stays intact' '
	echo "one more line" >>"$TEST_DIR/recipe/README" &&
	sha2=$(helper_push "$TEST_DIR/recipe") &&
	"$GG_HELPER" apply "$sha2" >/dev/null &&
	rel2="$GCLOUD_GPU_ROOT/releases/$sha2" &&
	all_linked "$rel2" &&
	[ "$(inode "$rel2/steps/10-first.sh")" = "$(inode "$rel1/steps/10-first.sh")" ] &&
	[ "$(inode "$rel2/README")" != "$(inode "$rel1/README")" ] &&
	stat -c "%n %i %h %z" "$rel1/steps/10-first.sh" >"$TEST_DIR/rel1.stat" &&
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	stat -c "%n %i %h %z" "$rel1/steps/10-first.sh" | test_cmp "$TEST_DIR/rel1.stat" -
'

test_expect_success 'a step writes into its release: have drops the blob and asks for it again' '
	"$GG_HELPER" apply "$sha2" >/dev/null &&
	first=$(sha256sum "$TEST_DIR/recipe/steps/10-first.sh" | cut -d" " -f1) &&
	echo "written by a step" >>"$rel2/steps/10-first.sh" &&
	echo "two more lines" >>"$TEST_DIR/recipe/README" &&
	sha3=$(helper_push "$TEST_DIR/recipe") &&
	jq -e --arg b "$first" "[.missing[].sha256] | index(\$b) != null" "$TEST_DIR/have.json" &&
	"$GG_HELPER" apply "$sha3" >/dev/null &&
	rel3="$GCLOUD_GPU_ROOT/releases/$sha3" &&
	files_sum "$TEST_DIR/recipe" >"$TEST_DIR/recipe.sum" &&
	files_sum "$rel3" | test_cmp "$TEST_DIR/recipe.sum" - &&
	all_linked "$rel3"
'

test_expect_success 'the release that shared the damaged file is laid out again from the store' '
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	files_sum "$HELPER_RECIPE" >"$TEST_DIR/recipe1.sum" &&
	files_sum "$rel1" | test_cmp "$TEST_DIR/recipe1.sum" - &&
	all_linked "$rel1"
'

test_expect_success 'a blob damaged behind have is caught by the layout: refused, dropped, asked for' '
	"$GG_HELPER" apply "$sha3" >/dev/null &&
	readme=$(sha256sum "$TEST_DIR/recipe/README" | cut -d" " -f1) &&
	echo "damage" >>"$rel3/README" &&
	test_expect_code 3 "$GG_HELPER" apply "$sha3" >/dev/null 2>"$TEST_DIR/err" &&
	test_grep "corrupt" "$TEST_DIR/err" &&
	[ ! -e "$GCLOUD_GPU_ROOT/blobs/$readme" ] &&
	helper_push "$TEST_DIR/recipe" >/dev/null &&
	jq -e --arg b "$readme" "[.missing[].sha256] == [\$b]" "$TEST_DIR/have.json" &&
	"$GG_HELPER" apply "$sha3" >/dev/null &&
	files_sum "$rel3" | test_cmp "$TEST_DIR/recipe.sum" -
'

test_done
