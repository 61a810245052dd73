#!/usr/bin/env python3
"""Plays systemd's side of sd_notify for the tests: binds a datagram socket at ADDRESS (a path,
or @name for an abstract one), then appends every datagram it receives to LOG, one field per
line, each line prefixed with the receive time (seconds since the epoch) and a space. Creates
LOG (empty) once bound, so the caller knows when to start the daemon."""
import socket
import sys
import time

address, log = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + address[1:] if address.startswith("@") else address)
with open(log, "a", buffering=1) as out:
    while True:
        data = sock.recv(4096).decode("utf-8", "replace")
        now = time.time()
        for field in data.split("\n"):
            if field:
                out.write(f"{now:.3f} {field}\n")
