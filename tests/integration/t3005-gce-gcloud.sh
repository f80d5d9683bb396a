#!/usr/bin/env bash
# Google's own client, gcloud (the Google Cloud CLI), as the peer of gcloud-gpu:
#  - configuration: every case is written by `gcloud config set` / `configurations
#    create|activate` and CLOUDSDK_* variables, and gcloud-gpu reads what
#    `gcloud config list --format=json` reports (gg-gce-config-dump prints ours);
#  - the loopback API is true to the API: gcloud reads every body it serves;
#  - create, side by side: the insert bodies of `gcloud compute instances create` and
#    `gcloud-gpu create` agree on every field that matters (the intended differences
#    are listed in docs/ARCHITECTURE.md and below);
#  - SSH, side by side: `gcloud compute ssh --dry-run`, `gcloud compute config-ssh` and
#    `gcloud-gpu ssh-config` agree on user, address, host-key alias, the known_hosts
#    line and the ssh-keys metadata line;
#  - gcloud connects to nothing but 127.0.0.1 (gg_gcloud runs it under strace -f -e
#    connect), nor does gcloud-gpu when it runs gcloud for a token.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

fake_api_start --authorized-keys "$TEST_DIR/authorized_keys" || exit 1
DUMP=$GG_BUILD_DIR/tests/gg-gce-config-dump
# shellcheck disable=SC2034 # used in the test bodies
API=http://127.0.0.1:$FAKE_API_PORT/compute/v1/
export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token

# same_config: gcloud's view of the active configuration and ours agree.
same_config() {
	gg_gcloud config list --format=json >gcloud-config.json &&
	"$DUMP" >ours-config.json &&
	python3 - gcloud-config.json ours-config.json <<-'PY'
	import json, sys
	theirs, ours = (json.load(open(p)) for p in sys.argv[1:])
	for section, name in [("core", "project"), ("core", "account"), ("compute", "zone"),
	                      ("compute", "region"), ("api_endpoint_overrides", "compute"),
	                      ("auth", "access_token_file"),
	                      ("auth", "impersonate_service_account")]:
	    # An empty value: gcloud lists it as set to "" (and refuses it where it is
	    # needed), gcloud-gpu as unset (and refuses it the same way).
	    t = theirs.get(section, {}).get(name) or None
	    o = ours[section][name]
	    assert t == o, "%s/%s: gcloud %r, gcloud-gpu %r" % (section, name, t, o)
	PY
}

test_expect_success 'configuration: the default one as gcloud config set wrote it' '
	gg_gcloud config set compute/region us-central1 &&
	same_config && grep -q "\"project\": \"project-name\"" ours-config.json &&
	grep -q "\"region\": \"us-central1\"" ours-config.json
'

test_expect_success 'configuration: configurations create, activate, CLOUDSDK_ACTIVE_CONFIG_NAME' '
	gg_gcloud config configurations create student2 &&
	gg_gcloud config set core/project second-project &&
	gg_gcloud config set api_endpoint_overrides/compute "$API" &&
	CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token gg_gcloud config set compute/zone europe-west4-a &&
	gg_gcloud config set auth/access_token_file "$TEST_DIR/token" &&
	same_config && grep -q "\"configuration\": \"student2\"" ours-config.json &&
	CLOUDSDK_ACTIVE_CONFIG_NAME=default same_config &&
	grep -q "\"project\": \"project-name\"" ours-config.json &&
	gg_gcloud config configurations activate default && same_config &&
	grep -q "\"configuration\": \"default\"" ours-config.json
'

test_expect_success 'configuration: CLOUDSDK_* variables over the file, an empty one unsets' '
	CLOUDSDK_CORE_PROJECT=env-project CLOUDSDK_COMPUTE_ZONE=asia-east1-c \
		CLOUDSDK_COMPUTE_REGION=asia-east1 same_config &&
	grep -q "\"zone\": \"asia-east1-c\"" ours-config.json &&
	CLOUDSDK_CORE_PROJECT= same_config &&
	grep -q "\"project\": null" ours-config.json &&
	CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT=sa@project-name.iam.gserviceaccount.com same_config
'

