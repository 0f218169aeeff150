#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Misbehaving clients for tests/suites/44-kvm-stall: each mode keeps its
pressure on until SIGTERM, reconnecting whatever xpvd closes, and touches
READY_FILE once the first round is in place.

  stall_clients.py MODE ADDR READY_FILE [N]
    idle     N connections that never send a byte
    flood    N connections at once, reconnecting as fast as they are closed
    drip     N connections sending one byte a second ("GET /metrics ...")
    garbage  N connections sending binary junk and oversized requests
    hungqmp  listen on ADDR (a UNIX path), accept, never answer (a hung QEMU
             monitor)
ADDR: unix:/path or tcp:127.0.0.1:PORT
"""
import os
import selectors
import signal
import socket
import sys
import time

mode, addr, ready = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 5
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def connect():
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = addr[5:]
    else:
        host, port = addr[4:].rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    s.setblocking(False)
    try:
        s.connect(target)
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        s.close()
        return None
    return s


def mark_ready():
    with open(ready, "w") as f:
        f.write("%d\n" % os.getpid())


if mode == "hungqmp":
    path = addr[5:] if addr.startswith("unix:") else addr
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(64)
    held = []
    mark_ready()
    while True:
        c, _ = ls.accept()
        held.append(c)  # never greet, never answer, never close

junk = bytes(range(256)) * 4096  # 1 MiB, NULs and control bytes included
drip = b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"
sel = selectors.DefaultSelector()
conns = {}  # socket -> bytes sent so far


def fill():
    while len(conns) < n:
        s = connect()
        if s is None:
            return
        conns[s] = 0
        sel.register(s, selectors.EVENT_READ)


def drop(s):
    sel.unregister(s)
    s.close()
    del conns[s]


fill()
mark_ready()
last_drip = time.monotonic()
while True:
    for key, _ in sel.select(timeout=0.05 if mode in ("flood", "garbage") else 0.2):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            drop(s)  # xpvd closed it (deadline, limit, reply sent)
    now = time.monotonic()
    if mode == "drip" and now - last_drip >= 1:
        last_drip = now
        for s in list(conns):
            i = conns[s] % len(drip)
            try:
                s.send(drip[i : i + 1])
                conns[s] += 1
            except OSError:
                drop(s)
    if mode == "garbage":
        for s in list(conns):
            try:
                conns[s] += s.send(junk[conns[s] % len(junk) :])
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                drop(s)
    fill()
