#!/usr/bin/python3
"""TEST ONLY: runs inside the 2-node test host for tests/suites/63-e2e-memory-placement.

Usage: memplace.py QEMU WORKDIR MODE
MODE "bind": the guest RAM backend has policy=bind,host-nodes=0.
MODE "nobind": no policy; QEMU runs under `numactl --membind=0`, so its pages
start on node 0 too, and the home is the majority node.

Starts QEMU with -accel qtest (no guest code runs; the virtual clock only
moves on qtest clock_step), a 256 MiB guest node 0 and virtio-numa-pci with
the REAL host topology (no host-topology override).  Touches guest RAM with a
qtest memset, steps the virtual clock, reads __org.xpv_query-virtio-numa:
the bytes must be on host node 0.  Then `migratepages PID 0 1` and steps the
clock scan by scan until QMP reports the bytes on host node 1.
Prints "PASS desc" / "FAIL desc" / "# info" lines; exit 0 when all passed.
"""
import json
import os
import socket
import subprocess
import sys
import time

QEMU, WORK, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
MIB = 1 << 20
SIZE = 256 * MIB
PERIOD_MS = 100
failed = 0


def result(good, desc):
    global failed
    print(("PASS " if good else "FAIL ") + desc, flush=True)
    failed += not good


def info(msg):
    print("# " + msg, flush=True)


def connect(path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.time() > deadline or qemu.poll() is not None:
                raise
            time.sleep(0.05)  # polling interval of a deadline loop


class Qmp:
    def __init__(self, path):
        self.s = connect(path, time.time() + 60)
        self.s.settimeout(60)
        self.f = self.s.makefile("r")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.s.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error']}")
            return r["return"]


class Qtest:
    def __init__(self, path):
        self.s = connect(path, time.time() + 60)
        self.s.settimeout(120)
        self.f = self.s.makefile("r")

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        while True:
            r = self.f.readline().strip()
            if r.startswith("IRQ"):
                continue
            if not r.startswith("OK"):
                raise RuntimeError(f"qtest {line}: {r}")
            return r


def dist(qmp):
    r = qmp.cmd("__org.xpv_query-virtio-numa", id="vn0")[0]
    ids = [h["id"] for h in r["host-nodes"]]
    g = r["guest-nodes"][0]
    on = dict(zip(ids, g["bytes-on"]))
    return r["version"], on, g.get("home"), g["home-source"], g["unplaced"]


def show(tag, d):
    v, on, home, src, unpl = d
    info("%s: version %d, MiB on host nodes %s, unplaced %d MiB, home %s (%s)" % (
        tag, v, {k: b // MIB for k, b in on.items()}, unpl // MIB, home, src))


def numa_maps_nodes(pid):
    """N<node>=pages of the guest RAM mapping, from /proc/PID/numa_maps (the kernel's view)."""
    out = {}
    with open(f"/proc/{pid}/numa_maps") as f:
        for line in f:
            w = line.split()
            # the guest RAM: an anonymous mapping of at least SIZE pages worth
            pages = [int(x.split("=")[1]) for x in w if x.startswith("anon=")]
            if pages and pages[0] * 4096 >= SIZE // 2:
                for x in w:
                    if x[0] == "N" and "=" in x:
                        n, c = x[1:].split("=")
                        out[int(n)] = out.get(int(n), 0) + int(c) * 4096 // MIB
    return out


obj = f"memory-backend-ram,id=m0,size={SIZE}"
pre = []
if MODE == "bind":
    obj += ",policy=bind,host-nodes=0"
else:
    pre = ["numactl", "--membind=0", "--"]
qmp_path, qt_path = os.path.join(WORK, "qmp.sock"), os.path.join(WORK, "qt.sock")
fw = [a for d in ("/usr/share/qemu", "/usr/share/seabios") if os.path.isdir(d) for a in ("-L", d)]
argv = pre + [QEMU] + fw + ["-accel", "qtest", "-M", "pc", "-m", f"{SIZE // MIB}M", "-nodefaults",
              "-display", "none", "-object", obj, "-numa", "node,nodeid=0,memdev=m0",
              "-device", f"virtio-numa-pci,id=vn0,scan-period-ms={PERIOD_MS},debounce-ms=0,"
              "mem-sample-stride=1048576,change-threshold=5",
              "-qmp", f"unix:{qmp_path},server=on,wait=off",
              "-qtest", f"unix:{qt_path},server=on,wait=off"]
info("QEMU: " + " ".join(argv))
qemu = subprocess.Popen(argv, stdout=open(os.path.join(WORK, f"qemu-{MODE}.log"), "w"),
                        stderr=subprocess.STDOUT)
try:
    qmp = Qmp(qmp_path)
    qt = Qtest(qt_path)
    topo = subprocess.run(["numactl", "-H"], capture_output=True, text=True).stdout
    info("host: " + " | ".join(topo.splitlines()[:3]))
    # touch the RAM above 1 MiB (below it are the BIOS shadows and the VGA hole)
    qt.cmd("memset 0x100000 0x%x 0x5a" % (SIZE - MIB))

    def step_until(pred, max_scans, what):
        d = dist(qmp)
        for i in range(max_scans + 1):
            if pred(d):
                info(f"{what} after {i} scan(s) of virtual time")
                return d, i
            qt.cmd("clock_step %d" % (PERIOD_MS * 1000000))
            d = dist(qmp)
        return d, None

    def on_node(n):
        return lambda d: d[1].get(n, 0) >= 0.9 * (SIZE - 2 * MIB)

    d0, i0 = step_until(on_node(0), 5, "bytes on host node 0")
    show("before", d0)
    info("numa_maps (kernel): MiB per node %s" % numa_maps_nodes(qemu.pid))
    result(i0 is not None, "%s: QMP reports the touched guest RAM on host node 0 (%d MiB of %d)" % (
        MODE, d0[1].get(0, 0) // MIB, SIZE // MIB))
    if MODE == "bind":
        result(d0[2] == 0 and d0[3] == "bind", "bind: home is host node 0 from the bind policy")
    else:
        result(d0[2] == 0 and d0[3] == "majority", "nobind: home is host node 0, the majority")
    t = time.time()
    mp = subprocess.run(["migratepages", str(qemu.pid), "0", "1"], capture_output=True, text=True)
    info("migratepages %d 0 1: exit %d %s (%.1f s)" % (qemu.pid, mp.returncode,
                                                        (mp.stdout + mp.stderr).strip(), time.time() - t))
    info("numa_maps (kernel) after migratepages: MiB per node %s" % numa_maps_nodes(qemu.pid))
    d1, i1 = step_until(on_node(1), 10, "bytes on host node 1")
    show("after", d1)
    result(i1 is not None and d1[0] > d0[0],
           "%s: after migratepages QMP reports the RAM on host node 1 within %s scan(s) "
           "(%d MiB on node 1, version %d -> %d)" % (MODE, i1, d1[1].get(1, 0) // MIB, d0[0], d1[0]))
    if MODE == "nobind":
        result(d1[2] == 1 and d1[3] == "majority", "nobind: home follows to host node 1 (majority)")
    else:
        info("bind: home stays %s (%s): the policy, not the placement, defines it" % (d1[2], d1[3]))
except Exception as e:  # report, never hang
    result(False, f"{MODE}: {type(e).__name__}: {e}")
finally:
    qemu.kill()
    qemu.wait()
sys.exit(1 if failed else 0)
