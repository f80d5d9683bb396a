#!/usr/bin/env bash
# What a review of the Compute Engine layer against Google's sources found (issue 20),
# one case per finding, each failing on the code before its fix: quota (Spot on
# standard quota, a missing metric, the metric names), requestId on every change,
# host keys waited for after a boot only, machine types from GPU and count, expired
# and blocked ssh-keys, project guest attributes, network/subnet/service account,
# credentials through gcloud, a 401, OS Login before a start, K80 never picked,
# delete's prompt, Retry-After.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

fake_api_start || exit 1
export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token
# shellcheck disable=SC2034 # used in the test bodies
I=projects/project-name/zones/us-central1-a/instances
# shellcheck disable=SC2034
HOSTKEY='"host_keys": [{"key": "ssh-ed25519", "value": "AAAAC3NzaC1lZDI1NTE5AAAAIOdHfjE0Yxg1hXyqcTQWx1QkBFJ4jWWnYv1U0O3kQ3Zp"}]'
# shellcheck disable=SC2034
GA_ON='{"key": "enable-guest-attributes", "value": "TRUE"}'

body() { # PYTHON-EXPRESSION on b, the last insert body
	python3 -c "import json,sys; b=json.load(open(sys.argv[1])); r=$1; print(r)" \
		"$FAKE_API_STATE/insert-body.json"
}

