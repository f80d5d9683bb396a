#!/usr/bin/env bash
# gcloud's configuration and credentials, as gcloud-gpu reads them: config file, then
# environment, then flags; a token from a file, from ADC (refresh token and service
# account JWT, verified by the loopback token endpoint), cached until near expiry, and
# from gcloud itself.  `gcloud-gpu start` on a running VM is the probe: one GET.
. "$(dirname "$0")/lib.sh"
. "$GG_SOURCE_DIR/tests/gce/lib-gce.sh"

fake_api_start || exit 1
# shellcheck disable=SC2034 # used in the test bodies
TOKEN=(--access-token-file "$TEST_DIR/token")

test_expect_success 'project and zone come from the active configuration' '
	"$GG_CLI" start node-name "${TOKEN[@]}" >out &&
	test_grep "node-name is running (it already was)" out &&
	[ "$(fake_requests "GET /compute/v1/projects/project-name/zones/us-central1-a/instances/node-name")" = 1 ]
'

test_expect_success 'gcloud config configurations activate selects another configuration' '
	gg_gcloud config configurations create other &&
	gcloud_configure "http://127.0.0.1:$FAKE_API_PORT/compute/v1/" &&
	gg_gcloud config set core/project other-project &&
	"$GG_CLI" start node-name "${TOKEN[@]}" &&
	[ "$(fake_requests "projects/other-project/zones/us-central1-a/instances")" = 1 ] &&
	CLOUDSDK_ACTIVE_CONFIG_NAME=default "$GG_CLI" start node-name "${TOKEN[@]}" &&
	[ "$(fake_requests "projects/project-name/zones/us-central1-a/instances")" = 2 ] &&
	gg_gcloud config configurations activate default
'

test_expect_success 'CLOUDSDK_CORE_PROJECT overrides the file, --project the environment' '
	CLOUDSDK_CORE_PROJECT=env-project CLOUDSDK_COMPUTE_ZONE=europe-west4-a \
		"$GG_CLI" start node-name "${TOKEN[@]}" &&
	[ "$(fake_requests "projects/env-project/zones/europe-west4-a/instances")" = 1 ] &&
	CLOUDSDK_CORE_PROJECT=env-project "$GG_CLI" start node-name --project flag-project \
		--zone us-central1-b "${TOKEN[@]}" &&
	[ "$(fake_requests "projects/flag-project/zones/us-central1-b/instances")" = 1 ] &&
	[ "$(fake_requests "env-project/zones/us-central1-b")" = 0 ]
'

test_expect_success 'no project anywhere: one line naming the fix, usage exit code' '
	test_must_fail env CLOUDSDK_CORE_PROJECT= "$GG_CLI" start node-name "${TOKEN[@]}" 2>err;
	[ "$(wc -l <err)" = 1 ] && test_grep "gcloud config set project" err &&
	env CLOUDSDK_CORE_PROJECT= "$GG_CLI" start node-name "${TOKEN[@]}"; [ $? = 2 ]
'

test_expect_success 'a wrong token is refused with exit 3 and the next step' '
	echo wrong-token >"$TEST_DIR/bad-token" &&
	{ "$GG_CLI" start node-name --access-token-file "$TEST_DIR/bad-token" 2>err; [ $? = 3 ]; } &&
	test_grep "refused the credentials (401) from access token file .$TEST_DIR/bad-token." err &&
	test_grep "gcloud auth print-access-token >" err &&
	! grep -q wrong-token err
'

test_expect_success 'auth/access_token_file from the configuration' '
	gg_gcloud config set auth/access_token_file "$TEST_DIR/token" &&
	"$GG_CLI" start node-name &&
	gg_gcloud config unset auth/access_token_file
'

test_expect_success 'ADC refresh token: exchanged at token_uri, then cached 0600' '
	fake_log_reset &&
	fake_adc_user "$TEST_DIR/adc-user.json" &&
	GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc-user.json "$GG_CLI" start node-name >out 2>&1 &&
	GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc-user.json "$GG_CLI" start node-name >>out 2>&1 &&
	[ "$(fake_requests "POST /token")" = 1 ] &&
	[ "$(fake_requests "GET /compute")" = 2 ] &&
	cache=$(ls "$XDG_CACHE_HOME"/gcloud-gpu/token-*.json) &&
	[ "$(stat -c %a "$cache")" = 600 ] &&
	! grep -q test-token out
