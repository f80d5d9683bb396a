#!/usr/bin/env python3
"""A loopback stand-in for the Compute Engine v1 API and Google's OAuth token endpoint.

It answers with the recorded bodies in tests/fixtures/gce (--fixtures), changed
only where a test asks: the test writes a scenario (JSON) to STATE/scenario.json, and
the server re-reads it on every request; when its content changes, the server's memory
(instances, operations, consumed failures) starts again from the fixtures.

Scenario keys (all optional):
  tokens            bearer tokens the API accepts (default ["test-token"])
  refresh_token     the refresh token the token endpoint accepts
  service_account   the client_email whose JWT grant is accepted
  token_expires_in  expires_in of issued tokens (default 3600)
  issue_token       the access token the endpoint issues (default "test-token")
  instance          fields merged into the fixture instance (status, id, ...)
  nat_ip            the instance's natIP; null removes its access configs
  metadata_items    the instance's metadata items
  project_metadata_items   the project's commonInstanceMetadata items
  region_quotas / project_quotas   quotas appended to the fixtures' lists
  host_keys         [{"key": "ssh-ed25519", "value": "AAAA..."}] as guest attributes
  accelerators      the accelerator type names the zone offers (default
                    ["nvidia-tesla-t4", "nvidia-l4"], shaped like the T4 fixture)
  region_warning    the region answers a quotaStatusWarning (its quotas did not load)
  host_keys_after   guest attribute reads answer 404 this many times first (a guest
                    agent that has not published yet)
  impersonated_token  the token IAM Credentials' generateAccessToken issues (gcloud's
                    auth/impersonate_service_account), accepted by the API
  sts_token         the token the STS endpoint (/v1/token) issues for an
                    external_account subject token, accepted by the API
  image_families    families that exist (default ["ubuntu-2204-lts"])
  metadata_conflicts  how many setMetadata calls answer 412 first
  guest_agent_delay   seconds between a setMetadata and its ssh-keys reaching the
                      authorized_keys file (the guest agent is not instant)
  fail              [{"match": "GET /compute/v1/.../node-name", "status": 503,
                      "reason": "backendError", "times": 2}]; "after": true handles
                    the request first and then answers the failure (an answer lost
                    on the way); "retry_after": N sends Retry-After: N
  operation_error   {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": "..."}: the
                    next operations end with this error
  instances         more instances: [{"name", "zone", "labels", "status"}], each a copy
                    of the fixture instance with those fields
  page_size         instances.list / aggregatedList answer at most this many a page,
                    with nextPageToken for the rest (default: maxResults)
  zone_accelerators {"us-central1-b": ["nvidia-tesla-t4"]}: that zone offers exactly
                    these GPU types (other zones: the fixture's and "accelerators")
  capacity          how many VMs a bulkInsert can place (default: all asked); fewer
                    than minCount fails the operation and creates none, as the API does

instances.list and aggregatedList take a filter of AND-ed terms KEY=VALUE, KEY:VALUE or
KEY!=VALUE (KEY dotted: labels.class, name, status, zone), parentheses ignored, or the
older single "KEY eq|ne REGEX" (gcloud's config-ssh sends "status eq RUNNING"); any
other filter is refused with 400, as the API refuses what it cannot parse.
bulkInsert (zonal or regional) names the VMs from namePattern (its run of '#' a
zero-padded number, after the highest one already taken), puts a regional one in the
first zone its locationPolicy allows, and writes its body to STATE/bulk-body.json.

Every request is logged as "METHOD PATH" to STATE/requests.log (an accepted one as
"METHOD PATH TOKEN" to STATE/bearers.log: the tests' tokens are made up), a mutating one's
requestId as "METHOD PATH requestId" to STATE/request-ids.log; a requestId seen before
answers the first answer again (as Compute Engine does), without acting twice.  The
body of an instances.insert goes to STATE/insert-body.json.  Instances carry
lastStartTimestamp (now, when inserted or started).  With --authorized-keys FILE the
instance's ssh-keys metadata is written there as an OpenSSH authorized_keys file, as
the guest agent would.  --public-key PEM verifies service-account JWTs with openssl.
"""
import argparse
import base64
import copy
import datetime
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

