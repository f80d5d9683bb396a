#!/usr/bin/env python3
"""tests/integration/tools/tunnel-idle.py: what a browser does to a tunnel.

    tunnel-idle.py echo PORT          an echo server on 127.0.0.1:PORT (the "VM's" side)
    tunnel-idle.py idle PORT          through the tunnel on 127.0.0.1:PORT: open three
                                      connections (each answers once), close the first
                                      while the third stays open and idle, then ask on
                                      the second: it must answer within 10 s
    tunnel-idle.py bulk PORT BYTES    ask the echo server for BYTES bytes through the
                                      tunnel; print the seconds they took

Exit 0 when the tunnel served, 1 with one line saying what hung."""
import socket
import sys
import threading
import time


def echo(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if data.startswith(b"bulk "):
                    n = int(data.split()[1])
                    conn.sendall(b"x" * n)
                else:
                    conn.sendall(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def ask(conn, what):
    conn.sendall(what)
    got = b""
    while len(got) < len(what):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    return got == what


def idle(port):
    conns = []
    for i in range(3):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        if not ask(c, b"hello %d\n" % i):
            print("connection %d through the tunnel got no echo" % i)
            return 1
        conns.append(c)
    conns[0].close()
    try:
        ok = ask(conns[1], b"after the first closed\n")
    except socket.timeout:
        ok = False
    if not ok:
        print("a connection hung after another closed while a third stayed idle")
        return 1
    return 0


def bulk(port, n):
    c = socket.create_connection(("127.0.0.1", port), timeout=60)
    start = time.monotonic()
    c.sendall(b"bulk %d" % n)
    got = 0
    while got < n:
        chunk = c.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    print("%.3f" % (time.monotonic() - start))
    return 0 if got == n else 1


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "echo":
        echo(port)
    elif mode == "idle":
        sys.exit(idle(port))
    else:
        sys.exit(bulk(port, int(sys.argv[3])))
