#!/usr/bin/env bash
# The helper runs on VMs with nothing installed: it must be one static binary that
# needs no environment, no NSS and no shared library, and stays small.
. "$(dirname "$0")/lib.sh"

if [ "${GG_SANITIZE:-0}" = 1 ]; then
	# A sanitizer build links the helper dynamically (the runtimes need it); the
	# shipping build, which tools/test also runs, is the one this test is about.
	say "sanitizer build: the helper is dynamic by design, checking that it runs"
	test_expect_success 'the sanitizer-built helper answers version' '
		"$GG_HELPER" version | grep -q "\"proto\""
	'
	test_done
fi

test_expect_success 'file(1) says statically linked' '
	file "$GG_HELPER" | tee "$TEST_DIR/file.out" &&
	grep -q "statically linked" "$TEST_DIR/file.out"
'

test_expect_success 'it has no dynamic section and no interpreter' '
	! readelf -d "$GG_HELPER" | grep -q NEEDED &&
	! readelf -l "$GG_HELPER" | grep -q "program interpreter"
'

test_expect_success 'it runs with an empty environment' '
	env -i "$GG_HELPER" version >"$TEST_DIR/version.json" &&
	grep -q "\"proto\":1" "$TEST_DIR/version.json" &&
	env -i "$GG_HELPER" --help | grep -q "usage: gcloud-gpu-helper"
'

# glibc's own iconv code carries a dlopen that is never reached without gconv
# modules; a call from our code or a library fails the link (--fatal-warnings in
# helper/CMakeLists.txt turns glibc's static-link warning into an error).
test_expect_success 'it pulls in no NSS look-up or resolver code' '
	! nm "$GG_HELPER" 2>/dev/null | grep -E " (T|W) (getpwnam|getgrnam|getpwuid|getgrgid|getaddrinfo|gethostbyname)$"
'

test_expect_success 'it is under 2 MiB stripped' '
	strip -o "$TEST_DIR/helper.stripped" "$GG_HELPER" &&
	size=$(stat -c %s "$TEST_DIR/helper.stripped") &&
	echo "stripped size: $size bytes" &&
	[ "$size" -lt 2097152 ]
'

test_done
