#!/usr/bin/python3
"""Send QMP commands to a QEMU monitor socket and print the replies.

Usage: qmp.py [--timeout SECS] SOCKET JSON [JSON...]

Connects to the unix SOCKET, reads the greeting, negotiates with
qmp_capabilities, then sends each JSON command in turn and prints its reply
(one compact JSON object per line); asynchronous events are skipped.  A
command may be given as a bare name ("query-status") or as a full object.
Exit status: 0 if every reply is a "return", 1 if one is an "error",
2 on a usage, connection, protocol or timeout failure.
"""
import json
import socket
import sys
import time


def fail(msg):
    print(f"qmp.py: {msg}", file=sys.stderr)
    sys.exit(2)


class Qmp:
    def __init__(self, path, timeout):
        self.deadline = time.monotonic() + timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            fail(f"connecting to {path}: {e}")
        self.buf = b""

    def read(self):
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                fail("timed out waiting for a reply")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                fail("timed out waiting for a reply")
            if not data:
                fail("QEMU closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            fail(f"bad JSON from QEMU: {line!r}")

    def reply(self):
        while True:
            msg = self.read()
            if "event" not in msg:
                return msg

    def execute(self, cmd):
        self.sock.sendall(json.dumps(cmd).encode() + b"\n")
        return self.reply()


def main(argv):
    timeout = 30.0
    if len(argv) > 1 and argv[0] == "--timeout":
        timeout = float(argv[1])
        argv = argv[2:]
    if len(argv) < 2:
        fail("usage: qmp.py [--timeout SECS] SOCKET JSON [JSON...]")
    cmds = []
    for a in argv[1:]:
        try:
            c = json.loads(a)
        except ValueError:
            c = {"execute": a}
        if not isinstance(c, dict) or "execute" not in c:
            fail(f"not a QMP command: {a}")
        cmds.append(c)
    q = Qmp(argv[0], timeout)
    greeting = q.read()
    if "QMP" not in greeting:
        fail(f"unexpected greeting {greeting}")
    r = q.execute({"execute": "qmp_capabilities"})
    if "return" not in r:
        fail(f"qmp_capabilities failed: {r}")
    status = 0
    for c in cmds:
        r = q.execute(c)
        print(json.dumps(r, separators=(",", ":")), flush=True)
        if "return" not in r:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
