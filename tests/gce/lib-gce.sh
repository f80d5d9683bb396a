# shellcheck shell=bash
# tests/gce/lib-gce.sh: start the loopback Compute Engine API (fake_api.py) for a
# behaviour test, after tests/integration/lib.sh.
#
#   fake_api_start [--authorized-keys FILE]   exports FAKE_API_PORT, FAKE_API_STATE,
#       HOME (a scratch one), CLOUDSDK_CONFIG with a default configuration written by
#       gcloud itself (`gcloud config set`: project-name, us-central1-a, an account,
#       api_endpoint_overrides/compute pointing at the server, gcloud's own update
#       checks and usage reports off, so that it reaches nothing else), XDG_CACHE_HOME, and
#       GCLOUD_GPU_API_DELAY_MS=5 so that retries and polls take milliseconds; and
#       moves into $TEST_DIR, so that the tests' relative files (out, err) stay
#       out of the source tree
#   gg_gcloud ARGS...      the real gcloud (Google Cloud CLI) on that configuration,
#       prompts off, under strace: it fails when gcloud connected anywhere but
#       127.0.0.1; gcloud's stderr goes to $TEST_DIR/gcloud.log
#   loopback_only LOG      an strace -e connect log names no address but 127.0.0.1
#   fake_scenario JSON     what the server should answer differently (fake_api.py)
#   fake_requests PATTERN  how many logged requests match the grep pattern
#   fake_log_reset         forget the request log
#   fake_vm_on_sshd        the fixture VM "node-name" served by the harness sshd: the
#       API with sshd's authorized_keys, the CLI's SSH port and user pointed at it,
#       and for fake_scenario: VM (its NAT IP 127.0.0.1, guest attributes on), KEYS
#       (sshd's host key as a guest attribute), ID (the instance id), HOST_TYPE and
#       HOST_BLOB (that key's parts)
#
# The server serves the recorded bodies in tests/fixtures/gce (copied from the
# project's shared fixtures, with their licence, so a clean clone has them).

GG_FIXTURES_GCE="$GG_SOURCE_DIR/tests/fixtures/gce"

gg_gcloud() {
	local rc
	strace -f -qq -e trace=connect -o "$TEST_DIR/strace.log" gcloud --quiet "$@" \
		2>>"$TEST_DIR/gcloud.log"
	rc=$?
	loopback_only "$TEST_DIR/strace.log" || { echo "(gcloud $*)"; return 99; }
	return $rc
}

# loopback_only STRACE-LOG: the connect calls strace logged reach 127.0.0.1 only (a
# Unix socket is local by nature; any other IPv4 or IPv6 address is a failure).
loopback_only() {
	if grep -E "connect\(.*sa_family=AF_INET6?" "$1" | grep -v 'inet_addr("127\.0\.0\.1")'; then
		echo "connected beyond loopback (above)"
		return 1
	fi
}

fake_api_start() {
	local _
	[ -f "$GG_FIXTURES_GCE/project.json" ] || { echo "no fixtures in $GG_FIXTURES_GCE"; return 1; }
	command -v gcloud >/dev/null || {
		echo "gcloud (the Google Cloud CLI) is not installed: the Compute Engine tests write every configuration with it and check the loopback API against it (see README)"
		return 1
	}
	command -v strace >/dev/null || { echo "strace is not installed (tools/deps installs it): the Compute Engine tests check with it that gcloud reaches only loopback"; return 1; }
	FAKE_API_STATE=$TEST_DIR/fake-api
	mkdir -p "$FAKE_API_STATE"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$FAKE_API_STATE/sa.pem" 2>/dev/null &&
	openssl pkey -in "$FAKE_API_STATE/sa.pem" -pubout -out "$FAKE_API_STATE/sa.pub" || return 1
	python3 "$GG_SOURCE_DIR/tests/gce/fake_api.py" --fixtures "$GG_FIXTURES_GCE" \
		--state "$FAKE_API_STATE" --public-key "$FAKE_API_STATE/sa.pub" "$@" \
		2>>"$FAKE_API_STATE/server.log" &
	FAKE_API_PID=$!
	test_track_pid "$FAKE_API_PID"
	for _ in $(seq 1 100); do
		[ -f "$FAKE_API_STATE/port" ] && break
		sleep 0.05
	done
	[ -f "$FAKE_API_STATE/port" ] || { echo "fake API did not start:"; cat "$FAKE_API_STATE/server.log"; return 1; }
	FAKE_API_PORT=$(cat "$FAKE_API_STATE/port")
	HOME=$TEST_DIR/home
	CLOUDSDK_CONFIG=$HOME/.config/gcloud
	XDG_CACHE_HOME=$HOME/.cache
	GCLOUD_GPU_API_DELAY_MS=5
	printf 'test-token\n' >"$TEST_DIR/token"
	# gcloud probes metadata.google.internal (a DNS query to the resolver) the first
	# time it runs on a configuration directory, and again where it loads credentials,
	# to learn whether it is on a VM: core/check_gce_metadata off and the metadata
	# server's address (gcloud's gce_read.py and google-auth's _metadata.py read these
	# variables) on the fake, which is no metadata server, keep it on loopback.
	# gg_gcloud checks each run with strace.
	CLOUDSDK_CORE_CHECK_GCE_METADATA=false
	CLOUDSDK_CORE_DISABLE_PROMPTS=1
	GCE_METADATA_ROOT=127.0.0.1:$FAKE_API_PORT
	GCE_METADATA_HOST=$GCE_METADATA_ROOT
	GCE_METADATA_IP=$GCE_METADATA_ROOT
	export FAKE_API_PORT FAKE_API_STATE HOME CLOUDSDK_CONFIG XDG_CACHE_HOME GCLOUD_GPU_API_DELAY_MS \
		CLOUDSDK_CORE_CHECK_GCE_METADATA CLOUDSDK_CORE_DISABLE_PROMPTS GCE_METADATA_ROOT \
		GCE_METADATA_HOST GCE_METADATA_IP
	cd "$TEST_DIR" || return 1
	unset GOOGLE_APPLICATION_CREDENTIALS CLOUDSDK_CORE_PROJECT CLOUDSDK_COMPUTE_ZONE \
		CLOUDSDK_ACTIVE_CONFIG_NAME CLOUDSDK_AUTH_ACCESS_TOKEN_FILE \
		CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE
	gcloud_configure "http://127.0.0.1:$FAKE_API_PORT/compute/v1/"
}

