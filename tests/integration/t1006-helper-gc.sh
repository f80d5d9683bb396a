#!/usr/bin/env bash
# Collection: after `apply` of a new payload, the releases and blobs that neither it
# nor the payload before it needs are removed, so repeated pushes do not fill the VM's
# disk.  Blobs used within the grace hour (stored, or reported present by `have`) and
# partial blobs stay; a layout that never finished is cleared away.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-helper.sh"
helper_env
export GG_NO_REBOOT=1

# shellcheck disable=SC2034 # used in the test bodies
BLOBS=$GCLOUD_GPU_ROOT/blobs
# shellcheck disable=SC2034 # used in the test bodies
RELEASES=$GCLOUD_GPU_ROOT/releases

# Every blob (and partial) last used two hours ago: past the grace.
age_store() {
	find "$BLOBS" -type f -exec touch -d "2 hours ago" {} +
}

# A new version of the recipe: README gets one more line; pushed and applied.
# Prints the manifest's sha256.
push_version() {
	echo "version $1" >>"$TEST_DIR/recipe/README" &&
	sha=$(helper_push "$TEST_DIR/recipe") &&
	cp "$TEST_DIR/manifest.json" "$TEST_DIR/manifest-$1.json" &&
	"$GG_HELPER" apply "$sha" >/dev/null &&
	echo "$sha"
}

readme_blob() {
	jq -r '.files[] | select(.path == "README") | .sha256' "$TEST_DIR/manifest-$1.json"
}

test_expect_success 'setup: versions 1 and 2 applied; nothing of version 1 goes yet' '
	cp -r "$HELPER_RECIPE" "$TEST_DIR/recipe" &&
	v1=$(push_version 1) && age_store &&
	v2=$(push_version 2) &&
	[ -d "$RELEASES/$v1" ] && [ -s "$RELEASES/$v1.done" ] &&
	[ -f "$BLOBS/$(readme_blob 1)" ] && [ -f "$BLOBS/$v1" ]
'

test_expect_success 'version 3: the release, manifest and blobs only version 1 had are removed' '
	age_store &&
	echo "a cut upload" >"$BLOBS/$(printf x | sha256sum | cut -d" " -f1).partial" &&
	mkdir "$RELEASES/$v1.tmp-AbC123" && echo left >"$RELEASES/$v1.tmp-AbC123/file" &&
	age_store &&
	v3=$(push_version 3) &&
	[ ! -e "$RELEASES/$v1" ] && [ ! -e "$RELEASES/$v1.done" ] &&
	[ ! -e "$RELEASES/$v1.tmp-AbC123" ] &&
	[ ! -e "$BLOBS/$v1" ] && [ ! -e "$BLOBS/$(readme_blob 1)" ] &&
	[ -d "$RELEASES/$v2" ] && [ -d "$RELEASES/$v3" ] && [ -s "$RELEASES/$v3.done" ] &&
	[ -f "$BLOBS/$(readme_blob 2)" ] && [ -f "$BLOBS/$(readme_blob 3)" ] &&
	[ -n "$(find "$BLOBS" -name "*.partial")" ]
'

test_expect_success 'what the kept manifests list is all there, and verifies' '
	for v in 2 3; do
		jq -r ".files[].sha256" "$TEST_DIR/manifest-$v.json" | while read -r b; do
			[ "$(sha256sum <"$BLOBS/$b" | cut -d" " -f1)" = "$b" ] || exit 1
		done || return 1
	done &&
	"$GG_HELPER" have <"$TEST_DIR/manifest-2.json" | jq -e ".missing == []"
'

test_expect_success 'blobs that have just reported present stay through the grace' '
	age_store &&
	"$GG_HELPER" have <"$TEST_DIR/manifest-2.json" >/dev/null &&
	v4=$(push_version 4) && v5=$(push_version 5) &&
	[ ! -e "$RELEASES/$v2" ] && [ ! -e "$RELEASES/$v3" ] &&
	[ ! -e "$BLOBS/$(readme_blob 3)" ] &&
	[ -f "$BLOBS/$(readme_blob 2)" ] && [ -f "$BLOBS/$v2" ]
'

test_expect_success 'a young blob no manifest lists stays; aged, it goes with the next payload' '
	printf "uploaded by a push still on its way" >"$TEST_DIR/young" &&
	young=$(sha256sum <"$TEST_DIR/young" | cut -d" " -f1) &&
	cp "$TEST_DIR/young" "$BLOBS/$young" &&
	v6=$(push_version 6) && [ -f "$BLOBS/$young" ] &&
	age_store && v7=$(push_version 7) &&
	[ ! -e "$BLOBS/$young" ] && [ ! -e "$BLOBS/$(readme_blob 2)" ]
'

test_expect_success 'applying the same payload again collects nothing' '
	ls "$RELEASES" >"$TEST_DIR/before" && age_store &&
	"$GG_HELPER" apply "$v7" >/dev/null &&
	ls "$RELEASES" | test_cmp "$TEST_DIR/before" - &&
	[ -f "$BLOBS/$(readme_blob 6)" ]
'

test_expect_success 'a kept release that shared files with a collected one stays intact' '
	v8=$(push_version 8) &&
	[ ! -e "$RELEASES/$v6" ] &&
	inode=$(stat -c %i "$RELEASES/$v8/steps/10-first.sh") &&
	v9=$(push_version 9) &&
	[ "$(stat -c %i "$RELEASES/$v9/steps/10-first.sh")" = "$inode" ] &&
	stat -c "%i %z" "$RELEASES/$v9/README" >"$TEST_DIR/v9.stat" &&
	"$GG_HELPER" apply "$v9" >/dev/null &&
	stat -c "%i %z" "$RELEASES/$v9/README" | test_cmp "$TEST_DIR/v9.stat" -
'

test_expect_success 'seals go with their blobs; a seal without one and a torn seal write are cleared' '
	gone=$(echo "a blob that is gone" | sha256sum | cut -d" " -f1) &&
	echo "0 0 0 0 0.0 0.0" >"$BLOBS/$gone.seal" &&
	echo "half a se" >"$BLOBS/$(readme_blob 8).seal.tmp" &&
	v10=$(push_version 10) &&
	[ ! -e "$BLOBS/$gone.seal" ] && [ ! -e "$BLOBS/$(readme_blob 8).seal.tmp" ] &&
	[ -z "$(for seal in "$BLOBS"/*.seal; do [ -f "${seal%.seal}" ] || echo "$seal"; done)" ]
'

test_done