'

test_expect_success 'the ADC file in the gcloud directory is found without the variable' '
	rm -rf "$XDG_CACHE_HOME/gcloud-gpu" && fake_log_reset &&
	fake_adc_user "$CLOUDSDK_CONFIG/application_default_credentials.json" &&
	"$GG_CLI" start node-name &&
	rm "$CLOUDSDK_CONFIG/application_default_credentials.json" &&
	[ "$(fake_requests "POST /token")" = 1 ]
'

test_expect_success 'a token near expiry is refreshed, not reused' '
	rm -rf "$XDG_CACHE_HOME/gcloud-gpu" && fake_log_reset &&
	fake_scenario "{\"token_expires_in\": 120}" &&
	GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc-user.json "$GG_CLI" start node-name &&
	GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc-user.json "$GG_CLI" start node-name &&
	[ "$(fake_requests "POST /token")" = 2 ] &&
	fake_scenario "{}"
'

test_expect_success 'a revoked refresh token: exit 3, what to run' '
	rm -rf "$XDG_CACHE_HOME/gcloud-gpu" &&
	fake_adc_user "$TEST_DIR/adc-revoked.json" revoked &&
	{ GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/adc-revoked.json "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } &&
	test_grep "invalid_grant" err && test_grep "application-default login" err
'

test_expect_success 'service account key: RS256 JWT verified by the token endpoint' '
	rm -rf "$XDG_CACHE_HOME/gcloud-gpu" && fake_log_reset &&
	fake_adc_service_account "$TEST_DIR/sa.json" &&
	GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/sa.json "$GG_CLI" start node-name &&
	[ "$(fake_requests "POST /token")" = 1 ]
'

test_expect_success 'a JWT signed with another key is refused' '
	rm -rf "$XDG_CACHE_HOME/gcloud-gpu" &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_DIR/other.pem" 2>/dev/null &&
	fake_adc_service_account "$TEST_DIR/sa-other.json" "$TEST_DIR/other.pem" &&
	{ GOOGLE_APPLICATION_CREDENTIALS=$TEST_DIR/sa-other.json "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } &&
	test_grep "signature does not verify" err
'

test_expect_success 'no ADC: the token comes from gcloud auth print-access-token' '
	mkdir -p "$TEST_DIR/bin" &&
	printf "#!/bin/sh\n[ \"\$*\" = \"auth print-access-token\" ] && echo test-token\n" >"$TEST_DIR/bin/gcloud" &&
	chmod +x "$TEST_DIR/bin/gcloud" &&
	PATH=$TEST_DIR/bin:$PATH "$GG_CLI" start node-name >out &&
	test_grep "is running" out
'

test_expect_success 'no credentials at all: one line, exit 3' '
	{ PATH=/nonexistent "$GG_CLI" start node-name 2>err; [ $? = 3 ]; } &&
	[ "$(wc -l <err)" = 1 ] && test_grep "no Google credentials found" err
'

test_expect_success 'an http:// endpoint other than the loopback is refused: no token in clear' '
	sed "s|^compute = .*|compute = http://gg-remote.example/compute/v1/|" \
		"$CLOUDSDK_CONFIG/configurations/config_default" >"$CLOUDSDK_CONFIG/configurations/config_remote" &&
	fake_log_reset &&
	{ CLOUDSDK_ACTIVE_CONFIG_NAME=remote http_proxy=http://127.0.0.1:$FAKE_API_PORT \
		"$GG_CLI" start node-name "${TOKEN[@]}" 2>err; rc=$?; } &&
	cat err && [ "$rc" = 3 ] &&
	test_grep "refusing .http://gg-remote.example/.*https only" err &&
	[ "$(fake_requests "node-name")" = 0 ]
'

test_expect_success 'without HOME nothing is written to /tmp or the current directory: one line, exit 1' '
	mkdir -p "$TEST_DIR/cwd" && cd "$TEST_DIR/cwd" &&
	{ env -u HOME -u XDG_CACHE_HOME "$GG_CLI" start node-name "${TOKEN[@]}" 2>"$TEST_DIR/err"; rc=$?; } ;
	cd "$TEST_DIR" && cat err && [ "$rc" = 1 ] &&
	test_grep "HOME is not set" err && [ -z "$(ls -A "$TEST_DIR/cwd")" ] &&
	env -u HOME "$GG_CLI" push --help >/dev/null
'

test_done