test_expect_success 'configuration: gcloud-gpu calls the API where gcloud does, host-only override too' '
	(for endpoint in "$API" "http://127.0.0.1:$FAKE_API_PORT/"; do
		gg_gcloud config set api_endpoint_overrides/compute "$endpoint" && same_config &&
		fake_log_reset &&
		gg_gcloud compute instances describe node-name --format="value(name)" >out &&
		test_grep "^node-name$" out &&
		theirs=$(cat "$FAKE_API_STATE/requests.log") && fake_log_reset &&
		"$GG_CLI" start node-name >/dev/null && ours=$(cat "$FAKE_API_STATE/requests.log") &&
		{ [ "$theirs" = "$ours" ] || { echo "gcloud: $theirs; ours: $ours"; exit 1; }; } || exit 1
	done) &&
	gg_gcloud config set api_endpoint_overrides/compute "$API"
'

test_expect_success 'the fake API: gcloud reads the instance, project, region, GPU types' '
	gg_gcloud compute instances describe node-name --format=json >inst.json &&
	python3 -c "import json,sys; i=json.load(open(sys.argv[1])); \
assert i[\"name\"] == \"node-name\" and i[\"id\"] == \"4006034190819017667\", i; \
assert i[\"status\"] == \"RUNNING\"; \
assert i[\"networkInterfaces\"][0][\"accessConfigs\"][0][\"natIP\"] == \"23.236.58.15\"" inst.json &&
	gg_gcloud compute project-info describe --format="value(name)" >out &&
	test_grep "^project-name$" out &&
	gg_gcloud compute regions describe us-central1 --format="value(name,status)" >out &&
	test_grep "^us-central1	UP$" out &&
	gg_gcloud compute accelerator-types list --filter="zone:us-central1-a" \
		--format="value(name,maximumCardsPerInstance)" >out &&
	test_grep "^nvidia-tesla-t4	4$" out && test_grep "^nvidia-l4	8$" out &&
	gg_gcloud compute accelerator-types describe nvidia-l4 --format="value(description)" >out &&
	test_grep "^NVIDIA L4$" out
'

test_expect_success 'the fake API: gcloud reads its operations and guest attributes' '
	"$GG_CLI" stop node-name >/dev/null &&
	op=$(sed -n "s|.*/operations/\(operation-[0-9]*-stop\)$|\1|p" "$FAKE_API_STATE/requests.log" | head -1) &&
	gg_gcloud compute operations describe "$op" --format="value(status,operationType)" >out &&
	test_grep "^DONE	stop$" out &&
	gg_gcloud compute instances start node-name &&
	gg_gcloud compute instances describe node-name --format="value(status)" >out &&
	test_grep "^RUNNING$" out &&
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"host_keys\": [{\"key\": \"ssh-ed25519\", \"value\": \"AAAAC3NzaC1lZDI1NTE5AAAAIOdHfjE0Yxg1hXyqcTQWx1QkBFJ4jWWnYv1U0O3kQ3Zp\"}],
	  \"metadata_items\": [{\"key\": \"enable-guest-attributes\", \"value\": \"TRUE\"}]}" &&
	gg_gcloud compute instances get-guest-attributes node-name --query-path=hostkeys/ \
		--format="value(key)" >out &&
	test_grep "^ssh-ed25519$" out
'

# normalise BODY-FILE: the fields of an insert body that matter, links cut to what
# they name (gcloud sends full URLs, gcloud-gpu paths relative to the project, which
# the API resolves alike).
cat >normalise.py <<-'PY'
import json, re, sys
def tail(link, n=1):
    return "/".join(link.rstrip("/").split("/")[-n:]) if link else None
def image(src):
    # gcloud: projects/P/zones/-/imageFamilyViews/F; ours: projects/P/global/images/family/F
    m = re.search(r"projects/([^/]+)/(?:zones/-/imageFamilyViews|global/images/family)/([^/]+)$", src)
    return m.groups() if m else src
