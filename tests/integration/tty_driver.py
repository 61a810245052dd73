#!/usr/bin/env python3
"""Drives a program on a real pseudo-terminal, as a person at a terminal would.

    tty_driver.py [--rows R] [--cols C] [--timeout S] [--transcript FILE] -- PROGRAM ARGS...

The program starts in a new session with the terminal's slave as its controlling terminal and as
stdin, stdout and stderr, at the given size. Steps come on the driver's stdin, one per line:

    expect REGEX        wait (up to --timeout) until the output since the last match matches
    send TEXT           type TEXT (Python escapes: \\r, \\x03 for Ctrl-C, \\x04 for Ctrl-D)
    sleep SECONDS
    resize ROWS COLS    set a new window size (the kernel sends SIGWINCH to the program)
    raw                 check that the program has put the terminal in raw mode
    signal NAME         send the program a signal (TERM, HUP)
    exit CODE|any       wait (up to --timeout) for the program to exit, with that status

After the program has exited (or been killed when a step failed) the terminal's modes are compared
with those before it started (`stty -g`). Exit status 0 only when every step passed and the modes
are the same; otherwise what went wrong is on stderr, with the output seen so far.
"""
import argparse
import codecs
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def stty_g(fd):
    return subprocess.run(["stty", "-g"], stdin=fd, capture_output=True, text=True,
                          check=True).stdout.strip()


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Failure(Exception):
    pass


class Session:
    def __init__(self, args):
        self.timeout = args.timeout
        self.master, self.slave = os.openpty()
        set_size(self.slave, args.rows, args.cols)
        # A person's terminal: cooked mode with echo, as a login leaves it.
        self.modes_before = stty_g(self.slave)

        def become_session_leader():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(args.program, stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, preexec_fn=become_session_leader,
                                     close_fds=True)
        self.output = b""
        self.mark = 0
        self.transcript = open(args.transcript, "wb") if args.transcript else None

    def pump(self, deadline):
        """Reads what the program wrote until the deadline; False once it has exited and no more
        output is there."""
        wait = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: nobody holds the slave any more (we do, so rarely)
            data = b""
        if data:
            self.output += data
            if self.transcript:
                self.transcript.write(data)
                self.transcript.flush()
            return True
        return False

    def expect(self, pattern):
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + self.timeout
        while True:
            m = regex.search(self.output, self.mark)
            if m:
                self.mark = m.end()
                return
            if time.monotonic() >= deadline:
                raise Failure(f"timed out after {self.timeout}s waiting for /{pattern}/")
            if self.proc.poll() is not None:
                # Whatever was still in the terminal, then give up.
                self.pump(time.monotonic() + 0.2)
                if not regex.search(self.output, self.mark):
                    raise Failure(f"program exited ({self.proc.returncode}) before /{pattern}/")
                continue
            self.pump(min(deadline, time.monotonic() + 0.1))

    def wait_exit(self, code):
        deadline = time.monotonic() + self.timeout
        while self.proc.poll() is None:
            if time.monotonic() >= deadline:
                raise Failure(f"program still running after {self.timeout}s")
            self.pump(min(deadline, time.monotonic() + 0.1))
        self.pump(time.monotonic() + 0.1)
        if code != "any" and self.proc.returncode != int(code):
            raise Failure(f"program exited {self.proc.returncode}, expected {code}")

    def check_raw(self):
        attrs = termios.tcgetattr(self.slave)
        lflag = attrs[3]
        if lflag & (termios.ICANON | termios.ECHO | termios.ISIG):
            raise Failure("the terminal is not in raw mode (ICANON, ECHO or ISIG still on)")

    def step(self, line):
        word, _, rest = line.partition(" ")
        if word == "expect":
            self.expect(rest)
        elif word == "send":
            os.write(self.master, codecs.decode(rest, "unicode_escape").encode("latin-1"))
        elif word == "sleep":
            time.sleep(float(rest))
        elif word == "resize":
            rows, cols = (int(x) for x in rest.split())
            set_size(self.slave, rows, cols)  # the kernel signals the foreground group
        elif word == "raw":
            self.check_raw()
        elif word == "signal":
            self.proc.send_signal(getattr(signal, "SIG" + rest))
        elif word == "exit":
            self.wait_exit(rest)
        else:
            raise Failure(f"unknown step: {line}")

    def finish(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        modes_after = stty_g(self.slave)
        os.close(self.master)
        os.close(self.slave)
        if self.transcript:
            self.transcript.close()
        return modes_after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--cols", type=int, default=80)
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--transcript")
    parser.add_argument("program", nargs="+")
    args = parser.parse_args()
    steps = [line.rstrip("\n") for line in sys.stdin if line.strip() and not line.startswith("#")]

    session = Session(args)
    failure = None
    try:
        for line in steps:
            session.step(line)
    except Failure as e:
        failure = f"step '{line}': {e}"
    modes_after = session.finish()
    ok = failure is None
    if failure:
        print(f"tty_driver: {failure}", file=sys.stderr)
    if modes_after != session.modes_before:
        ok = False
        print(f"tty_driver: terminal modes changed: before {session.modes_before}, "
              f"after {modes_after}", file=sys.stderr)
    if not ok:
        print("tty_driver: output so far: " + repr(session.output.decode("latin-1")),
              file=sys.stderr)
    print(f"exit={session.proc.returncode}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
