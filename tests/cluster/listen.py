#!/usr/bin/env python3
"""tests/cluster/listen.py PORT...: a target host's open ports for the
cluster's scans.  Listens on every address of its host (network namespace)
on each PORT, accepts connections and closes them at once; runs until
killed.  Standard library only."""
import selectors
import socket
import sys


def main(ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                conn, _ = key.fileobj.accept()
                conn.close()
            except OSError:
                pass


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: listen.py PORT...")
    main([int(p) for p in sys.argv[1:]])
