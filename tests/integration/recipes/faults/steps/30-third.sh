#!/bin/sh
# A fault-injection step: the shared body is fault-step.sh.
# Beside the other step: the fault schedules kill a parallel plan.
# needs: 10-first
exec sh "$(dirname "$0")/fault-step.sh" 30-third "$@"
