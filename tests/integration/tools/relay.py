#!/usr/bin/env python3
"""relay.py: a loopback TCP relay that cuts the link, for the dropped-link tests.

    relay.py LISTEN_PORT_FILE TARGET_PORT [--cut-after BYTES] [--cut-file FILE]
                                          [--rate BYTES_PER_SECOND]

Listens on a free port of 127.0.0.1 (written to LISTEN_PORT_FILE once listening) and
relays every connection to 127.0.0.1:TARGET_PORT.  The first connection that carries
more than BYTES bytes from client to server is cut (both sockets closed) right there;
with --cut-file, every open connection is cut as soon as FILE exists (the file is then
removed).  Later connections pass through untouched, as a network that came back.

--rate paces what goes from client to server, as a real uplink does.  Unpaced, loopback
outruns the VM side: sshd takes up to its whole channel window (2 MiB) off the socket
before the helper has read much of it, and a cut link throws that buffer away, so a
test would measure sshd's buffering rather than what a push keeps on a real network.
"""
import os
import select
import socket
import sys
import time


def main():
    port_file, target = sys.argv[1], int(sys.argv[2])
    cut_after, cut_file, rate = None, None, None
    args = sys.argv[3:]
    while args:
        if args[0] == "--cut-after":
            cut_after = int(args[1])
        elif args[0] == "--cut-file":
            cut_file = args[1]
        elif args[0] == "--rate":
            rate = int(args[1])
        args = args[2:]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    pairs = {}  # socket -> (peer, is_client_side, conn_id)
    sent = {}   # conn_id -> client bytes
    cut_done = False
    next_id = 0
    paced_bytes, paced_since = 0, time.monotonic()
    while True:
        ready, _, _ = select.select([listener] + list(pairs), [], [], 0.1)
        if cut_file and os.path.exists(cut_file):
            os.unlink(cut_file)
            for s in list(pairs):
                s.close()
            pairs.clear()
            continue
        for s in ready:
            if s is listener:
                client, _ = listener.accept()
                try:
                    server = socket.create_connection(("127.0.0.1", target))
                except OSError:
                    # The server is down (being restarted): refuse this one, go on.
                    client.close()
                    continue
                pairs[client] = (server, True, next_id)
                pairs[server] = (client, False, next_id)
                sent[next_id] = 0
                next_id += 1
                continue
            if s not in pairs:
                continue
            peer, from_client, cid = pairs[s]
            try:
                data = s.recv(16384 if rate else 65536)
            except OSError:
                data = b""
            if from_client and data and cut_after is not None and not cut_done:
                sent[cid] += len(data)
                if sent[cid] > cut_after:
                    cut_done = True
                    data = b""
            if not data:
                for x in (s, peer):
                    pairs.pop(x, None)
                    x.close()
                continue
            if from_client and rate:
                paced_bytes += len(data)
                ahead = paced_bytes / rate - (time.monotonic() - paced_since)
                if ahead > 0:
                    time.sleep(ahead)
                elif ahead < -0.02:
                    # An idle link does not save up a burst.
                    paced_bytes, paced_since = 0, time.monotonic()
            try:
                peer.sendall(data)
            except OSError:
                for x in (s, peer):
                    pairs.pop(x, None)
                    x.close()


if __name__ == "__main__":
    main()
