#!/usr/bin/env python3
"""A cluster member gone bad, for tests: connects to the leader with a real member's certificate
and sends malformed or hostile frames, or poses as the leader with a worker's certificate.

usage: hostile_member.py client HOST PORT TLS_DIR     (prints what it saw, one line per step)
       hostile_member.py fake-leader PORT TLS_DIR     (accepts one connection; prints its outcome)
"""
import json
import socket
import ssl
import struct
import sys


def frame(header, body=b""):
    head = json.dumps(header).encode()
    return struct.pack(">II", 4 + len(head) + len(body), len(head)) + head + body


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    total, head_len = struct.unpack(">II", exactly(8))
    payload = exactly(total - 4)
    return json.loads(payload[:head_len]), payload[head_len:]


def client(host, port, tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{tls}/ca.crt")
    ctx.load_cert_chain(f"{tls}/node.crt", f"{tls}/node.key")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"])
            # A real request to laptop, then frames its side of the stream may not send (the
            # leader must drop them, not relay them), then protocol violations.
            body = b"/tmp\0sleep 30"
            steps = [
                ({"t": "open", "sid": 1, "to": "laptop", "type": "exec", "req": {"mode": "shell"}}, body),
                ({"t": "data", "sid": 1, "ch": 1}, b"forged output"),
                ({"t": "result", "sid": 1, "kind": "exited", "code": 0}, b""),
                ({"t": "hello", "version": "x" * 5000, "commands": ["c" * 100] * 1000}, b""),
                ({"t": "hello", "version": "again"}, b""),
                ({"t": "open", "sid": 3, "to": "desktop", "type": "exec", "req": 1}, b""),
                ({"t": "no-such-type"}, b""),
            ]
            try:
                for header, payload in steps:
                    s.sendall(frame(header, payload))
            except (ssl.SSLError, OSError):
                print("closed")
                return
            try:
                while True:
                    header, _ = read_frame(s)
                    if header.get("t") not in ("ping", "pong", "members"):
                        print("reply:", header.get("t"))
            except (EOFError, OSError):
                print("closed")


def fake_leader(port, tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(f"{tls}/node.crt", f"{tls}/node.key")
    with socket.create_server(("127.0.0.1", int(port))) as server:
        server.settimeout(20)
        raw, _ = server.accept()
        try:
            with ctx.wrap_socket(raw, server_side=True) as s:
                s.sendall(frame({"t": "welcome", "leader": "desktop", "id": "laptop"}))
                s.settimeout(3)
                s.recv(1)
                print("handshake accepted")
        except (ssl.SSLError, OSError) as e:
            print("handshake refused:", type(e).__name__)


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(*sys.argv[2:5])
    else:
        fake_leader(*sys.argv[2:4])
