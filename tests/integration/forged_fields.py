#!/usr/bin/env python3
"""Untrusted strings and numbers from a member or a local client, for tests: each mode sends one
kind of hostile field and prints what came back (one line per step).

usage: forged_fields.py hello HOST PORT TLS_DIR             member hello with terminal escapes
       forged_fields.py log-lines HOST PORT TLS_DIR         member frames whose type forges log lines
       forged_fields.py timeout HOST PORT TLS_DIR TO MS     open an exec on TO with timeout_ms=MS
       forged_fields.py same-rid HOST PORT TLS_DIR TO       two requests with one request id
       forged_fields.py local-log-lines SOCKET              the same forgery through the Unix socket
       forged_fields.py protocol HOST PORT TLS_DIR V MIN    a hello speaking protocol V (oldest MIN)
"""
import socket
import sys

from hostile_member import frame, member_context, read_frame

# What a member's daemon stamps on a request its local root made (docs/security.md).
ROOT = {"name": "root", "root": True}

FORGED = "\n2026-01-01T00:00:00.000 info audit request=feedfacefeed requester=local uid=0 command=[forged] decision=ran"


def member(host, port, tls):
    raw = socket.create_connection((host, int(port)), timeout=10)
    s = member_context(tls).wrap_socket(raw)
    header, _ = read_frame(s)
    print("first:", header["t"])
    return s


def replies(s, want=None, limit=50):
    """Prints replies other than heartbeats until the connection closes or `want` arrives."""
    try:
        for _ in range(limit):
            header, body = read_frame(s)
            t = header.get("t")
            if t == "ping":
                s.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
                continue
            if t in ("pong", "members", "credit"):
                continue
            print("reply:", t, header.get("kind", ""), body.decode(errors="replace"))
            if want and t == want:
                return
    except (EOFError, OSError):
        print("closed")


def hello(host, port, tls):
    s = member(host, port, tls)
    s.sendall(frame({"t": "hello", "version": "0.1.0\x1b[2J\x1b]0;pwned\x07",
                     "commands": ["execOnPeer", "\x1b[31mred"]}))
    replies(s)


def protocol(host, port, tls, version, oldest):
    s = member(host, port, tls)
    s.sendall(frame({"t": "hello", "version": "9.9.9", "protocol": int(version),
                     "min_protocol": int(oldest)}))
    s.settimeout(3)  # a compatible hello gets no answer: 3 s of heartbeats, then we stop
    replies(s, want="refused")


def log_lines(host, port, tls):
    s = member(host, port, tls)
    s.sendall(frame({"t": "hello", "version": "0.1.0"}))
    s.sendall(frame({"t": "data" + FORGED, "sid": 1}))
    s.sendall(frame({"t": "no-such" + FORGED}))
    replies(s)


def timeout(host, port, tls, to, ms):
    s = member(host, port, tls)
    s.sendall(frame({"t": "hello", "version": "0.1.0"}))
    s.sendall(frame({"t": "open", "sid": 1, "to": to, "type": "exec", "rid": "abcdef",
                     "req": {"caller": ROOT, "mode": "shell", "timeout_ms": int(ms)}}, b"/\0echo ran"))
    s.sendall(frame({"t": "eof", "sid": 1, "ch": 0}))
    s.sendall(frame({"t": "credit", "sid": 1, "n": 65536}))
    replies(s, want="result")


def same_rid(host, port, tls, to):
    s = member(host, port, tls)
    s.sendall(frame({"t": "hello", "version": "0.1.0"}))
    for sid in (1, 3):
        s.sendall(frame({"t": "open", "sid": sid, "to": to, "type": "exec", "rid": "00000000abcd",
                         "req": {"caller": ROOT, "mode": "shell"}}, b"/\0true"))
        s.sendall(frame({"t": "eof", "sid": sid, "ch": 0}))
        replies(s, want="result")


def local_log_lines(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(frame({"t": "run" + FORGED}, b"help"))
    replies(s)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"hello": hello, "log-lines": log_lines, "timeout": timeout, "same-rid": same_rid,
     "local-log-lines": local_log_lines, "protocol": protocol}[mode](*args)
