#!/usr/bin/env bash
# gcloud-gpu push on a terminal while steps run side by side: the live block shows
# every running step at once, and the plain output of the same plan names each step
# on its lines.  The three middle steps wait until the terminal has shown all three
# running (the test then opens their gate), so they cannot pass by running in turn.
. "$(dirname "$0")/lib-cli.sh"

cli_setup || exit 1
require_helper have recv apply follow

RECIPE=$TEST_DIR/precipe
GATE=$TEST_DIR/gate
mkdir -p "$RECIPE/steps"

# step NAME NEEDS-LINE WAIT: a step that, when WAIT is 1, waits (60 s at most) for the gate.
step() {
	cat >"$RECIPE/steps/$1.sh" <<STEP
#!/bin/sh
$2
case "\$1" in
check) exit 1 ;;
apply)
	echo "$1 running"
	if [ "$3" = 1 ]; then
		i=0
		while [ ! -f "$GATE" ]; do
			i=\$((i + 1)); [ "\$i" -lt 1200 ] || exit 9
			sleep 0.05
		done
	fi
	echo "$1 ends"
	;;
esac
STEP
	chmod +x "$RECIPE/steps/$1.sh"
}
step 10-a "" 0
step 20-b "# needs: 10-a" 1
step 30-c "# needs: 10-a" 1
step 40-d "# needs: 10-a" 1
step 50-e "" 0

# Run the push on a pseudo-terminal (100 x 30); open the gate once one redraw of the
# live block shows 20-b, 30-c and 40-d running; exit with the push's status, or 99
# when the terminal never showed the three at once.
on_terminal() {
	python3 - "$GATE" "$TEST_DIR/screen" "$@" <<'PY'
import fcntl, os, re, select, struct, subprocess, sys, termios, time
gate, screen, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
env = dict(os.environ, TERM="xterm", LANG="C.UTF-8")
p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
os.close(slave)
out, seen, deadline = b"", False, time.time() + 120
running = re.compile(rb"^ +(?:\xe2\x96\xb8|>) (20-b|30-c|40-d) ", re.M)
while time.time() < deadline:
    r, _, _ = select.select([master], [], [], 0.2)
    if r:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
        # The block as last drawn: what follows the last clear (ESC [ J).
        frame = out.rsplit(b"\x1b[J", 1)[-1]
        if not seen and len(set(running.findall(frame))) == 3:
            seen = True
            open(gate, "w").close()
    elif p.poll() is not None:
        break
p.wait(timeout=60)
open(screen, "wb").write(out)
sys.exit(p.returncode if seen else 99)
PY
}

test_expect_success 'the terminal shows the three steps running at once; the push ends 0' '
	on_terminal "$GG_CLI" push "${TARGET[@]}" --payload "$RECIPE" &&
	grep -a -q "done: the plan finished" "$TEST_DIR/screen"
'

# Each step of the plain output: started once, its own output line under its name.
each_once() {
	local s
	for s in 10-a 20-b 30-c 40-d 50-e; do
		[ "$(grep -c "^\[$s\] started$" "$1")" -eq 1 ] && grep -q "^\[$s\] $s ends$" "$1" ||
			{ echo "$s: not started once, or its lines lack its name"; return 1; }
	done
}

test_expect_success 'without a terminal each line names its step, and each step ran once' '
	gg push "${TARGET[@]}" --payload "$RECIPE" >"$TEST_DIR/plain" 2>&1 &&
	each_once "$TEST_DIR/plain" &&
	[ "$(grep -n "^\[50-e\] started" "$TEST_DIR/plain" | cut -d: -f1)" -gt \
	  "$(grep -n "^\[40-d\] done" "$TEST_DIR/plain" | cut -d: -f1)" ]
'

# refused STEP NEEDS-LINE MESSAGE: with STEP's second line replaced, push refuses the
# recipe on this machine, in one line with the words the VM would use, and nothing
# reaches the VM (no upload, no plan).
refused() {
	rm -rf "$TEST_DIR/bad" && cp -a "$RECIPE" "$TEST_DIR/bad" &&
	sed -i "2s/.*/$2/" "$TEST_DIR/bad/steps/$1.sh" &&
	releases=$(find "$TEST_DIR/vm" -path "*/releases/*" -maxdepth 2 2>/dev/null | wc -l) &&
	{ gg push "${TARGET[@]}" --payload "$TEST_DIR/bad" >"$TEST_DIR/out" 2>"$TEST_DIR/err"; [ $? -eq 1 ]; } &&
	test_grep "$3" "$TEST_DIR/err" &&
	[ "$(wc -l <"$TEST_DIR/err")" -eq 1 ] && [ ! -s "$TEST_DIR/out" ] &&
	[ "$(find "$TEST_DIR/vm" -path "*/releases/*" -maxdepth 2 2>/dev/null | wc -l)" -eq "$releases" ]
}

test_expect_success 'a needs line naming no step is refused here, before the upload' '
	refused 20-b "# needs: 10-a, 60-nothere" \
		"step .20-b. needs .60-nothere., which is not a step of the recipe"
'

test_expect_success 'needs in a circle are refused here, naming the steps' '
	refused 10-a "# needs: 50-e" "recipe refused: the .# needs:. lines of steps .10-a.*go in a circle"
'

test_expect_success 'a step that needs itself is refused here' '
	refused 20-b "# needs: 20-b" "step .20-b. needs itself"
'

test_done
