#!/usr/bin/env python3
"""pty-run.py OUT ANSWER_FILE -- COMMAND...: run COMMAND on a new pseudo-terminal
(stdin, stdout and stderr), as a person at a terminal would, and write all it printed to
OUT.  Each time the output grows by a prompt (it ends with '? ', ': ' or a question), the
next line of ANSWER_FILE is typed.  Exits with COMMAND's exit status.  Tests only."""
import os
import pty
import select
import signal
import sys


def main():
    out_path, answers_path = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    with open(answers_path) as f:
        answers = f.read().splitlines()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    answered_at = 0
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 30)
        except InterruptedError:
            continue
        if not ready:
            # Nothing for 30 s: the command waits for what will not come.  Stop it.
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            with open(out_path, "wb") as f:
                f.write(seen)
            sys.exit(124)
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
        tail = seen[answered_at:].rstrip(b" ")
        if answers and (tail.endswith(b"?") or tail.endswith(b":") or tail.endswith(b")?")):
            os.write(fd, answers.pop(0).encode() + b"\n")
            answered_at = len(seen)
    _, status = os.waitpid(pid, 0)
    with open(out_path, "wb") as f:
        f.write(seen)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
