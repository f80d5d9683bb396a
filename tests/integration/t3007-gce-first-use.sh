#!/usr/bin/env bash
# Compute Engine as a new user meets it (issue 16, item 9 and 10): what is missing is
# said at once with 'gcloud init'; delete checks first and then asks, naming the project,
# the zone and the disks; names and disk sizes are checked here; --json for results.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

fake_api_start || exit 1
export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token
# shellcheck disable=SC2034 # used in the test bodies
PTY=$GG_SOURCE_DIR/tests/integration/tools/pty-run.py

test_expect_success '9: no project and no zone are said together, with gcloud init' '
	mv "$CLOUDSDK_CONFIG/configurations/config_default" "$TEST_DIR/config.saved" &&
	{ "$GG_CLI" start node-name 2>err; [ $? = 2 ]; } &&
	test_grep "no project and no zone: run .gcloud init." err && [ "$(wc -l <err)" = 1 ] &&
	mv "$TEST_DIR/config.saved" "$CLOUDSDK_CONFIG/configurations/config_default"
'

test_expect_success '9: delete checks the VM before it asks: a missing VM is a 404, not a --yes' '
	{ "$GG_CLI" delete no-such-vm </dev/null 2>err; [ $? = 3 ]; } &&
	test_grep "not found" err && ! grep -q -- "--yes" err
'

test_expect_success '9: without a terminal delete names project, zone and disks, and wants --yes' '
	{ "$GG_CLI" delete node-name </dev/null 2>err; [ $? = 2 ]; } &&
	test_grep "VM .node-name. in project .project-name., zone .us-central1-a., with its disk .node-name. loses what is on it: pass --yes" err
'

test_expect_success '9: on a terminal delete asks, naming them; anything but yes keeps the VM' '
	echo no >answers &&
	{ python3 "$PTY" screen answers -- "$GG_CLI" delete node-name; [ $? = 2 ]; } &&
	test_grep "Delete the VM .node-name. in project .project-name., zone .us-central1-a., with its disk .node-name.? .*Type yes:" screen &&
	test_grep "not deleting" screen && "$GG_CLI" start node-name >/dev/null &&
	echo yes >answers && python3 "$PTY" screen answers -- "$GG_CLI" delete node-name &&
	test_grep "node-name is deleted: the VM .node-name. in project .project-name." screen
'

test_expect_success '9: a bad VM name and a too small disk are refused here, exit 2, no API call' '
	fake_log_reset &&
	{ "$GG_CLI" create My_VM 2>err; [ $? = 2 ]; } && test_grep "bad VM name .My_VM.: use lower-case" err &&
	{ "$GG_CLI" create good-vm --disk-gb 5 2>err; [ $? = 2 ]; } && test_grep "disk-gb 5 is too small" err &&
	[ "$(fake_requests "/compute/v1/")" = 0 ]
'

test_expect_success '10: start, stop and delete print one JSON object with --json' '
	fake_scenario "{\"instance\": {\"status\": \"TERMINATED\"}}" &&
	"$GG_CLI" create node-name --json >/dev/null 2>&1; "$GG_CLI" start node-name --json >out 2>/dev/null &&
	python3 -c "import json,sys; d=json.load(open(\"out\")); assert d[\"status\"]==\"RUNNING\" and d[\"zone\"]==\"us-central1-a\", d" &&
	"$GG_CLI" stop node-name --json >out &&
	python3 -c "import json,sys; d=json.load(open(\"out\")); assert d[\"status\"]==\"TERMINATED\", d" &&
	"$GG_CLI" delete node-name --yes --json >out &&
	python3 -c "import json,sys; d=json.load(open(\"out\")); assert d[\"deleted\"] is True, d"
'

test_expect_success '9: gcloud'\''s own error is one line of ours, not its dozen' '
	mkdir -p "$TEST_DIR/bin" &&
	printf "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10 11; do echo \"gcloud noise \$i\" >&2; done\necho \"ERROR: (gcloud.auth.print-access-token) You do not currently have an active account selected.\" >&2\nexit 1\n" >"$TEST_DIR/bin/gcloud" &&
	chmod +x "$TEST_DIR/bin/gcloud" &&
	{ env -u CLOUDSDK_AUTH_ACCESS_TOKEN_FILE PATH="$TEST_DIR/bin:$PATH" "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } &&
	[ "$(wc -l <err)" = 1 ] && test_grep "failed: ERROR: (gcloud.auth.print-access-token) You do not currently have an active account" err
'

test_done