# gcloud_configure ENDPOINT: the active configuration as a student's, aimed at ENDPOINT.
# gcloud checks a zone with the API before it sets it (zones.get on the fake): that one
# call gets the test token from the environment, and the account comes after it.
gcloud_configure() {
	gg_gcloud config set core/disable_usage_reporting true &&
	gg_gcloud config set component_manager/disable_update_check true &&
	gg_gcloud config set api_endpoint_overrides/compute "$1" &&
	gg_gcloud config set core/project project-name &&
	CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token gg_gcloud config set compute/zone us-central1-a &&
	gg_gcloud config set core/account student@example.com ||
		{ echo "gcloud config set failed:"; cat "$TEST_DIR/gcloud.log"; return 1; }
}

fake_scenario() {
	printf '%s\n' "$1" >"$FAKE_API_STATE/scenario.json"
}

fake_requests() {
	grep -c -e "$1" "$FAKE_API_STATE/requests.log" 2>/dev/null || true
}

fake_log_reset() {
	: >"$FAKE_API_STATE/requests.log"
}

# An authorized_user ADC file whose token_uri is the fake server.
fake_adc_user() {
	cat >"$1" <<JSON
{"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
 "client_secret": "csecret", "refresh_token": "${2:-test-refresh-token}",
 "token_uri": "http://127.0.0.1:$FAKE_API_PORT/token"}
JSON
}

# A service_account key file signed with the key the server verifies (or another).
fake_adc_service_account() {
	python3 - "$1" "${2:-$FAKE_API_STATE/sa.pem}" "$FAKE_API_PORT" <<'PY'
import json, sys
out, pem, port = sys.argv[1], sys.argv[2], sys.argv[3]
json.dump({"type": "service_account", "project_id": "project-name",
           "private_key_id": "abc123", "private_key": open(pem).read(),
           "client_email": "sa@project.iam.gserviceaccount.com", "client_id": "1",
           "token_uri": "http://127.0.0.1:%s/token" % port}, open(out, "w"))
PY
}

fake_vm_on_sshd() {
	fake_api_start --authorized-keys "$SSHD_DIR/authorized_keys" || return 1
	export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$TEST_DIR/token GCLOUD_GPU_SSH_PORT=$SSHD_PORT USER=$SSHD_USER
	read -r HOST_TYPE HOST_BLOB _ <"$SSHD_DIR/host_ed25519.pub"
	# shellcheck disable=SC2034 # used by the tests
	ID=4006034190819017667
	# shellcheck disable=SC2034
	VM="\"nat_ip\": \"127.0.0.1\", \"metadata_items\": [{\"key\": \"enable-guest-attributes\", \"value\": \"TRUE\"}]"
	# shellcheck disable=SC2034
	KEYS="\"host_keys\": [{\"key\": \"$HOST_TYPE\", \"value\": \"$HOST_BLOB\"}]"
}