b = json.load(open(sys.argv[1]))
d = b["disks"][0]
nic = b["networkInterfaces"][0]
print(json.dumps({
    "name": b["name"],
    "machineType": tail(b["machineType"]),
    "guestAccelerators": [(tail(g["acceleratorType"]), g["acceleratorCount"])
                          for g in b.get("guestAccelerators", [])],
    "scheduling": {k: b["scheduling"].get(k) for k in (
        "onHostMaintenance", "automaticRestart", "provisioningModel",
        "instanceTerminationAction", "preemptible")},
    "disk": [d["boot"], d["autoDelete"], d["initializeParams"]["diskSizeGb"],
             tail(d["initializeParams"]["diskType"]), image(d["initializeParams"]["sourceImage"])],
    "network": tail(nic.get("network")),
    "subnetwork": tail(nic.get("subnetwork"), 4),
    "nat": [a["type"] for a in nic.get("accessConfigs", [])],
    "metadata": sorted((i["key"], i["value"]) for i in b.get("metadata", {}).get("items", [])),
    "labels": b.get("labels"),
    "serviceAccounts": [(s["email"], s["scopes"]) for s in b.get("serviceAccounts", [])],
}, indent=1, sort_keys=True))
PY

# side_by_side NAME GCLOUD-FLAGS -- GCLOUD-GPU-FLAGS: both bodies, normalised, the same.
side_by_side() {
	local name=$1 gflags=() ours=()
	shift
	while [ "$1" != -- ]; do gflags+=("$1"); shift; done
	shift
	ours=("$@")
	gg_gcloud compute instances create "$name" --zone us-central1-a \
		--maintenance-policy TERMINATE --image-family ubuntu-2204-lts \
		--image-project ubuntu-os-cloud --boot-disk-type pd-balanced \
		--metadata enable-guest-attributes=TRUE --labels gcloud-gpu=managed \
		"${gflags[@]}" >/dev/null &&
	python3 normalise.py "$FAKE_API_STATE/insert-body.json" >"gcloud-$name.json" &&
	gg_gcloud compute instances delete "$name" ||
		{ echo "gcloud failed:"; tail -n 5 "$TEST_DIR/gcloud.log"; return 1; }
	"$GG_CLI" create "$name" "${ours[@]}" >/dev/null &&
	python3 normalise.py "$FAKE_API_STATE/insert-body.json" >"ours-$name.json" &&
	diff -u "gcloud-$name.json" "ours-$name.json"
}

test_expect_success 'create, side by side: a T4 VM, TERMINATE, image family, 200 GB' '
	fake_scenario "{}" &&
	side_by_side t4-vm --machine-type n1-standard-8 \
		--accelerator type=nvidia-tesla-t4,count=1 --boot-disk-size 200GB \
		--service-account sa@project-name.iam.gserviceaccount.com --scopes cloud-platform \
		-- --gpu nvidia-tesla-t4 --disk-gb 200 \
		--service-account sa@project-name.iam.gserviceaccount.com &&
	grep -q "\"n1-standard-8\"" ours-t4-vm.json && grep -q "\"TERMINATE\"" ours-t4-vm.json
'

test_expect_success 'create, side by side: 2 x L4 Spot with a subnet' '
	side_by_side l4-spot --machine-type g2-standard-24 \
		--accelerator type=nvidia-l4,count=2 --boot-disk-size 100GB \
		--provisioning-model SPOT --instance-termination-action STOP \
		--subnet gpu-subnet --no-service-account --no-scopes \
		-- --gpu nvidia-l4 --gpu-count 2 --spot --subnet gpu-subnet &&
	grep -q "\"regions/us-central1/subnetworks/gpu-subnet\"" ours-l4-spot.json &&
	grep -q "\"g2-standard-24\"" ours-l4-spot.json && grep -q "\"SPOT\"" ours-l4-spot.json
'

