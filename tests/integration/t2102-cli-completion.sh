#!/usr/bin/env bash
# Shell completion (issue 16, item 10): cmake --install puts the bash and zsh files
# where those shells look, and the bash one completes commands and each command's
# options from gcloud-gpu's own help.
. "$(dirname "$0")/lib.sh"

test_expect_success 'cmake --install installs the bash and zsh completion' '
	DESTDIR=$TEST_DIR/root cmake --install "$GG_BUILD_DIR" --prefix /usr >"$TEST_DIR/install.log" 2>&1 &&
	[ -f "$TEST_DIR/root/usr/share/bash-completion/completions/gcloud-gpu" ] &&
	[ -f "$TEST_DIR/root/usr/share/zsh/site-functions/_gcloud-gpu" ] &&
	head -1 "$TEST_DIR/root/usr/share/zsh/site-functions/_gcloud-gpu" | grep -q "^#compdef gcloud-gpu"
'

# Complete WORDS (the last one being typed) with the installed bash completion.
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_gcloud_gpu
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$TEST_DIR/root/usr/share/bash-completion/completions/gcloud-gpu" "$@"
}

test_expect_success 'bash completes command names, exactly the ones --help lists' '
	complete_words "$GG_CLI" "" | grep -v "^-" | sort >"$TEST_DIR/got" &&
	"$GG_CLI" --help | sed -n "/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p" | sort >"$TEST_DIR/want" &&
	test_cmp "$TEST_DIR/want" "$TEST_DIR/got" &&
	complete_words "$GG_CLI" "tu" >"$TEST_DIR/got" && [ "$(cat "$TEST_DIR/got")" = tunnel ]
'

test_expect_success 'bash completes a command'\''s options' '
	complete_words "$GG_CLI" push --dr >"$TEST_DIR/got" && [ "$(cat "$TEST_DIR/got")" = --dry-run ] &&
	complete_words "$GG_CLI" logs --ta >"$TEST_DIR/got" && [ "$(cat "$TEST_DIR/got")" = --tail ]
'

test_done
