#!/usr/bin/env python3
"""kernel-cell.py: run one cell in a Jupyter kernel the way a browser does, for the
idle-stop tests: start a kernel (POST /api/kernels), open its channels websocket,
send an execute_request, and wait for the reply.  It uses only what Jupyter itself
depends on (tornado), so it runs wherever the notebook server runs.

    kernel-cell.py URL TOKEN_FILE CODE [DONE_FILE]

URL is the server's base (http://127.0.0.1:8888).  The token is read from TOKEN_FILE and
sent in the Authorization header, never on a command line.  Once the cell ended, its
status ("ok", "error") is written to DONE_FILE when one is given; the kernel stays.
"""
import json
import sys
import uuid

from tornado import httpclient, ioloop, websocket

URL, TOKEN_FILE, CODE = sys.argv[1:4]
DONE = sys.argv[4] if len(sys.argv) > 4 else None


async def main():
    with open(TOKEN_FILE) as f:
        headers = {"Authorization": "token " + f.read().strip()}
    http = httpclient.AsyncHTTPClient()
    answer = await http.fetch(URL + "/api/kernels", method="POST", body="{}", headers=headers)
    kernel = json.loads(answer.body)["id"]
    ws_url = URL.replace("http://", "ws://") + "/api/kernels/%s/channels" % kernel
    ws = await websocket.websocket_connect(httpclient.HTTPRequest(ws_url, headers=headers))
    msg_id = uuid.uuid4().hex
    await ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": CODE, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    while True:
        raw = await ws.read_message()
        if raw is None:
            sys.exit("kernel-cell.py: the websocket closed before the reply")
        msg = json.loads(raw)
        if msg.get("msg_type") == "execute_reply" and \
                msg.get("parent_header", {}).get("msg_id") == msg_id:
            status = msg["content"]["status"]
            break
    ws.close()
    if DONE:
        with open(DONE, "w") as f:
            f.write(status + "\n")
    print(kernel, status)


ioloop.IOLoop.current().run_sync(main)
