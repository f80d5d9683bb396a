#!/usr/bin/env bash
# A VM's lifecycle against the loopback API: start (a TERMINATED VM is started and
# the operation waited for), stop, delete, create (GPU from acceleratorTypes, quota
# checked first, the insert body as the recipe wants it), and every error class as
# one line with the next action and exit 3.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

fake_api_start || exit 1
export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token
# shellcheck disable=SC2034 # used in the test bodies
I=projects/project-name/zones/us-central1-a/instances/node-name

test_expect_success 'a TERMINATED instance is started and the operation waited for' '
	fake_scenario "{\"instance\": {\"status\": \"TERMINATED\"}}" && fake_log_reset &&
	"$GG_CLI" start node-name >out 2>err &&
	test_grep "node-name is running; address 23.236.58.15" out &&
	test_grep "stopped: starting it" err &&
	[ "$(fake_requests "POST /compute/v1/$I/start")" = 1 ] &&
	[ "$(fake_requests "GET .*/operations/operation-1-start")" -ge 1 ]
'

test_expect_success 'stop, then start again' '
	"$GG_CLI" stop node-name >out && test_grep "is stopped" out &&
	"$GG_CLI" start node-name >out && test_grep "is running;" out
'

test_expect_success 'delete wants --yes without a terminal' '
	fake_scenario "{\"instance\": {\"disks\": [{\"boot\": true, \"autoDelete\": true,
	  \"source\": \"https://www.googleapis.com/compute/v1/projects/p/zones/z/disks/node-name\"}]}}" &&
	{ "$GG_CLI" delete node-name </dev/null 2>err; [ $? = 2 ]; } && test_grep "[-]-yes" err &&
	"$GG_CLI" delete node-name --yes >out && test_grep "node-name is deleted: the VM .node-name. in project .project-name., zone .us-central1-a., with its disk .node-name." out
'

