#!/usr/bin/env bash
# Releases of successive manifests: a new layout hard-links the files it shares
# (same path, bytes and mode) from the previous release when that one is intact,
# copies the rest from the store, and never links anything to the store itself.  A
# previous release that a step changed gives nothing.
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

test_expect_success 'setup: the first release, laid out from the store' '
	cp -r "$HELPER_RECIPE" "$TEST_DIR/recipe" &&
	sha1=$(helper_push "$TEST_DIR/recipe") &&
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	rel1="$GCLOUD_GPU_ROOT/releases/$sha1" &&
	[ -s "$rel1.done" ] && [ "$(stat -c %h "$rel1/README")" -eq 1 ]
'

test_expect_success 'a new manifest takes its unchanged files from the intact previous release' '
	echo "one more line" >>"$TEST_DIR/recipe/README" &&
	sha2=$(helper_push "$TEST_DIR/recipe") &&
	"$GG_HELPER" apply "$sha2" >/dev/null &&
	rel2="$GCLOUD_GPU_ROOT/releases/$sha2" &&
	files_sum "$TEST_DIR/recipe" >"$TEST_DIR/recipe.sum" &&
	files_sum "$rel2" | test_cmp "$TEST_DIR/recipe.sum" - &&
	[ "$(inode "$rel2/steps/10-first.sh")" = "$(inode "$rel1/steps/10-first.sh")" ] &&
	[ "$(inode "$rel2/steps/extra/99-nested.sh")" = "$(inode "$rel1/steps/extra/99-nested.sh")" ] &&
	[ "$(stat -c %h "$rel2/README")" -eq 1 ] &&
	[ -z "$(find "$GCLOUD_GPU_ROOT/blobs" -type f -links +1)" ] &&
	[ -s "$rel2.done" ]
'

test_expect_success 'both releases stay intact: applying either again copies nothing' '
	stat -c "%n %i %z" "$rel2/README" "$rel2/steps/10-first.sh" >"$TEST_DIR/rel2.stat" &&
	"$GG_HELPER" apply "$sha2" >/dev/null &&
	stat -c "%n %i %z" "$rel2/README" "$rel2/steps/10-first.sh" | test_cmp "$TEST_DIR/rel2.stat" -
'

test_expect_success 'a previous release a step changed gives nothing: the next one is copied from the store' '
	echo "written by a step" >>"$rel2/steps/10-first.sh" &&
	echo "two more lines" >>"$TEST_DIR/recipe/README" &&
	sha3=$(helper_push "$TEST_DIR/recipe") &&
	"$GG_HELPER" apply "$sha3" >/dev/null &&
	rel3="$GCLOUD_GPU_ROOT/releases/$sha3" &&
	[ "$(stat -c %h "$rel3/steps/10-first.sh")" -eq 1 ] &&
	files_sum "$TEST_DIR/recipe" >"$TEST_DIR/recipe.sum" &&
	files_sum "$rel3" | test_cmp "$TEST_DIR/recipe.sum" -
'

test_expect_success 'the release sharing the changed file is laid out again, from the intact one' '
	! test_cmp "$HELPER_RECIPE/steps/10-first.sh" "$rel1/steps/10-first.sh" >/dev/null &&
	"$GG_HELPER" apply "$sha1" >/dev/null &&
	files_sum "$HELPER_RECIPE" >"$TEST_DIR/recipe1.sum" &&
	files_sum "$rel1" | test_cmp "$TEST_DIR/recipe1.sum" - &&
	[ "$(inode "$rel1/steps/10-first.sh")" = "$(inode "$rel3/steps/10-first.sh")" ] &&
	[ "$(inode "$rel1/README")" != "$(inode "$rel3/README")" ]
'

test_done
