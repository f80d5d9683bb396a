#!/usr/bin/env bash
# A class of VMs against the loopback API: `create NAME-#### --count N` is one
# instances.bulkInsert (namePattern, minCount, labels, the quota checked for all N
# first, a partial success reported by name, minCount not met refused), a regional one
# picks a GPU type some zone of the region offers and only those zones; `list` shows
# the managed VMs with a filter over every page; `stop --filter` acts on each match in
# its own zone, and with --json each VM's own object after its target; -v reaches
# every child; push records the plan's state as a label that list shows.
. "$(dirname "$0")/lib-cli.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

cli_setup || exit 1
fake_vm_on_sshd || exit 1
# shellcheck disable=SC2034 # used in the test bodies
QUOTA="\"region_quotas\": [{\"metric\": \"NVIDIA_K80_GPUS\", \"limit\": 8, \"usage\": 0},
                           {\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 8, \"usage\": 0}],
       \"project_quotas\": [{\"metric\": \"GPUS_ALL_REGIONS\", \"limit\": 8, \"usage\": 0}]"
body() { # the bulkInsert body's field at a python path
	python3 -c "import json,sys; b=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" \
		"$FAKE_API_STATE/bulk-body.json" "$1"
}

test_expect_success 'create class-#### --count 3: one bulkInsert, labelled, the VMs named' '
	fake_scenario "{$QUOTA}" && fake_log_reset &&
	gg create "class-####" --count 3 --label class=ml >out 2>err &&
	[ "$(fake_requests "POST .*/zones/us-central1-a/instances/bulkInsert")" = 1 ] &&
	[ "$(fake_requests "POST .*/instances$")" = 0 ] &&
	[ "$(body "b[\"count\"], b[\"minCount\"], b[\"namePattern\"]")" = "(3, 3, '"'"'class-####'"'"')" ] &&
	[ "$(body "b[\"instanceProperties\"][\"labels\"][\"gcloud-gpu\"]")" = managed ] &&
	[ "$(body "b[\"instanceProperties\"][\"labels\"][\"class\"]")" = ml ] &&
	[ "$(body "b[\"instanceProperties\"][\"machineType\"]")" = n1-standard-8 ] &&
	[ "$(body "b[\"instanceProperties\"][\"guestAccelerators\"][0][\"acceleratorType\"]")" = nvidia-tesla-t4 ] &&
	[ "$(body "\"name\" in b[\"instanceProperties\"]")" = False ] &&
	test_grep "^created 3 of 3 VMs:" out &&
	for n in 1 2 3; do test_grep "^  class-000$n  us-central1-a" out || return 1; done &&
	test_grep "push --filter labels.class=ml" out
'

test_expect_success 'a second batch of the pattern numbers on after the highest' '
	gg create "class-####" --count 2 >out 2>err &&
	test_grep "^  class-0004  " out && test_grep "^  class-0005  " out
'

test_expect_success 'the quota is checked for all N before anything is asked' '
	fake_log_reset &&
	{ gg create "big-##" --count 9 2>err; [ $? = 3 ]; } &&
	test_grep "allows 8 more GPUs, 9 needed" err &&
	[ "$(fake_requests "POST")" = 0 ]
'

test_expect_success 'a partial success (capacity 2 of 4, minCount 2) names what was made' '
	fake_scenario "{$QUOTA, \"capacity\": 2}" && fake_log_reset &&
	gg create "lab-##" --count 4 --min-count 2 >out 2>err &&
	[ "$(body "b[\"minCount\"]")" = 2 ] &&
	test_grep "^created 2 of 4 VMs (the API placed no more):" out &&
	test_grep "^  lab-01  " out && test_grep "^  lab-02  " out && ! grep -q "lab-03" out
'

test_expect_success 'minCount not met: nothing is made, exit 3, the reason in one line' '
	fake_scenario "{$QUOTA, \"capacity\": 1}" && fake_log_reset &&
	{ gg create "lab-##" --count 4 --min-count 2 >out 2>err; [ $? = 3 ]; } &&
	[ "$(wc -l <err)" = 1 ] &&
	test_grep "cannot create 4 VMs named .lab-##. (at least 2)" err &&
	test_grep "does not have enough resources" err
'

test_expect_success 'regional: the GPU is one that a zone of the region offers, and only those zones' '
	fake_scenario "{$QUOTA, \"zone_accelerators\": {\"us-central1-a\": [\"nvidia-tesla-k80\"], \"us-central1-b\": [\"nvidia-tesla-t4\"]}}" &&
	fake_log_reset &&
	gg create "r-##" --count 2 --region us-central1 >out 2>err &&
	[ "$(fake_requests "POST .*/regions/us-central1/instances/bulkInsert")" = 1 ] &&
	[ "$(body "b[\"instanceProperties\"][\"guestAccelerators\"][0][\"acceleratorType\"]")" = nvidia-tesla-t4 ] &&
	[ "$(body "sorted(b[\"locationPolicy\"][\"locations\"].items())")" = "[('"'"'zones/us-central1-a'"'"', {'"'"'preference'"'"': '"'"'DENY'"'"'}), ('"'"'zones/us-central1-b'"'"', {'"'"'preference'"'"': '"'"'ALLOW'"'"'})]" ] &&
	test_grep "^  r-01  us-central1-b" out &&
	[ "$(fake_requests "GET .*/regions/us-central1/operations/")" -ge 1 ]
'

test_expect_success 'regional with a GPU no zone offers: usage error naming what the region has' '
	{ gg create "r-##" --count 2 --region us-central1 --gpu nvidia-l4 2>err; [ $? = 2 ]; } &&
	test_grep "no zone of region .us-central1. offers the GPU .nvidia-l4." err &&
	test_grep "nvidia-tesla-k80, nvidia-tesla-t4" err
'

test_expect_success 'regional without --gpu never picks the end-of-life K80 by itself' '
	fake_scenario "{$QUOTA, \"zone_accelerators\": {\"us-central1-a\": [\"nvidia-tesla-k80\"], \"us-central1-b\": [\"nvidia-tesla-k80\"]}}" &&
	fake_log_reset &&
	{ gg create "r-##" --count 2 --region us-central1 2>err; [ $? = 2 ]; } &&
	test_grep "no zone of region .us-central1. offers a GPU" err &&
	[ "$(fake_requests "POST")" = 0 ]
'

test_expect_success 'bad input: no # in the name, --min-count above --count, a bad label' '
	{ gg create plain --count 2 2>err; [ $? = 2 ]; } && test_grep "has no .#." err &&
	{ gg create "a-##" --count 2 --min-count 3 2>err; [ $? = 2 ]; } && test_grep "more than --count" err &&
	{ gg create "a-##" --label Class=ml 2>err; [ $? = 2 ]; } && test_grep "bad --label" err
'

# Six managed VMs in two zones (three of class ml), one unmanaged; two a page.
# shellcheck disable=SC2034
CLASS="\"page_size\": 2, \"instances\": [
  {\"name\": \"ml-01\", \"zone\": \"us-central1-a\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"ml\", \"gcloud-gpu-plan\": \"done\", \"gcloud-gpu-idle-stop\": \"30m\"}},
  {\"name\": \"ml-02\", \"zone\": \"us-central1-b\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"ml\"}},
  {\"name\": \"ml-03\", \"zone\": \"us-central1-b\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"ml\"}, \"status\": \"TERMINATED\"},
  {\"name\": \"cv-01\", \"zone\": \"us-central1-a\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"cv\"}},
  {\"name\": \"cv-02\", \"zone\": \"us-central1-a\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"cv\"}},
  {\"name\": \"other\", \"zone\": \"us-central1-a\", \"labels\": {\"class\": \"ml\"}}]"

test_expect_success 'list --filter: the managed VMs that match, over every page, with plan and idle stop' '
	fake_scenario "{$CLASS}" && fake_log_reset &&
	gg list --filter labels.class=ml >out 2>err &&
	[ "$(grep -c "^ml-0" out)" = 3 ] && ! grep -q "^other" out && ! grep -q "^cv-" out &&
	grep -q "^ml-01 .* RUNNING .* 23.236.58.15 *done *30m$" out &&
	grep -q "^ml-03 .*us-central1-b *TERMINATED .* off$" out &&
	[ "$(fake_requests "GET .*/aggregated/instances")" -ge 2 ] &&
	gg list --json >all.json &&
	[ "$(python3 -c "import json; print(len(json.load(open(\"all.json\"))))")" = 5 ]
'

test_expect_success 'list with a filter the API refuses: exit 3 and its reason' '
	{ gg list --filter "labels.class=ml OR" 2>err; [ $? = 3 ]; } &&
	test_grep "Invalid list filter expression" err
'

test_expect_success 'stop --filter: every match stopped in its own zone, one table' '
	fake_log_reset &&
	gg stop --filter labels.class=ml >out 2>err &&
	[ "$(fake_requests "POST .*/zones/us-central1-a/instances/ml-01/stop")" = 1 ] &&
	[ "$(fake_requests "POST .*/zones/us-central1-b/instances/ml-02/stop")" = 1 ] &&
	[ "$(fake_requests "POST .*/zones/us-central1-b/instances/ml-03/stop")" = 1 ] &&
	[ "$(fake_requests "POST .*/other/stop")" = 0 ] &&
	for n in 1 2 3; do grep -q "^ml-0$n *done " out || return 1; done
'

test_expect_success 'start --filter --json: each VM'"'"'s own result object after its target, ASCII' '
	gg start --filter labels.class=ml --json >out 2>err &&
	python3 - out <<-"PY"
	import json, sys
	data = open(sys.argv[1], "rb").read()
	assert all(b < 0x80 for b in data), data
	objs = [json.loads(line) for line in data.decode().splitlines()]
	assert all(list(o)[0] == "target" for o in objs), objs
	started = {o["target"]: o for o in objs if o.get("status") == "RUNNING"}
	assert sorted(started) == ["ml-01", "ml-02", "ml-03"], objs
	assert all(o["name"] == t for t, o in started.items()), objs
	results = [o for o in objs if o.get("type") == "result"]
	assert len(results) == 3 and all(o["exit"] == 0 for o in results), objs
	PY
'

test_expect_success 'a filter that matches nothing: usage error, nothing done' '
	{ gg stop --filter labels.class=none 2>err; [ $? = 2 ]; } &&
	test_grep "no VM that gcloud-gpu created in project .project-name. matches the filter" err
'

test_expect_success 'push records the plan state as a label; list shows it' '
	fake_scenario "{$VM, $KEYS, \"instance\": {\"labels\": {\"gcloud-gpu\": \"managed\"}}}" && fake_log_reset &&
	gg push node-name --payload "$DEMO" >push.out 2>push.err &&
	[ "$(fake_requests "POST .*/node-name/setLabels")" = 1 ] &&
	gg list >out &&
	grep -q "^node-name .* 127.0.0.1 *done *off$" out
'

# Four managed VMs on the one loopback sshd (status only reads, so they may share it).
# shellcheck disable=SC2034
FOUR="\"instances\": [
  {\"name\": \"st-1\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"st\"}},
  {\"name\": \"st-2\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"st\"}},
  {\"name\": \"st-3\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"st\"}},
  {\"name\": \"st-4\", \"labels\": {\"gcloud-gpu\": \"managed\", \"class\": \"st\"}}]"

test_expect_success 'status over four VMs at once from a fresh home: one key made, every host key kept' '
	rm -rf "$HOME/.ssh" &&
	fake_scenario "{$VM, $KEYS, $FOUR}" &&
	gg status --filter labels.class=st >out 2>err &&
	[ "$(grep -c "^st-[1-4] *done " out)" = 4 ] &&
	[ "$(grep -c "^compute\.[0-9]* $HOST_TYPE $HOST_BLOB$" "$HOME/.ssh/google_compute_known_hosts")" = 4 ] &&
	[ "$(grep -c . "$HOME/.ssh/google_compute_engine.pub")" = 1 ] &&
	gg -v status --filter labels.class=st >out 2>err &&
	[ "$(grep -c "^st-[1-4] *done " out)" = 4 ] &&
	grep -q "^st-1: gcloud-gpu: debug: running .helper status" err &&
	grep -q "^st-2: gcloud-gpu: debug: running .helper status" err &&
	grep -q "^st-3: gcloud-gpu: debug: running .helper status" err &&
	grep -q "^st-4: gcloud-gpu: debug: running .helper status" err
'

test_done
