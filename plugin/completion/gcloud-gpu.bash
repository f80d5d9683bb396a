# bash completion for gcloud-gpu.  Installed by cmake --install into
# share/bash-completion/completions/.  The words come from gcloud-gpu's own help (the
# command list of --help, the options of `help COMMAND`), so they never fall behind.
# shellcheck shell=bash

_gcloud_gpu() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cmd="" i words
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [ -z "$cmd" ]; then
		words=$("${COMP_WORDS[0]}" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
		mapfile -t COMPREPLY < <(compgen -W "$words --help --version --verbose" -- "$cur")
		return
	fi
	case $prev in
	--payload | --known-hosts | -i | --identity | --access-token-file)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	esac
	if [ "$cmd" = help ]; then
		words=$("${COMP_WORDS[0]}" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
	else
		words=$("${COMP_WORDS[0]}" help "$cmd" 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
	fi
	mapfile -t COMPREPLY < <(compgen -W "$words --help" -- "$cur")
}
complete -o default -F _gcloud_gpu gcloud-gpu
