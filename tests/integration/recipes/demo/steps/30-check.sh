#!/bin/sh
# Demo step: checks the payload's data file arrived intact.  Always runs (check fails),
# so every push shows it.
set -eu
case "$1" in
check) exit 1 ;;
apply)
	echo "payload data: $(wc -c <data/notes.txt) bytes"
	grep -q demo data/notes.txt
	;;
esac
