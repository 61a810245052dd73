#!/usr/bin/env python3
"""A cluster member gone bad, for tests: connects to the leader with a real member's certificate
and sends malformed or hostile frames, or poses as the leader with a worker's certificate; or an
intruder without any certificate.

usage: hostile_member.py client HOST PORT TLS_DIR     (prints what it saw, one line per step)
       hostile_member.py fake-leader PORT TLS_DIR     (accepts one connection; prints its outcome)
       hostile_member.py relay-flood HOST PORT TLS_DIR TARGET MODE MIB
           opens a stream to TARGET through the leader, then sends MIB MiB of MODE frames on it:
           credit-body (credit frames with 1 MiB bodies) or data (64 KiB input chunks, no credit)
       hostile_member.py preauth-frames HOST PORT COUNT TYPE_BYTES [TYPE]
           COUNT connections without a certificate, each sending one frame whose type is TYPE
           (default: TYPE_BYTES bytes of text with newlines)
       hostile_member.py preauth-hold HOST PORT COUNT FRAME_BYTES SECONDS
           COUNT connections without a certificate, from 127.0.0.x source addresses, each sending
           all but 16 bytes of a FRAME_BYTES frame, held for SECONDS
       hostile_member.py direct-silent HOST PORT TLS_DIR SECONDS
           a direct session to a worker with a member's certificate that never sends its hello:
           runs one command, answers pings, and prints when the worker closes it (or "still
           open" after SECONDS)
       hostile_member.py direct-redial HOST PORT TLS_DIR SECONDS
           a member's direct session to a worker that runs `sleep SECONDS; echo long-ran`, then a
           second session of the same member (which replaces the first); prints the first one's
           output and result, or when the worker closes it
       hostile_member.py request-flood HOST PORT TLS_DIR TARGET COUNT COMMAND_BYTES
           COUNT exec requests to TARGET at once, each a shell command of COMMAND_BYTES bytes;
           answers pings, and prints how many results came back, how many of them `busy`
       hostile_member.py job-names HOST PORT TLS_DIR TARGET DIRECTORY
           a member's job.start requests sent straight to TARGET (the leader's own id: no relay,
           no requesting daemon to check anything) with names the CLI never sends: a path, a
           newline, 5000 bytes, a C1 control, a leading digit; prints "LABEL: KIND REASON" for
           each answer
       hostile_member.py idle HOST PORT COUNT SECONDS
           COUNT plain TCP connections from 127.0.0.x source addresses, reopened when closed,
           for SECONDS
"""
import json
import socket
import ssl
import struct
import sys
import threading
import time

