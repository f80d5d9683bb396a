#!/usr/bin/env python3
"""tests/vm/kernel-run.py: run one cell on a Jupyter kernel through the tunnel.

    kernel-run.py URL          URL as `gcloud-gpu tunnel` prints it (with ?token=)

Starts a kernel (POST /api/kernels), opens its channels websocket, sends an
execute_request for `1+1` and prints the text/plain of the execute_result ("2"), then
deletes the kernel.  A small RFC 6455 client on the standard library: the point is
that websockets pass the tunnel.  Exit 1 with one line when something does not answer."""
import base64
import json
import os
import socket
import struct
import sys
import urllib.parse
import urllib.request
import uuid


def api(base, token, method, path):
    req = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None,
                                 headers={"Authorization": "token " + token})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return json.loads(body) if body else None


def ws_send(sock, text):
    data = text.encode()
    head = bytes([0x81])
    n = len(data)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    mask = os.urandom(4)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def recv_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise EOFError("the websocket closed")
    return data


def ws_recv(f):
    b0, b1 = recv_exact(f, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(f, 8))[0]
    payload = recv_exact(f, n)
    return b0 & 0x0F, payload


def main(url):
    u = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(u.query)["token"][0]
    base = "http://%s" % u.netloc
    kernel = api(base, token, "POST", "/api/kernels")["id"]
    try:
        sock = socket.create_connection((u.hostname, u.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(("GET /api/kernels/%s/channels?token=%s HTTP/1.1\r\nHost: %s\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n" % (kernel, token, u.netloc, key)).encode())
        f = sock.makefile("rb")
        status = f.readline()
        if b" 101 " not in status:
            print("the kernel's websocket was refused: %s" % status.decode().strip())
            return 1
        while f.readline() not in (b"\r\n", b""):
            pass
        msg_id = uuid.uuid4().hex
        ws_send(sock, json.dumps({
            "header": {"msg_id": msg_id, "username": "gg", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": "1+1", "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        while True:
            op, payload = ws_recv(f)
            if op == 8:
                print("the kernel's websocket closed before the result")
                return 1
            if op != 1:
                continue
            m = json.loads(payload)
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["header"]["msg_type"] == "execute_result":
                print(m["content"]["data"]["text/plain"])
                return 0
            if m["header"]["msg_type"] == "error":
                print("the cell failed: %s" % m["content"].get("evalue"))
                return 1
    finally:
        api(base, token, "DELETE", "/api/kernels/" + kernel)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except (OSError, EOFError, KeyError, ValueError) as e:
        print("kernel-run: %s" % e)
        sys.exit(1)
