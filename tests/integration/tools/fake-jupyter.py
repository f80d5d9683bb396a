#!/usr/bin/env python3
"""fake-jupyter.py: a stand-in for Jupyter's REST API on 127.0.0.1, for the idle-stop
tests (t2017).  It answers GET /api/status and /api/kernels with the files status.json
and kernels.json of DIR, which the test rewrites between checks, and only to a request
that carries "Authorization: token TOKEN" with the token of TOKEN_FILE (403 and
forbidden.json's body otherwise, as notebook 6.4.12 does).  While DIR/hang exists it
answers nothing for a minute (a hung Jupyter).  Each request is appended to DIR/requests
with its Authorization header's scheme, so a test can see how the token came.

    fake-jupyter.py DIR TOKEN_FILE PORT_FILE

The port it listens on (chosen by the kernel) is written to PORT_FILE once it listens.
"""
import http.server
import os
import sys
import time

DIR, TOKEN_FILE, PORT_FILE = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, name):
        with open(os.path.join(DIR, name), "rb") as f:
            body = f.read()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # the client gave up on a hung answer

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%s %s\n" % (self.path, auth.split(" ")[0] if auth else "-"))
        deadline = time.monotonic() + 60
        while os.path.exists(os.path.join(DIR, "hang")) and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(TOKEN_FILE) as f:
            token = f.read().strip()
        if auth != "token " + token:
            self.answer(403, "forbidden.json")
        elif self.path == "/api/status":
            self.answer(200, "status.json")
        elif self.path == "/api/kernels":
            self.answer(200, "kernels.json")
        else:
            self.send_error(404)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