test_expect_success '#1 a Spot VM with only standard GPU quota is created' '
	fake_scenario "{\"region_quotas\": [{\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 1, \"usage\": 0}]}" &&
	"$GG_CLI" create spot-std --spot >out && test_grep "spot-std is created" out &&
	[ "$(body "b[\"scheduling\"][\"provisioningModel\"]")" = SPOT ]
'

test_expect_success '#1 Spot refused when neither preemptible nor standard quota allows it' '
	fake_scenario "{\"region_quotas\": [{\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 0, \"usage\": 0},
	  {\"metric\": \"PREEMPTIBLE_NVIDIA_T4_GPUS\", \"limit\": 0, \"usage\": 0}]}" &&
	{ "$GG_CLI" create spot-none --spot 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	test_grep "PREEMPTIBLE_NVIDIA_T4_GPUS" err && test_grep "quota .NVIDIA_T4_GPUS." err
'

test_expect_success '#2 a missing GPU metric is no refusal: the insert decides' '
	fake_scenario "{}" && fake_log_reset &&
	"$GG_CLI" create no-metric >out && test_grep "no-metric is created" out &&
	[ "$(fake_requests "POST /compute/v1/$I$")" = 1 ]
'

test_expect_success '#2 a region whose quotas did not load (quotaStatusWarning) is no refusal' '
	fake_scenario "{\"region_warning\": true,
	  \"region_quotas\": [{\"metric\": \"NVIDIA_T4_GPUS\", \"limit\": 0, \"usage\": 0}]}" &&
	"$GG_CLI" create warned >out && test_grep "warned is created" out
'

test_expect_success '#3 H100: quota metric NVIDIA_H100_GPUS, machine a3-highgpu-8g' '
	fake_scenario "{\"accelerators\": [\"nvidia-h100-80gb\"],
	  \"region_quotas\": [{\"metric\": \"NVIDIA_H100_GPUS\", \"limit\": 4, \"usage\": 0}]}" &&
	{ "$GG_CLI" create h100 --gpu-count 8 2>err; [ $? = 3 ]; } &&
	test_grep "quota .NVIDIA_H100_GPUS. in region .us-central1. allows 4 more GPUs, 8 needed" err &&
	fake_scenario "{\"accelerators\": [\"nvidia-h100-80gb\"],
	  \"region_quotas\": [{\"metric\": \"NVIDIA_H100_GPUS\", \"limit\": 8, \"usage\": 0}]}" &&
	"$GG_CLI" create h100 --gpu-count 8 >/dev/null &&
	[ "$(body "b[\"machineType\"]")" = zones/us-central1-a/machineTypes/a3-highgpu-8g ]
'

test_expect_success '#4 a retried insert carries its requestId: one VM, no 409' '
	fake_scenario "{\"fail\": [{\"match\": \"POST /compute/v1/$I\", \"status\": 503, \"after\": true}]}" &&
	: >"$FAKE_API_STATE/request-ids.log" &&
	"$GG_CLI" create retried >out && test_grep "retried is created" out &&
	ids=$(grep "^POST /compute/v1/$I " "$FAKE_API_STATE/request-ids.log" | cut -d" " -f3 | sort -u) &&
	[ "$(grep -c "^POST /compute/v1/$I " "$FAKE_API_STATE/request-ids.log")" = 2 ] &&
	[ "$(echo "$ids" | wc -l)" = 1 ] && [ "$ids" != None ] &&
	echo "$ids" | grep -Eq "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
'

test_expect_success '#4 start, stop, delete and setMetadata send a requestId, each its own' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\"}" && : >"$FAKE_API_STATE/request-ids.log" &&
	"$GG_CLI" stop node-name && "$GG_CLI" start node-name &&
	"$GG_CLI" ssh-config node-name >/dev/null 2>&1 && "$GG_CLI" delete node-name --yes &&
	cat "$FAKE_API_STATE/request-ids.log" &&
	(for action in "$I/node-name/stop" "$I/node-name/start" "$I/node-name/setMetadata" "$I/node-name"; do
		grep -Eq "^(POST|DELETE) /compute/v1/$action [0-9a-f-]{36}$" \
			"$FAKE_API_STATE/request-ids.log" || { echo "no requestId: $action"; exit 1; }
	done) &&
	[ "$(cut -d" " -f3 "$FAKE_API_STATE/request-ids.log" | sort -u | wc -l)" = 4 ]
'

test_expect_success '#5 host keys: after a start, waited for with backoff' '
	fake_scenario "{\"instance\": {\"status\": \"TERMINATED\"}, \"nat_ip\": \"127.0.0.1\",
	  \"metadata_items\": [$GA_ON], $HOSTKEY, \"host_keys_after\": 15}" && fake_log_reset &&
	"$GG_CLI" ssh-config node-name >out 2>err &&
	test_grep "HostKeyAlias compute.4006034190819017667" out &&
	[ "$(fake_requests "getGuestAttributes")" = 16 ]
'

test_expect_success '#5 host keys: a VM that has run a while is asked once' '
	# Never pinned before (a pinned alias stays pinned whatever the VM says: t3004).
	rm -f "$HOME/.ssh/google_compute_known_hosts" &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [$GA_ON], $HOSTKEY,
	  \"host_keys_after\": 3}" && fake_log_reset &&
	"$GG_CLI" ssh-config node-name >out 2>err &&
	test_grep "publishes no host keys" err && ! grep -q HostKeyAlias out &&
	[ "$(fake_requests "getGuestAttributes")" = 1 ]
'

test_expect_success '#5 host keys: right after create (lastStartTimestamp now), waited for' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [$GA_ON], $HOSTKEY,
	  \"host_keys_after\": 5}" &&
	"$GG_CLI" create fresh >/dev/null && fake_log_reset &&
	"$GG_CLI" ssh-config fresh >out 2>err && test_grep "HostKeyAlias compute." out &&
	[ "$(fake_requests "getGuestAttributes")" = 6 ]
'

test_expect_success '#6 the machine type follows GPU and count; an unmapped one asks for --machine-type' '
	fake_scenario "{\"accelerators\": [\"nvidia-l4\", \"nvidia-b300\"]}" &&
	"$GG_CLI" create l4x2 --gpu-count 2 >/dev/null &&
	[ "$(body "b[\"machineType\"]")" = zones/us-central1-a/machineTypes/g2-standard-24 ] &&
	[ "$(body "b[\"guestAccelerators\"][0][\"acceleratorCount\"]")" = 2 ] &&
	fake_log_reset &&
	{ "$GG_CLI" create b300 --gpu nvidia-b300 2>err; [ $? = 2 ]; } && [ "$(wc -l <err)" = 1 ] &&
	test_grep "no machine type known for 1 x .nvidia-b300.: pass --machine-type" err &&
	[ "$(fake_requests "POST")" = 0 ] &&
	{ "$GG_CLI" create t4x3 --gpu nvidia-l4 --gpu-count 3 2>err; [ $? = 2 ]; } &&
	"$GG_CLI" create b300 --gpu nvidia-b300 --machine-type a4x-highgpu-4g >/dev/null &&
	[ "$(body "b[\"machineType\"]")" = zones/us-central1-a/machineTypes/a4x-highgpu-4g ]
'

test_expect_success '#7 an expired google-ssh copy of our key is no key: added, the expired one dropped' '
	USER=student "$GG_CLI" ssh-config node-name >/dev/null 2>&1 || true
	read -r t b _ <"$HOME/.ssh/google_compute_engine.pub" &&
	expired="student:$t $b google-ssh {\\\"userName\\\":\\\"student@example.com\\\",\\\"expireOn\\\":\\\"2020-01-01T00:00:00+0000\\\"}" &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [{\"key\": \"ssh-keys\", \"value\": \"$expired\"}]}" &&
	USER=student "$GG_CLI" ssh-config node-name >/dev/null 2>err &&
	gg_gcloud compute instances describe node-name --format=json >inst.json &&
	python3 - inst.json "$b" <<-PY
	import json, sys
	items = json.load(open(sys.argv[1]))["metadata"]["items"]
	keys = [i["value"] for i in items if i["key"] == "ssh-keys"][0].splitlines()
	assert len(keys) == 1 and keys[0].startswith("student:") and sys.argv[2] in keys[0], keys
	assert "expireOn" not in keys[0], keys
	PY
'

test_expect_success '#7 an unexpired google-ssh copy counts; a legacy instance sshKeys blocks project keys' '
	read -r t b _ <"$HOME/.ssh/google_compute_engine.pub" &&
	valid="student:$t $b google-ssh {\\\"userName\\\":\\\"student@example.com\\\",\\\"expireOn\\\":\\\"2099-01-01T00:00:00+0000\\\"}" &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [{\"key\": \"ssh-keys\", \"value\": \"$valid\"}]}" &&
	fake_log_reset && USER=student "$GG_CLI" ssh-config node-name >/dev/null 2>&1 &&
	[ "$(fake_requests "POST .*/setMetadata")" = 0 ] &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [{\"key\": \"sshKeys\", \"value\": \"someone:ssh-rsa AAAA someone\"}],
	  \"project_metadata_items\": [{\"key\": \"ssh-keys\", \"value\": \"student:$t $b student\"}]}" &&
	fake_log_reset && USER=student "$GG_CLI" ssh-config node-name >/dev/null 2>&1 &&
	[ "$(fake_requests "POST .*/setMetadata")" = 1 ]
'

test_expect_success '#8 enable-guest-attributes in the project metadata counts' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", $HOSTKEY, \"metadata_items\": [],
	  \"project_metadata_items\": [$GA_ON]}" &&
	"$GG_CLI" ssh-config node-name >out 2>/dev/null &&
	test_grep "HostKeyAlias compute.4006034190819017667" out &&
	rm -f "$HOME/.ssh/google_compute_known_hosts" &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", $HOSTKEY, \"metadata_items\": [{\"key\": \"enable-guest-attributes\", \"value\": \"FALSE\"}],
	  \"project_metadata_items\": [$GA_ON]}" &&
	"$GG_CLI" ssh-config node-name >out 2>/dev/null && ! grep -q HostKeyAlias out
'

test_expect_success '#9 --network, --subnet and --service-account reach the insert body' '
	fake_scenario "{}" &&
	"$GG_CLI" create netted --network research --subnet gpu-subnet \
		--service-account runner@project-name.iam.gserviceaccount.com >/dev/null &&
	[ "$(body "b[\"networkInterfaces\"][0][\"network\"]")" = global/networks/research ] &&
	[ "$(body "b[\"networkInterfaces\"][0][\"subnetwork\"]")" = regions/us-central1/subnetworks/gpu-subnet ] &&
	[ "$(body "b[\"serviceAccounts\"][0][\"email\"]")" = runner@project-name.iam.gserviceaccount.com ] &&
	[ "$(body "b[\"labels\"][\"gcloud-gpu\"]")" = managed ] &&
	"$GG_CLI" create plain >/dev/null &&
	[ "$(body "b[\"networkInterfaces\"][0][\"network\"]")" = global/networks/default ] &&
	[ "$(body "\"serviceAccounts\" in b")" = False ] &&
	{ "$GG_CLI" create bad --subnet "a/b" 2>err; [ $? = 2 ]; } && test_grep "bad --network or --subnet" err
'

test_expect_success '#10 ADC of another type (external_account): the token through gcloud' '
	mkdir -p bin &&
	printf "#!/bin/sh\n[ \"\$*\" = \"auth application-default print-access-token\" ] && [ -n \"\$GOOGLE_APPLICATION_CREDENTIALS\" ] && echo test-token\n" >bin/gcloud &&
	chmod +x bin/gcloud &&
	echo "{\"type\": \"external_account\", \"audience\": \"//iam.googleapis.com/x\"}" >ext.json &&
	(unset CLOUDSDK_AUTH_ACCESS_TOKEN_FILE &&
	 PATH=$TEST_DIR/bin:$PATH GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/ext.json "$GG_CLI" start node-name >out) &&
	test_grep "is running" out &&
	(unset CLOUDSDK_AUTH_ACCESS_TOKEN_FILE &&
	 printf "#!/bin/sh\nexit 1\n" >bin/gcloud &&
	 { PATH=$TEST_DIR/bin:$PATH GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/ext.json "$GG_CLI" start node-name 2>err; [ $? = 3 ]; }) &&
	test_grep "type .external_account., through .gcloud auth application-default print-access-token." err
'

test_expect_success '#11 a 401 drops the cached token, asks again once, names the source' '
	fake_scenario "{}" && rm -rf "$XDG_CACHE_HOME/gcloud-gpu" &&
	fake_adc_user "$TEST_DIR/adc.json" &&
	(unset CLOUDSDK_AUTH_ACCESS_TOKEN_FILE && export GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc.json &&
	 "$GG_CLI" start node-name >/dev/null &&
	 fake_scenario "{\"tokens\": [\"fresh-token\"], \"issue_token\": \"fresh-token\"}" && fake_log_reset &&
	 "$GG_CLI" start node-name >out && test_grep "is running" out &&
	 [ "$(fake_requests "POST /token")" = 1 ] &&
	 grep -q fresh-token "$XDG_CACHE_HOME"/gcloud-gpu/token-*.json &&
	 fake_scenario "{\"tokens\": [\"nobody\"], \"issue_token\": \"refused-token\"}" && fake_log_reset &&
	 { "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } && [ "$(wc -l <err)" = 1 ] &&
	 test_grep "refused the credentials (401) from application default credentials .$TEST_DIR/adc.json." err &&
	 test_grep "gcloud auth application-default login" err &&
	 [ "$(fake_requests "POST /token")" = 1 ] && ! grep -q refused-token err)
'

test_expect_success '#13 OS Login ("1", "t" too) is refused before a stopped VM is started' '
	(for v in TRUE 1 t; do
		fake_scenario "{\"instance\": {\"status\": \"TERMINATED\"}, \"nat_ip\": \"127.0.0.1\",
		  \"project_metadata_items\": [{\"key\": \"enable-oslogin\", \"value\": \"$v\"}]}" &&
		fake_log_reset &&
		{ "$GG_CLI" ssh-config node-name 2>err; [ $? = 3 ]; } && test_grep "OS Login is enabled" err &&
		[ "$(fake_requests "POST")" = 0 ] || exit 1
	done)
'

test_expect_success '#15 the K80 is never picked; newer GPUs are' '
	fake_scenario "{\"accelerators\": [\"nvidia-tesla-k80\", \"nvidia-tesla-a100\"]}" &&
	"$GG_CLI" create no-k80 >/dev/null &&
	[ "$(body "b[\"guestAccelerators\"][0][\"acceleratorType\"]")" = zones/us-central1-a/acceleratorTypes/nvidia-tesla-a100 ] &&
	[ "$(body "b[\"machineType\"]")" = zones/us-central1-a/machineTypes/a2-highgpu-1g ] &&
	fake_scenario "{\"accelerators\": [\"nvidia-tesla-k80\"]}" &&
	{ "$GG_CLI" create only-k80 2>err; [ $? = 2 ]; } && test_grep "offers no GPU" err
'

test_expect_success '#16 delete says when the boot disk is kept (autoDelete off)' '
	fake_scenario "{\"instance\": {\"disks\": [{\"boot\": true, \"autoDelete\": false,
	  \"source\": \"https://www.googleapis.com/compute/v1/projects/p/zones/z/disks/keep-me\"}]}}" &&
	{ "$GG_CLI" delete node-name </dev/null 2>err; [ $? = 2 ]; } &&
	test_grep "boot disk .keep-me. is kept" err && ! grep -q "loses its disk" err &&
	"$GG_CLI" delete node-name --yes >out && test_grep "keep-me. is kept" out
'

test_expect_success '#16 Retry-After is honoured' '
	fake_scenario "{\"fail\": [{\"match\": \"GET /compute/v1/$I/node-name\", \"status\": 429,
	  \"reason\": \"rateLimitExceeded\", \"retry_after\": 2}]}" &&
	start=$(date +%s%N) && "$GG_CLI" start node-name >out && end=$(date +%s%N) &&
	test_grep "is running" out &&
	[ $(( (end - start) / 1000000 )) -ge 2000 ]
'

test_done