test_expect_success 'SSH, side by side: gcloud compute ssh --dry-run and ssh-config agree' '
	fake_scenario "{\"nat_ip\": \"127.0.0.1\", \"host_keys\": [{\"key\": \"ssh-ed25519\", \"value\": \"AAAAC3NzaC1lZDI1NTE5AAAAIOdHfjE0Yxg1hXyqcTQWx1QkBFJ4jWWnYv1U0O3kQ3Zp\"}],
	  \"metadata_items\": [{\"key\": \"enable-guest-attributes\", \"value\": \"TRUE\"}]}" &&
	USER=Student.Name gg_gcloud compute ssh node-name --dry-run >dry-run &&
	cp "$HOME/.ssh/google_compute_known_hosts" gcloud-known-hosts &&
	USER=Student.Name "$GG_CLI" ssh-config node-name >ours-ssh 2>/dev/null &&
	cmp gcloud-known-hosts "$HOME/.ssh/google_compute_known_hosts" &&
	read -r -a argv < <(tail -n 1 dry-run) && [ "${argv[0]}" = /usr/bin/ssh ] &&
	dest=${argv[${#argv[@]}-1]} && [ "$dest" = Student.Name@127.0.0.1 ] &&
	grep -q "^  User Student.Name$" ours-ssh && grep -q "^  HostName 127.0.0.1$" ours-ssh &&
	alias=$(grep -o "HostKeyAlias=[^ ]*" dry-run | cut -d= -f2) &&
	[ "$alias" = compute.4006034190819017667 ] && grep -q "^  HostKeyAlias $alias$" ours-ssh &&
	grep -q "^  IdentityFile $HOME/.ssh/google_compute_engine$" ours-ssh &&
	grep -q -- "-i $HOME/.ssh/google_compute_engine" dry-run &&
	grep -q "^  UserKnownHostsFile $HOME/.ssh/google_compute_known_hosts$" ours-ssh &&
	grep -q "StrictHostKeyChecking=yes" dry-run && grep -q "^  StrictHostKeyChecking yes$" ours-ssh
'

test_expect_success 'SSH, side by side: config-ssh and ours write the same ssh-keys line' '
	USER=Student.Name gg_gcloud compute config-ssh >/dev/null &&
	grep -q "HostKeyAlias=compute.4006034190819017667" "$HOME/.ssh/config" &&
	grep -q "HostName 127.0.0.1" "$HOME/.ssh/config" &&
	gg_gcloud compute project-info describe --format=json >project.json &&
	gg_gcloud compute instances describe node-name --format=json >instance.json &&
	python3 - project.json instance.json <<-'PY'
	import json, sys
	def keys(md):
	    return [i["value"] for i in md.get("items", []) if i["key"] == "ssh-keys"][0].splitlines()
	project = keys(json.load(open(sys.argv[1]))["commonInstanceMetadata"])
	instance = keys(json.load(open(sys.argv[2]))["metadata"])
	pub = open(sys.argv[1].replace("project.json", "home/.ssh/google_compute_engine.pub")).read().split()
	ours = [l for l in instance if pub[1] in l]
	theirs = [l for l in project if pub[1] in l]
	assert len(ours) == 1 and len(theirs) == 1, (ours, theirs)
	assert ours[0].split() == theirs[0].split(), (ours, theirs)
	assert ours[0].startswith("Student.Name:" + pub[0] + " " + pub[1]), ours
	PY
'

test_expect_success 'gcloud auth/impersonate_service_account: the token comes through gcloud' '
	gg_gcloud config set api_endpoint_overrides/iamcredentials "http://127.0.0.1:$FAKE_API_PORT/" &&
	gg_gcloud config set auth/access_token_file "$TEST_DIR/token" &&
	gg_gcloud config set auth/impersonate_service_account runner@project-name.iam.gserviceaccount.com &&
	fake_scenario "{\"impersonated_token\": \"impersonated-token\"}" && fake_log_reset &&
	: >"$FAKE_API_STATE/bearers.log" &&
	# LeakSanitizer cannot run under ptrace: this one traced run goes without it.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -e trace=connect -o gg-strace.log "$GG_CLI" start node-name >out &&
	test_grep "is running" out &&
	[ "$(fake_requests "POST /v1/projects/-/serviceAccounts/runner@project-name.iam.gserviceaccount.com:generateAccessToken")" = 1 ] &&
	grep -q "^GET /compute/v1/projects/project-name/zones/us-central1-a/instances/node-name impersonated-token$" \
		"$FAKE_API_STATE/bearers.log" &&
	loopback_only gg-strace.log &&
	gg_gcloud config unset auth/impersonate_service_account &&
	gg_gcloud config unset auth/access_token_file
'

test_done