test_expect_success '404: not found, names the flags to check' '
	{ "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } &&
	[ "$(wc -l <err)" = 1 ] &&
	test_grep "not found (404)" err && test_grep "[-]-project and --zone" err
'

test_expect_success '5xx and 429 are retried, then succeed' '
	fake_scenario "{\"fail\": [{\"match\": \"GET /compute/v1/$I\", \"status\": 503, \"times\": 2},
	                          {\"match\": \"POST\", \"status\": 429, \"reason\": \"rateLimitExceeded\", \"times\": 1}]}" &&
	fake_log_reset && "$GG_CLI" stop node-name &&
	[ "$(fake_requests "POST /compute/v1/$I/stop")" = 2 ] &&
	"$GG_CLI" start node-name && [ "$(fake_requests "GET /compute/v1/$I\$")" -ge 3 ]
'

expect_error() { # SCENARIO-FAIL-RULE GREP...
	fake_scenario "{\"fail\": [$1]}" && shift &&
	{ "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	for g in "$@"; do test_grep "$g" err || return 1; done
}

test_expect_success '5xx that persists: tries named, try later' '
	fake_log_reset &&
	expect_error "{\"match\": \"node-name\", \"status\": 500, \"times\": 9}" \
		"failed (500) after 9 tries" "try again later" &&
	[ "$(fake_requests "GET /compute/v1/$I\$")" = 9 ]
'

test_expect_success '429 that persists: rate limited' '
	expect_error "{\"match\": \"node-name\", \"status\": 429, \"times\": 9}" "rate limited (429)" "wait a minute"
'

test_expect_success '401 and 403 say what to do' '
	expect_error "{\"match\": \"node-name\", \"status\": 401, \"reason\": \"authError\", \"times\": 2}" \
		"refused the credentials (401) from access token file" "gcloud auth print-access-token >" &&
	expect_error "{\"match\": \"node-name\", \"status\": 403, \"reason\": \"forbidden\"}" "permission denied (403)" "Compute Instance Admin" &&
	expect_error "{\"match\": \"node-name\", \"status\": 403, \"reason\": \"accessNotConfigured\"}" "gcloud services enable compute.googleapis.com"
'

test_expect_success '409 conflict and quota errors' '
	expect_error "{\"match\": \"node-name\", \"status\": 409, \"reason\": \"resourceInUseByAnotherResource\"}" "conflict (409)" "try again" &&
	expect_error "{\"match\": \"node-name\", \"status\": 403, \"reason\": \"quotaExceeded\", \"message\": \"Quota CPUS exceeded\"}" "quota exceeded: Quota CPUS exceeded" "iam-admin/quotas"
'

test_expect_success 'create is refused on zero regional GPU quota, naming it' '
	fake_scenario "{\"region_quotas\": [{\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 0, \"usage\": 0}]}" &&
	fake_log_reset &&
	{ "$GG_CLI" create gpu-vm 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	test_grep "quota .NVIDIA_T4_GPUS. in region .us-central1. allows 0 more GPUs" err &&
	test_grep "request 1 at https://console.cloud.google.com/iam-admin/quotas?project=project-name" err &&
	[ "$(fake_requests "POST")" = 0 ]
'

test_expect_success 'create is refused when GPUS_ALL_REGIONS is 0' '
	fake_scenario "{\"region_quotas\": [{\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 4, \"usage\": 0}],
	                \"project_quotas\": [{\"metric\": \"GPUS_ALL_REGIONS\", \"limit\": 0, \"usage\": 0}]}" &&
	{ "$GG_CLI" create gpu-vm 2>err; [ $? = 3 ]; } &&
	test_grep "quota .GPUS_ALL_REGIONS. in project .project-name. (global) allows 0" err
'

# shellcheck disable=SC2034
QUOTA='"region_quotas": [{"metric": "NVIDIA_T4_GPUS", "limit": 4, "usage": 0}, {"metric": "PREEMPTIBLE_NVIDIA_T4_GPUS", "limit": 4, "usage": 0}], "project_quotas": [{"metric": "GPUS_ALL_REGIONS", "limit": 1, "usage": 0}]'

test_expect_success 'create: the body has the GPU, TERMINATE, the image family, 100 GB' '
	fake_scenario "{$QUOTA}" &&
	"$GG_CLI" create gpu-vm >out && test_grep "gpu-vm is created in us-central1-a" out &&
	b=$FAKE_API_STATE/insert-body.json &&
	python3 - "$b" <<-PY
	import json, sys
	b = json.load(open(sys.argv[1]))
	assert b["name"] == "gpu-vm"
	assert b["guestAccelerators"] == [{"acceleratorCount": 1,
	    "acceleratorType": "zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4"}], b
	assert b["scheduling"]["onHostMaintenance"] == "TERMINATE"
	assert b["machineType"] == "zones/us-central1-a/machineTypes/n1-standard-8"
	p = b["disks"][0]["initializeParams"]
	assert p["sourceImage"] == "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts", p
	assert p["diskSizeGb"] == "100" and b["disks"][0]["boot"]
	assert {"key": "enable-guest-attributes", "value": "TRUE"} in b["metadata"]["items"]
	assert "provisioningModel" not in b["scheduling"]
	PY
'

test_expect_success 'create prefers a T4 when offered, --spot asks for SPOT' '
	fake_scenario "{$QUOTA, \"accelerators\": [\"nvidia-tesla-t4\"],
	  \"region_quotas\": [{\"metric\": \"PREEMPTIBLE_NVIDIA_T4_GPUS\", \"limit\": 1, \"usage\": 0}]}" &&
	"$GG_CLI" create spot-vm --spot &&
	python3 -c "import json,sys; b=json.load(open(sys.argv[1])); \
assert b[\"guestAccelerators\"][0][\"acceleratorType\"].endswith(\"/nvidia-tesla-t4\"); \
assert b[\"scheduling\"][\"provisioningModel\"] == \"SPOT\"" "$FAKE_API_STATE/insert-body.json"
'

test_expect_success 'create: a GPU the zone does not offer, a missing image family' '
	{ "$GG_CLI" create x --gpu nvidia-h100-80gb 2>err; [ $? = 2 ]; } &&
	test_grep "offers no GPU .nvidia-h100-80gb." err && test_grep "it offers nvidia-tesla-t4" err &&
	{ "$GG_CLI" create x --image-family coreos-stable 2>err; [ $? = 3 ]; } &&
	test_grep "image family .coreos-stable." err && test_grep "not found (404)" err
'

test_expect_success 'create: zone exhausted, from the operation' '
	fake_scenario "{$QUOTA, \"operation_error\": {\"code\": \"ZONE_RESOURCE_POOL_EXHAUSTED\",
	  \"message\": \"The zone does not have enough resources\"}}" &&
	{ "$GG_CLI" create gpu-vm 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	test_grep "no capacity" err && test_grep "[-]-zone" err
'

test_expect_success 'create: a name that exists is a 409' '
	fake_scenario "{$QUOTA}" &&
	{ "$GG_CLI" create node-name 2>err; [ $? = 3 ]; } && test_grep "conflict (409)" err
'

test_expect_success 'bad input: one line and exit 2' '
	{ "$GG_CLI" start "../x" 2>err; [ $? = 2 ]; } && test_grep "bad instance name" err &&
	{ "$GG_CLI" create a --gpu-count zero 2>err; [ $? = 2 ]; } && test_grep "bad --gpu-count" err &&
	{ "$GG_CLI" stop 2>err; [ $? = 2 ]; } && test_grep "takes one instance name" err
'

test_done