# What a member's daemon stamps on a request its local root made (docs/security.md).
ROOT = {"name": "root", "root": True}


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
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with member_context(tls).wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"])
            # A real request to laptop, then frames its side of the stream may not send (the
            # leader must drop them, not relay them), then protocol violations.
            body = b"/tmp\0sleep 30"
            steps = [
                ({"t": "open", "sid": 1, "to": "laptop", "type": "exec", "req": {"caller": ROOT, "mode": "shell"}}, body),
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


def member_context(tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{tls}/ca.crt")
    ctx.load_cert_chain(f"{tls}/node.crt", f"{tls}/node.key")
    return ctx


def anonymous_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def source_address(i, host):
    # Spread connections over 127.0.0.2… so per-address limits do not hide the total ones.
    return (f"127.0.0.{2 + i % 200}", 0) if host.startswith("127.") else None


def relay_flood(host, port, tls, target, mode, mib):
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with member_context(tls).wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"])
            s.sendall(frame({"t": "open", "sid": 1, "to": target, "type": "exec",
                             "req": {"caller": ROOT, "mode": "shell"}}, b"/tmp\0sleep 20"))
            if mode == "credit-body":
                one = frame({"t": "credit", "sid": 1, "n": 0}, b"c" * (1024 * 1024 - 64))
            else:
                one = frame({"t": "data", "sid": 1, "ch": 0}, b"d" * 65536)
            try:
                while sent < int(mib) * 1024 * 1024:
                    s.sendall(one)
                    sent += len(one)
                print(f"sent {sent // (1024 * 1024)} MiB")
                # Stay until the leader cuts us off (or give up after a while).
                s.settimeout(15)
                while True:
                    read_frame(s)
            except (ssl.SSLError, OSError, EOFError):
                print(f"cut off after {sent // (1024 * 1024)} MiB")


def preauth_frames(host, port, count, type_bytes, type_text=None):
    if type_text is None:
        line = "\n2026-01-01T00:00:00.000 info FORGED audit request=0 requester=root\n"
        type_text = (line * (int(type_bytes) // len(line) + 1))[: int(type_bytes)]
    ctx = anonymous_context()
    done = 0
    for _ in range(int(count)):
        try:
            with socket.create_connection((host, int(port)), timeout=10) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.sendall(frame({"t": type_text}))
                    s.settimeout(5)
                    try:
                        while s.recv(65536):
                            pass
                    except (ssl.SSLError, OSError):
                        pass
                    done += 1
        except (ssl.SSLError, OSError):
            pass
    print(f"sent {done}")


def preauth_hold(host, port, count, frame_bytes, seconds):
    ctx = anonymous_context()
    total = int(frame_bytes)
    head = json.dumps({"t": "enroll"}).encode()
    partial = struct.pack(">II", total, len(head)) + head
    partial += b"x" * (total + 4 - len(partial) - 16)
    held, refused = [], 0
    for i in range(int(count)):
        try:
            raw = socket.create_connection((host, int(port)), timeout=5,
                                           source_address=source_address(i, host))
            s = ctx.wrap_socket(raw)
            s.settimeout(5)
            s.sendall(partial)
            held.append(s)
        except (ssl.SSLError, OSError):
            refused += 1
    print(f"held {len(held)} refused {refused}", flush=True)
    time.sleep(float(seconds))
    for s in held:
        s.close()


def idle(host, port, count, seconds):
    end = time.time() + float(seconds)
    slots = [None] * int(count)
    opened = 0
    while time.time() < end:
        for i, s in enumerate(slots):
            if s is not None:
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        raise OSError
                    continue
                except BlockingIOError:
                    continue
                except OSError:
                    s.close()
                    slots[i] = None
            try:
                slots[i] = socket.create_connection((host, int(port)), timeout=0.2,
                                                    source_address=source_address(i, host))
                opened += 1
            except OSError:
                pass
        time.sleep(0.1)
    print(f"opened {opened}")

def direct_silent(host, port, tls, seconds):
    ctx = member_context(tls)
    ctx.verify_mode = ssl.CERT_NONE  # a worker serves with a client-only certificate
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"], flush=True)
            s.sendall(frame({"t": "open", "sid": 1, "to": header.get("peer", "?"), "type": "exec",
                             "req": {"caller": ROOT, "mode": "shell"}}, b"/tmp\0echo silent-ran"))
            s.settimeout(1)
            start = time.monotonic()
            try:
                while time.monotonic() - start < float(seconds):
                    try:
                        header, body = read_frame(s)
                    except (socket.timeout, TimeoutError):
                        continue
                    if header["t"] == "ping":
                        s.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
                    elif header["t"] == "data" and body:
                        print("output:", body.decode(errors="replace").strip(), flush=True)
                    elif header["t"] == "credit" and header.get("sid") == 1:
                        pass
                    elif header["t"] == "result":
                        print("result:", header.get("kind"), header.get("code"), flush=True)
                print("still open")
            except (ssl.SSLError, OSError, EOFError):
                print(f"closed after {time.monotonic() - start:.0f} s")


def answer_pings(s):
    try:
        while True:
            header, _ = read_frame(s)
            if header["t"] == "ping":
                s.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
    except (ssl.SSLError, OSError, EOFError):
        pass


def direct_redial(host, port, tls, seconds):
    ctx = member_context(tls)
    ctx.verify_mode = ssl.CERT_NONE  # a worker serves with a client-only certificate
    hello = frame({"t": "hello", "version": "0.1.0", "protocol": 4, "min_protocol": 1,
                   "commands": []})
    first = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
    header, _ = read_frame(first)
    first.sendall(hello)
    first.sendall(frame({"t": "open", "sid": 1, "to": header.get("peer", "?"), "type": "exec",
                         "req": {"caller": ROOT, "mode": "shell"}},
                        f"/tmp\0sleep {seconds}; echo long-ran".encode()))
    time.sleep(0.5)
    # The same member dials again: the worker keeps the newer session.
    second = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
    read_frame(second)
    second.sendall(hello)
    print("second session", flush=True)
    threading.Thread(target=answer_pings, args=(second,), daemon=True).start()
    first.settimeout(1)
    start = time.monotonic()
    try:
        while time.monotonic() - start < float(seconds) + 20:
            try:
                header, body = read_frame(first)
            except (socket.timeout, TimeoutError):
                continue
            if header["t"] == "ping":
                first.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
            elif header["t"] == "data" and body:
                print("output:", body.decode(errors="replace").strip(), flush=True)
            elif header["t"] == "result":
                print("result:", header.get("kind"), header.get("code"), flush=True)
                return
        print("no result")
    except (ssl.SSLError, OSError, EOFError):
        print(f"closed after {time.monotonic() - start:.0f} s", flush=True)


def request_flood(host, port, tls, target, count, command_bytes):
    count = int(count)
    command = b"/tmp\0" + b"x" * int(command_bytes)
    tally = {"results": 0, "busy": 0}
    done = threading.Event()
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        with member_context(tls).wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"], flush=True)
            lock = threading.Lock()

            def reader():
                try:
                    while tally["results"] < count:
                        header, body = read_frame(s)
                        if header["t"] == "ping":
                            with lock:
                                s.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
                        elif header["t"] == "result":
                            tally["results"] += 1
                            if body.startswith(b"busy"):
                                tally["busy"] += 1
                except (ssl.SSLError, OSError, EOFError):
                    pass
                done.set()

            threading.Thread(target=reader, daemon=True).start()
            for i in range(count):
                one = frame({"t": "open", "sid": 2 * i + 1, "to": target, "type": "exec",
                             "rid": f"flood-{i}", "req": {"caller": ROOT, "mode": "shell"}}, command)
                with lock:
                    s.sendall(one)
            done.wait(120)
    print(f"results: {tally['results']} busy: {tally['busy']}", flush=True)
HOSTILE_NAMES = [
    ("path", "../../etc/x"),
    ("newline", "a\nb"),
    ("long", "a" * 5000),
    ("c1", "job\u009b31m"),
    ("digit", "9lives"),
]


def job_names(host, port, tls, target, directory):
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with member_context(tls).wrap_socket(raw) as s:
            header, _ = read_frame(s)
            print("first:", header["t"], flush=True)
            for i, (label, name) in enumerate(HOSTILE_NAMES):
                sid = 2 * i + 1  # a requester's stream ids are odd
                s.sendall(frame({"t": "open", "sid": sid, "to": target, "type": "job.start",
                                 "rid": f"hostile{sid:05d}",
                                 "req": {"caller": ROOT, "mode": "shell", "name": name}},
                                directory.encode() + b"\0echo hostile-job-ran"))
                while True:
                    header, body = read_frame(s)
                    if header["t"] == "ping":
                        s.sendall(frame({"t": "pong", "n": header.get("n", 0)}))
                    elif header["t"] == "result" and header.get("sid") == sid:
                        reason = body.decode(errors="backslashreplace")
                        print(f"{label}: {header.get('kind')} {reason}", flush=True)
                        break


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "client":
        client(*args[:3])
    elif command == "fake-leader":
        fake_leader(*args[:2])
    elif command == "relay-flood":
        relay_flood(*args[:6])
    elif command == "preauth-frames":
        preauth_frames(*args[:5])
    elif command == "preauth-hold":
        preauth_hold(*args[:5])
    elif command == "direct-silent":
        direct_silent(*args[:4])
    elif command == "direct-redial":
        direct_redial(*args[:4])
    elif command == "request-flood":
        request_flood(*args[:6])
    elif command == "job-names":
        job_names(*args[:5])
    elif command == "idle":
        idle(*args[:4])
