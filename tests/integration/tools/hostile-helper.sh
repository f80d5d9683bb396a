#!/bin/sh
# tests/integration/tools/hostile-helper.sh: a compromised VM's helper, for t2015.
#
# The CLI uploads it as it would the real helper (GCLOUD_GPU_HELPER points here) and
# runs it with the same arguments; what it answers is what a VM whose root was taken
# could send.  The behaviour is chosen by the word in $GCLOUD_GPU_ROOT/../hostile.mode:
#
#   escapes   status, probe and events full of escape sequences: an OSC title, an
#             OSC 52 clipboard write, a screen clear, a bell, a C1 CSI (U+009B) inside
#             strings, a raw CR between JSON tokens
#   flood     status and every stream send output without end
#   trickle   status and every stream send a byte now and then, and never end
#   bigseq    an event with a seq beyond any plausible log
#   refuse    every command fails as the real helper does when refusing
set -u
mode=$(cat "$GCLOUD_GPU_ROOT/../hostile.mode" 2>/dev/null || echo escapes)
cmd=${1:-}
cr=$(printf '\r')
now=2026-01-01T00:00:00Z

hello() {
	printf '{"seq":0,"time":"%s","type":"hello","proto":1,"helper":"x","boot_id":"b"}\n' "$now"
}

case "$mode:$cmd" in
flood:*)
	# Never ends: the CLI must stop reading, not take it all in.
	[ "$cmd" = status ] || hello
	echo "$cmd" >"$GCLOUD_GPU_ROOT/../hostile.reading"
	yes '{"seq":1,"time":"t","type":"log","step":"a","msg":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}' |
		tr -d '\n'
	;;
trickle:*)
	echo "$cmd" >"$GCLOUD_GPU_ROOT/../hostile.reading"
	while :; do printf ' '; sleep 0.2; done
	;;
escapes:status)
	printf '{"plan":"\\u001b]0;pwned\\u0007","state":"\\u001b[2J\\u009b2J",'
	printf '"steps":[{"name":"\\u001b]52;c;cHduZWQ=\\u0007","state":"\\u0007done"}]}\n'
	;;
escapes:probe)
	printf '{"gpu\\u001b[31m":"\\u009b31m\\u001b]0;title\\u0007","os":"\\u0085x"}\n'
	;;
escapes:apply | escapes:follow | escapes:resume | escapes:ensure)
	hello
	printf '{"seq":1,%s"time":"%s","type":"plan","steps":["a\\u001b[2J"]}\n' "$cr" "$now"
	printf '{"seq":2,"time":"%s","type":"log","step":"a\\u001b[2J","msg":"\\u001b]0;t\\u0007\\u009b2J \302\233 x"}\n' "$now"
	printf '{"seq":3,"time":"%s","type":"step-failed","step":"a","code":1,"tail":["\\u001b]52;c;eA==\\u0007"],"msg":"m"}\n' "$now"
	printf '{"seq":4,"time":"%s","type":"failed","msg":"\\u001b[2Jgone"}\n' "$now"
	exit 1
	;;
bigseq:*)
	hello
	printf '{"seq":1,"time":"%s","type":"plan","steps":["a"]}\n' "$now"
	printf '{"seq":9223372036854775807,"time":"%s","type":"log","step":"a","msg":"m"}\n' "$now"
	printf '{"seq":2,"time":"%s","type":"done"}\n' "$now"
	;;
*)
	printf "gcloud-gpu-helper: refused \233[2J \033]0;t\007\n" >&2
	exit 3
	;;
esac
