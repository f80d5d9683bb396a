#!/bin/sh
# A fault-injection step: the shared body is fault-step.sh.
exec sh "$(dirname "$0")/fault-step.sh" 10-first "$@"