API = "/compute/v1/"
ZONE_LINK = "https://www.googleapis.com/compute/v1/projects/project_name/zones/%s"


def field(inst, key):
    value = inst
    for k in key.split("."):
        value = value.get(k) if isinstance(value, dict) else None
    if key == "zone" and value:
        value = value.rsplit("/", 1)[-1]
    return value


def filter_matches(inst, text):
    """The fake's subset of the API's filter syntax; ValueError for anything else."""
    # The older "FIELD eq|ne REGEX" form, which gcloud still sends (config-ssh).
    m = re.match(r'^\s*([A-Za-z][\w.]*)\s+(eq|ne)\s+(\S+)\s*$', text or "")
    if m:
        key, op, want = m.groups()
        value = field(inst, key)
        equal = value is not None and re.fullmatch(want, str(value)) is not None
        return equal == (op == "eq")
    for term in (text or "").replace("(", " ").replace(")", " ").split():
        if term == "AND":
            continue
        m = re.match(r'^([A-Za-z][\w.-]*)(!=|=|:)"?([^"]*)"?$', term)
        if not m:
            raise ValueError(term)
        key, op, want = m.groups()
        value = field(inst, key)
        equal = value is not None and str(value) == want
        if equal != (op != "!="):
            return False
    return True


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class State:
    def __init__(self, args):
        self.args = args
        self.scenario_text = None
        self.scenario = {}
        self.reset()

    def fixture(self, name):
        with open(os.path.join(self.args.fixtures, name)) as f:
            return json.load(f)

    def reset(self):
        s = self.scenario
        inst = self.fixture("zones_us-central1-a_instances_node-name.json")
        inst.update(s.get("instance", {}))
        if "nat_ip" in s:
            nic = inst["networkInterfaces"][0]
            if s["nat_ip"] is None:
                nic.pop("accessConfigs", None)
            else:
                nic["accessConfigs"][0]["natIP"] = s["nat_ip"]
        if "metadata_items" in s:
            inst["metadata"]["items"] = s["metadata_items"]
        inst.setdefault("labelFingerprint", "42WmSpB8rSM=")
        self.instances = {inst["name"]: inst}
        for extra in s.get("instances", []):
            more = copy.deepcopy(inst)
            more.update(extra)
            more["zone"] = ZONE_LINK % extra.get("zone", "us-central1-a")
            more["id"] = str(abs(hash(extra["name"])) % 10**12)
            self.instances[extra["name"]] = more
        self.project = self.fixture("project.json")
        if "project_metadata_items" in s:
            self.project["commonInstanceMetadata"]["items"] = s["project_metadata_items"]
        self.project["quotas"] += s.get("project_quotas", [])
        self.region = self.fixture("regions_us-central1.json")
        self.region["quotas"] += s.get("region_quotas", [])
        self.operations = {}
        self.request_ids = {}
        self.guest_reads = 0
        self.fail_counts = {}
        self.conflicts = s.get("metadata_conflicts", 0)
        self.op_counter = 0
        self.write_authorized_keys(inst)

    def reload(self):
        path = os.path.join(self.args.state, "scenario.json")
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            text = "{}"
        if text != self.scenario_text:
            self.scenario_text = text
            self.scenario = json.loads(text)
            self.reset()

    def write_authorized_keys(self, inst):
        if not self.args.authorized_keys:
            return
        lines = []
        for item in inst.get("metadata", {}).get("items", []):
            if item["key"] == "ssh-keys":
                for line in item["value"].splitlines():
                    if ":" in line:
                        lines.append(line.split(":", 1)[1])
        with open(self.args.authorized_keys, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        os.chmod(self.args.authorized_keys, 0o600)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_body(self, status, reason, message, headers=None):
        self.send_json(status, {"error": {"code": status, "message": message,
                                          "errors": [{"domain": "global", "reason": reason,
                                                      "message": message}]}}, headers)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        st = self.server.state
        st.reload()
        url = urllib.parse.urlsplit(self.path)
        line = method + " " + url.path
        with open(os.path.join(st.args.state, "requests.log"), "a") as f:
            f.write(line + "\n")
        raw = self.body()
        query = urllib.parse.parse_qs(url.query)
        rid = query.get("requestId", [None])[0]
        if method != "GET":
            with open(os.path.join(st.args.state, "request-ids.log"), "a") as f:
                f.write("%s %s\n" % (line, rid))
        after = None
        for i, rule in enumerate(st.scenario.get("fail", [])):
            if rule["match"] in line and st.fail_counts.get(i, 0) < rule.get("times", 1):
                st.fail_counts[i] = st.fail_counts.get(i, 0) + 1
                if rule.get("after"):
                    after = rule
                    break
                return self.fail(rule)
        if rid is not None and (line, rid) in st.request_ids:
            return self.send_json(*st.request_ids[(line, rid)])
        if url.path == "/token" and method == "POST":
            return self.token(st, urllib.parse.parse_qs(raw.decode()))
        if url.path == "/v1/token" and method == "POST":
            return self.sts(st, urllib.parse.parse_qs(raw.decode()))
        auth = self.headers.get("Authorization", "")
        accepted = st.scenario.get("tokens", ["test-token"]) + [
            st.scenario[k] for k in ("impersonated_token", "sts_token") if k in st.scenario]
        if auth not in ["Bearer " + t for t in accepted]:
            return self.send_error_body(401, "authError", "Invalid Credentials")
        with open(os.path.join(st.args.state, "bearers.log"), "a") as f:
            f.write("%s %s\n" % (line, auth[len("Bearer "):]))
        if url.path.startswith("/v1/projects/-/serviceAccounts/") and method == "POST":
            return self.impersonate(st, url.path)
        if not url.path.startswith(API):
            return self.send_error_body(404, "notFound", "no such path " + url.path)
        parts = url.path[len(API):].split("/")
        self.answer = None
        self.api(st, method, parts, query, json.loads(raw) if raw else None)
        if rid is not None and self.answer is not None and self.answer[0] == 200:
            st.request_ids[(line, rid)] = self.answer
        if after is not None:
            return self.fail(after)
        if self.answer is not None:
            return self.send_json(*self.answer)

    def fail(self, rule):
        headers = {"Retry-After": str(rule["retry_after"])} if "retry_after" in rule else None
        return self.send_error_body(rule["status"], rule.get("reason", "failed"),
                                    rule.get("message", "injected failure"), headers)

    def reply(self, status, body):
        """An API answer, sent by handle_any (after a rule with "after", or never)."""
        self.answer = (status, body)

    def reply_error(self, status, reason, message):
        self.reply(status, {"error": {"code": status, "message": message,
                                      "errors": [{"domain": "global", "reason": reason,
                                                  "message": message}]}})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # --- OAuth -------------------------------------------------------------------
    def token(self, st, form):
        s = st.scenario
        grant = form.get("grant_type", [""])[0]
        if grant == "refresh_token":
            if form.get("refresh_token", [""])[0] != s.get("refresh_token", "test-refresh-token"):
                return self.send_json(400, {"error": "invalid_grant",
                                            "error_description": "Bad refresh token"})
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self.verify_jwt(st, form.get("assertion", [""])[0])
            if problem:
                return self.send_json(400, {"error": "invalid_grant",
                                            "error_description": problem})
        else:
            return self.send_json(400, {"error": "unsupported_grant_type",
                                        "error_description": grant})
        self.send_json(200, {"access_token": s.get("issue_token", "test-token"),
                             "expires_in": s.get("token_expires_in", 3600),
                             "token_type": "Bearer"})

    def verify_jwt(self, st, jwt):
        if not st.args.public_key:
            return "no public key configured"
        try:
            head, claims, sig = jwt.split(".")
            header = json.loads(b64url_decode(head))
            body = json.loads(b64url_decode(claims))
        except ValueError as e:
            return "malformed JWT: %s" % e
        if header.get("alg") != "RS256":
            return "alg is not RS256"
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "in"), "wb") as f:
                f.write((head + "." + claims).encode())
            with open(os.path.join(d, "sig"), "wb") as f:
                f.write(b64url_decode(sig))
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", st.args.public_key,
                                "-signature", os.path.join(d, "sig"), os.path.join(d, "in")],
                               capture_output=True)
            if r.returncode != 0:
                return "signature does not verify"
        port = self.server.server_address[1]
        # Google's endpoint takes its canonical address as the audience too (google-auth
        # signs with it whatever token_uri says, e.g. inside impersonated credentials).
        if body.get("aud") not in ("http://127.0.0.1:%d/token" % port,
                                   "https://oauth2.googleapis.com/token"):
            return "wrong aud %r" % body.get("aud")
        if body.get("iss") != st.scenario.get("service_account", "sa@project.iam.gserviceaccount.com"):
            return "wrong iss"
        if not body.get("exp", 0) > time.time() >= body.get("iat", 0) - 60:
            return "expired or not yet valid"
        # cloud-platform, or iam for the source credentials of an impersonation
        if not any(sc in body.get("scope", "") for sc in ("cloud-platform", "auth/iam")):
            return "wrong scope"
        return None

    # --- Compute Engine ----------------------------------------------------------
    def accelerator(self, st, name):
        """An acceleratorType: a recorded one, or the T4's reshaped for another name."""
        try:
            return st.fixture("zones_us_central1_a_acceleratorTypes_%s.json" %
                              name.replace("-", "_"))
        except FileNotFoundError:
            t4 = st.fixture("zones_us_central1_a_acceleratorTypes_nvidia_tesla_t4.json")
            return dict(t4, name=name, description=name,
                        selfLink=t4["selfLink"].replace("nvidia-tesla-t4", name))

    def impersonate(self, st, path):
        """IAM Credentials generateAccessToken, as gcloud's impersonation calls it."""
        if "impersonated_token" not in st.scenario or not path.endswith(":generateAccessToken"):
            return self.send_error_body(403, "forbidden", "impersonation denied")
        expire = (datetime.datetime.now(datetime.timezone.utc) +
                  datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.send_json(200, {"accessToken": st.scenario["impersonated_token"],
                                    "expireTime": expire})

    def sts(self, st, form):
        """Security Token Service: an external_account's subject token for an access token."""
        if "sts_token" not in st.scenario or form.get("subject_token", [""])[0].strip() != "subject-token":
            return self.send_json(400, {"error": "invalid_grant",
                                        "error_description": "bad subject token"})
        return self.send_json(200, {"access_token": st.scenario["sts_token"],
                                    "issued_token_type":
                                    "urn:ietf:params:oauth:token-type:access_token",
                                    "token_type": "Bearer", "expires_in": 3600})

    def operation(self, st, kind, target, error=None, scope="zones/us-central1-a"):
        st.op_counter += 1
        op = st.fixture("operations_operation_zones_us-central1-a_instances_post.json")
        op["name"] = "operation-%d-%s" % (st.op_counter, kind)
        op["operationType"] = kind
        op["targetLink"] = "https://www.googleapis.com/compute/v1/" + target
        op["selfLink"] = op["selfLink"].rsplit("/", 1)[0] + "/" + op["name"]
        if scope is None:  # a global operation
            op.pop("zone", None)
            op["selfLink"] = ("https://www.googleapis.com/compute/v1/%s/global/operations/%s"
                              % (target, op["name"]))
        done = copy.deepcopy(op)
        err = st.scenario.get("operation_error")
        if err:
            done["error"] = {"errors": [{"code": err["code"], "message": err["message"]}]}
        st.operations[op["name"]] = done
        op["status"] = "PENDING"
        op["progress"] = 0
        return op

    def api(self, st, method, parts, query, body):
        s = st.scenario
        # projects/P
        if len(parts) == 2 and parts[0] == "projects" and method == "GET":
            return self.reply(200, dict(st.project, name=parts[1]))
        if len(parts) >= 2 and parts[0] == "projects" and parts[2:5] == ["global", "images", "family"]:
            if parts[5] in s.get("image_families", ["ubuntu-2204-lts"]):
                return self.reply(200, {"kind": "compute#image", "name": parts[5] + "-v1",
                                            "family": parts[5], "status": "READY"})
            body404 = st.fixture("global_images_family_notfound.json")
            return self.reply(404, body404)
        if parts[2:] == ["aggregated", "instances"] and method == "GET":
            return self.list_instances(st, query, None)
        if parts[2:3] == ["regions"] and parts[4:] == ["instances", "bulkInsert"] and method == "POST":
            return self.bulk_insert(st, parts[1], body, region=parts[3])
        if parts[2:3] == ["regions"] and len(parts) == 6 and parts[4] == "operations":
            op = st.operations.get(parts[5])
            if op is None:
                return self.reply_error(404, "notFound", "no operation " + parts[5])
            return self.reply(200, op)
        if len(parts) == 4 and parts[2] == "regions" and method == "GET":
            region = copy.deepcopy(st.region)
            region["name"] = parts[3]
            if s.get("region_warning"):
                region["quotaStatusWarning"] = {
                    "code": "UNREACHABLE", "message": "quotas could not be loaded",
                    "data": [{"key": "region", "value": parts[3]}]}
            return self.reply(200, region)
        if parts[2:] == ["setCommonInstanceMetadata"] and method == "POST":
            st.project["commonInstanceMetadata"]["items"] = body.get("items", [])
            st.project["commonInstanceMetadata"]["fingerprint"] = base64.b64encode(
                hashlib.sha256(json.dumps(body).encode()).digest()[:8]).decode()
            for inst in st.instances.values():
                st.write_authorized_keys(inst)
            op = self.operation(st, "setCommonInstanceMetadata", "projects/" + parts[1],
                                scope=None)
            return self.reply(200, op)
        if parts[2:4] == ["global", "operations"] and len(parts) >= 5:
            op = st.operations.get(parts[4])
            if op is None:
                return self.reply_error(404, "notFound", "no operation " + parts[4])
            return self.reply(200, op)
        if parts[2:] == ["aggregated", "acceleratorTypes"] and method == "GET":
            items = [self.accelerator(st, n) for n in
                     s.get("accelerators", ["nvidia-tesla-t4", "nvidia-l4"])]
            return self.reply(200, {"kind": "compute#acceleratorTypeAggregatedList",
                                    "items": {"zones/us-central1-a": {"acceleratorTypes": items}}})
        if len(parts) < 4 or parts[2] != "zones":
            return self.reply_error(404, "notFound", "unknown resource")
        rest = parts[4:]
        zone_path = "/".join(parts[:4])
        if rest == [] and method == "GET":
            return self.reply(200, {"kind": "compute#zone", "name": parts[3], "status": "UP",
                                    "region": "https://www.googleapis.com/compute/v1/projects/"
                                    "%s/regions/%s" % (parts[1], parts[3].rsplit("-", 1)[0]),
                                    "selfLink": "https://www.googleapis.com/compute/v1/" +
                                    zone_path})
        if rest == ["acceleratorTypes"]:
            items = [self.accelerator(st, n) for n in s.get("zone_accelerators", {}).get(
                parts[3], s.get("accelerators", ["nvidia-tesla-t4", "nvidia-l4"]))]
            return self.reply(200, {"kind": "compute#acceleratorTypeList", "items": items,
                                    "id": "projects/%s/zones/%s/acceleratorTypes" % (
                                        parts[1], parts[3]),
                                    "selfLink": "https://www.googleapis.com/compute/v1/" +
                                    zone_path + "/acceleratorTypes"})
        if len(rest) == 2 and rest[0] == "acceleratorTypes":
            return self.reply(200, self.accelerator(st, rest[1]))
        if len(rest) >= 2 and rest[0] == "operations":
            op = st.operations.get(rest[1])
            if op is None:
                return self.reply_error(404, "notFound", "no operation " + rest[1])
            return self.reply(200, op)
        if rest == ["instances"] and method == "GET":
            return self.list_instances(st, query, parts[3])
        if rest == ["instances", "bulkInsert"] and method == "POST":
            return self.bulk_insert(st, parts[1], body, zone=parts[3])
        if rest == ["instances"] and method == "POST":
            with open(os.path.join(st.args.state, "insert-body.json"), "w") as f:
                json.dump(body, f, indent=1, sort_keys=True)
            if body["name"] in st.instances:
                return self.reply_error(409, "alreadyExists",
                                            "The resource '%s' already exists" % body["name"])
            inst = copy.deepcopy(st.instances.get("node-name") or {})
            inst.update(name=body["name"], status="RUNNING", id=str(1000 + st.op_counter),
                        lastStartTimestamp=now_rfc3339(), labels=body.get("labels", {}))
            st.guest_reads = 0
            st.instances[body["name"]] = inst
            return self.reply(200, self.operation(st, "insert", zone_path + "/instances/" +
                                                  body["name"]))
        if len(rest) < 2 or rest[0] != "instances":
            return self.reply_error(404, "notFound", "unknown resource")
        name = rest[1]
        inst = st.instances.get(name)
        if inst is None:
            return self.reply_error(404, "notFound", "The resource 'projects/%s/zones/%s/"
                                        "instances/%s' was not found" % (parts[1], parts[3], name))
        target = zone_path + "/instances/" + name
        if len(rest) == 2 and method == "GET":
            return self.reply(200, inst)
        if len(rest) == 2 and method == "DELETE":
            del st.instances[name]
            return self.reply(200, self.operation(st, "delete", target))
        action = rest[2]
        if action in ("start", "resume") and method == "POST":
            inst["status"] = "RUNNING"
            inst["lastStartTimestamp"] = now_rfc3339()
            st.guest_reads = 0
            return self.reply(200, self.operation(st, action, target))
        if action == "stop" and method == "POST":
            inst["status"] = "TERMINATED"
            return self.reply(200, self.operation(st, action, target))
        if action == "setMetadata" and method == "POST":
            if st.conflicts > 0:
                st.conflicts -= 1
                # Someone else changed the metadata meanwhile.
                inst["metadata"]["fingerprint"] = base64.b64encode(os.urandom(8)).decode()
            if body.get("fingerprint") != inst["metadata"].get("fingerprint"):
                return self.reply_error(412, "conditionNotMet",
                                            "Supplied fingerprint does not match current "
                                            "metadata fingerprint.")
            inst["metadata"]["items"] = body.get("items", [])
            inst["metadata"]["fingerprint"] = base64.b64encode(
                hashlib.sha256(json.dumps(body).encode()).digest()[:8]).decode()
            delay = s.get("guest_agent_delay", 0)
            if delay:
                threading.Timer(delay, st.write_authorized_keys, [copy.deepcopy(inst)]).start()
            else:
                st.write_authorized_keys(inst)
            answer = st.fixture("zones_us_central1_a_instances_node_name_setMetadata_post.json")
            answer["name"] = "operation-%d-setMetadata" % (st.op_counter + 1)
            st.op_counter += 1
            done = st.fixture("operations_operation_zones_us_central1_a_node_name_setMetadata_post.json")
            done["name"] = answer["name"]
            st.operations[answer["name"]] = done
            return self.reply(200, answer)
        if action == "setLabels" and method == "POST":
            if body.get("labelFingerprint") != inst.get("labelFingerprint"):
                return self.reply_error(412, "conditionNotMet", "Labels fingerprint "
                                        "either invalid or resource labels have changed")
            inst["labels"] = body.get("labels", {})
            inst["labelFingerprint"] = base64.b64encode(
                hashlib.sha256(json.dumps(inst["labels"], sort_keys=True).encode()).digest()[:8]).decode()
            return self.reply(200, self.operation(st, "setLabels", target))
        if action == "getGuestAttributes" and method == "GET":
            keys = s.get("host_keys")
            st.guest_reads += 1
            if st.guest_reads <= s.get("host_keys_after", 0):
                keys = None
            if not keys or query.get("queryPath") != ["hostkeys/"]:
                return self.reply_error(404, "notFound", "The resource 'guest attributes"
                                            "' was not found")
            return self.reply(200, {"kind": "compute#guestAttributes",
                                        "queryPath": "hostkeys/", "queryValue": {"items": [
                                            dict(namespace="hostkeys", **k) for k in keys]}})
        return self.reply_error(404, "notFound", "unknown resource")

    def list_instances(self, st, query, zone):
        try:
            found = [i for i in st.instances.values()
                     if (zone is None or i["zone"].endswith("/" + zone))
                     and filter_matches(i, query.get("filter", [""])[0])]
        except ValueError as e:
            return self.reply_error(400, "invalid", "Invalid value for field 'filter': "
                                    "'%s'. Invalid list filter expression." % e)
        size = int(st.scenario.get("page_size", query.get("maxResults", ["500"])[0]))
        start = int(query.get("pageToken", ["0"])[0])
        page = found[start:start + size]
        if zone is not None:
            body = {"kind": "compute#instanceList", "items": page}
        else:
            by_zone = {}
            for i in page:
                by_zone.setdefault("zones/" + i["zone"].rsplit("/", 1)[-1], {"instances": []})[
                    "instances"].append(i)
            by_zone["zones/europe-west4-a"] = {"warning": {"code": "NO_RESULTS_ON_PAGE"}}
            body = {"kind": "compute#instanceAggregatedList", "items": by_zone}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return self.reply(200, body)

    def bulk_insert(self, st, project, body, zone=None, region=None):
        with open(os.path.join(st.args.state, "bulk-body.json"), "w") as f:
            json.dump(body, f, indent=1, sort_keys=True)
        count = int(body["count"])
        least = int(body.get("minCount", count))
        if region is not None:
            policy = body.get("locationPolicy", {}).get("locations", {})
            zones = [z.rsplit("/", 1)[-1] for z in st.region["zones"]]
            allowed = [z for z in zones
                       if policy.get("zones/" + z, {}).get("preference", "ALLOW") != "DENY"]
            zone = allowed[0]
        placed = min(count, int(st.scenario.get("capacity", count)))
        target = "projects/%s/zones/%s/instances" % (project, zone)
        if placed < least:
            op = self.operation(st, "bulkInsert", target)
            st.operations[op["name"]]["error"] = {"errors": [{
                "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                "message": "The zone does not have enough resources available to fulfill "
                           "the request. Try a different zone, or try again later."}]}
        else:
            pattern = body["namePattern"]
            run = re.search("#+", pattern).group(0)
            # As the API does: the numbers go on after the highest existing match.
            like = re.compile("^" + re.escape(pattern).replace(re.escape(run), "([0-9]{%d})"
                                                                % len(run)) + "$")
            number = max([int(m.group(1)) for m in map(like.match, st.instances) if m],
                         default=0)
            for _ in range(placed):
                number += 1
                name = pattern.replace(run, str(number).zfill(len(run)), 1)
                inst = copy.deepcopy(st.instances.get("node-name") or {})
                props = body["instanceProperties"]
                inst.update(name=name, status="RUNNING", id=str(2000 + number),
                            zone=ZONE_LINK % zone, labels=props.get("labels", {}),
                            lastStartTimestamp=now_rfc3339())
                inst["guestAccelerators"] = [dict(a, acceleratorType=ZONE_LINK % zone +
                                                  "/acceleratorTypes/" + a["acceleratorType"])
                                             for a in props.get("guestAccelerators", [])]
                st.instances[name] = inst
            op = self.operation(st, "bulkInsert", target)
        if region is not None:
            for o in (op, st.operations[op["name"]]):
                o.pop("zone", None)
                o["region"] = ("https://www.googleapis.com/compute/v1/projects/%s/regions/%s"
                               % (project, region))
        return self.reply(200, op)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixtures", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--public-key")
    p.add_argument("--authorized-keys")
    args = p.parse_args()
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.state = State(args)
    with open(os.path.join(args.state, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(os.path.join(args.state, "port.tmp"), os.path.join(args.state, "port"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
