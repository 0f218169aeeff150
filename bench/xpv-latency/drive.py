#!/usr/bin/python3
"""Host side of bench/xpv-latency (called by run.sh with a running guest).

Usage: drive.py CONSOLE-LOG QMP-SOCKET TID CPU-A CPU-B N
The guest runs `xpv-e2e latency N`: it prints (through printk, so the lines
carry a time stamp prefix) "xpv-e2e: ARMED i v h" (h: the host node
of vCPU 1 in the map), blocks in poll() on /dev/xpv_numa until a map shows
vCPU 1 on another host node, then prints "WOKE i v h' other".  For each i:
wait for ARMED i, wait a random 0-100 ms (so that the move lands at a random
phase of the device's scan period; a deliberate jitter, not a
synchronisation), move vCPU 1's thread (TID) to the CPU of the other host node
(sched_setaffinity), and time until "WOKE i" appears in the console log
(polled every 0.2 ms).  On a timeout it prints what QMP and /proc say, to tell
a device that did not publish from a guest that did not wake.
Prints one JSON object; exit 1 on a timeout.
"""
import json
import os
import random
import socket
import sys
import time

log, qmp_path, tid = sys.argv[1], sys.argv[2], int(sys.argv[3])
cpu_a, cpu_b, n = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
f = open(log, "rb")
buf = b""


def wait_line(prefix, timeout):
    """Words of the first new console line containing "xpv-e2e: " + prefix.
    Lines already read but not yet looked at count too: one read can bring
    several lines (WOKE i and ARMED i+1)."""
    global buf
    end = time.monotonic() + timeout
    while True:
        buf += f.read()
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.decode(errors="replace").strip("\r\n ")
            if "xpv-e2e: TIMEOUT" in line:
                raise TimeoutError("guest: " + line)
            k = line.find("xpv-e2e: " + prefix)
            if k >= 0:  # after the printk time stamp
                return line[k + 9:].split()
        if time.monotonic() > end:
            raise TimeoutError(prefix.strip())
        time.sleep(0.0002)  # polling interval of a deadline loop


def diagnose(why):
    print("# timeout waiting for %s" % why, file=sys.stderr)
    with open(log, "rb") as lf:
        tail = lf.read().decode(errors="replace").splitlines()[-3:]
    print("# console log now ends: %s; unparsed: %r" % (tail, buf[-200:]), file=sys.stderr)
    try:
        with open(f"/proc/{tid}/stat") as st:
            last = st.read().rsplit(")", 1)[1].split()[36]
        print("# vCPU 1 thread: affinity %s, last ran on CPU %s" % (os.sched_getaffinity(tid), last),
              file=sys.stderr)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(qmp_path)
        rf = s.makefile("r")
        rf.readline()

        def qmp(name, **args):
            s.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
            while True:
                r = json.loads(rf.readline())
                if "event" not in r:
                    return r["return"]

        qmp("qmp_capabilities")
        r = qmp("__org.xpv_query-virtio-numa", id="vn0")[0]
        regs = qmp("human-monitor-command", **{"command-line": "info registers -a"})
        print("# guest RIPs: %s" % [l.split()[0] for l in regs.splitlines() if l.startswith("RIP=")],
              file=sys.stderr)

        def cputime(t):
            with open(f"/proc/{t}/stat") as st:
                w = st.read().rsplit(")", 1)[1].split()
            return int(w[11]) + int(w[12])
        c0 = cputime(tid)
        time.sleep(2)
        print("# vCPU 1 thread used %d ticks of CPU in 2 s" % (cputime(tid) - c0), file=sys.stderr)
        print("# QMP: version %d vcpus %s" % (r["version"], [(v.get("host-node"), v.get("host-cpu"))
                                                            for v in r["vcpus"]]), file=sys.stderr)
    except Exception as e:
        print("# diagnosis failed: %r" % e, file=sys.stderr)


lat, other = [], 0
try:
    for i in range(n):
        a = wait_line(f"ARMED {i} ", 60)
        target = cpu_b if a[3] == "0" else cpu_a
        time.sleep(random.uniform(0, 0.1))
        t0 = time.monotonic()
        os.sched_setaffinity(tid, {target})
        w = wait_line(f"WOKE {i} ", 60)
        lat.append((time.monotonic() - t0) * 1000)
        other += int(w[4])
except TimeoutError as e:
    diagnose(str(e))
    print(json.dumps({"error": str(e), "samples": len(lat)}))
    sys.exit(1)
lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]


print(json.dumps({"samples": len(lat), "other_maps": other, "min_ms": round(lat[0], 1),
                  "median_ms": round(pct(50), 1), "p90_ms": round(pct(90), 1),
                  "max_ms": round(lat[-1], 1), "all_ms": [round(x, 1) for x in lat]}))
