#!/usr/bin/env bash
# Every recipe script, and this suite, passes `shellcheck -x` (skipped, saying so, where
# the tool is not installed).
set -euo pipefail
root="${GG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if ! command -v shellcheck >/dev/null 2>&1; then
	echo "shellcheck is not installed: skipped (apt-get install shellcheck)"
	exit 0
fi
cd "$root"
shellcheck -x payloads/steps/*.sh tests/recipe/*.sh
echo "1 passed, 0 failed"
