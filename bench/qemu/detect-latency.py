#!/usr/bin/env python3
"""How fast virtio-numa publishes a vCPU move to another host node.

The host topology is a fake sysfs tree (x-sysfs-root): host node 0 = CPU 0,
host node 1 = CPU 1.  vCPU 0's thread is moved with sched_setaffinity to the
CPU of the other node; the latency is the time from just before the move to
the timestamp QEMU puts on the __org.xpv_VIRTIO_NUMA_CHANGE event that
publishes it (so QMP's delivery delay is not counted).

  events  vcpu-events=on, scan-period-ms=60000, debounce-ms=0, -accel qtest.
          A qtest vCPU thread never runs by itself and a sleeping thread is
          only migrated when it next wakes, so the move is followed by QMP
          stop + cont, which wakes it: the latency includes that QMP round
          trip (an upper bound of the time a running vCPU would take).
  scan    vcpu-events=off, scan-period-ms=1000, debounce-ms=0, -accel tcg
          (SeaBIOS runs; the virtual clock follows real time): the move is
          seen at the next scan, so 0..1 period.

    detect-latency.py QEMU OUTDIR [--moves N]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


class Line:
    def __init__(self, path):
        deadline = time.monotonic() + 60
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # QEMU starting: poll with a deadline
        self.f = self.s.makefile("rw", buffering=1, newline="\n")


class Qmp(Line):
    def __init__(self, path):
        super().__init__(path)
        self.events = []
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError(f"qmp {name}: {r['error']}")
            return r["return"]

    def wait_event(self, name, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no {name} within {timeout} s")
            self.s.settimeout(left)
            try:
                line = self.f.readline()
            finally:
                self.s.settimeout(None)
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)


class Qtest(Line):
    def cmd(self, line):
        self.f.write(line + "\n")
        while True:
            r = self.f.readline().strip()
            if r.startswith("IRQ"):
                continue
            if not r.startswith("OK"):
                raise RuntimeError(f"qtest {line!r}: {r!r}")
            return r


def fake_sysfs(root):
    for i, (cpus, dist) in enumerate((("0", "10 20"), ("1", "20 10"))):
        os.makedirs(f"{root}/node{i}")
        with open(f"{root}/node{i}/cpulist", "w") as f:
            f.write(cpus + "\n")
        with open(f"{root}/node{i}/distance", "w") as f:
            f.write(dist + "\n")


def run(qemu, mode, moves):
    tmp = tempfile.mkdtemp(prefix="xpv-latency.")
    fake_sysfs(f"{tmp}/nodes")
    qmp_path, qt_path = f"{tmp}/qmp.sock", f"{tmp}/qt.sock"
    dev = f"virtio-numa-pci,id=vn0,debounce-ms=0,x-sysfs-root={tmp}/nodes,"
    args = [qemu, "-M", "pc", "-display", "none", "-nodefaults", "-smp", "1",
            "-m", "128M", "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    if mode == "events":
        args += ["-accel", "qtest", "-qtest", f"unix:{qt_path},server=on,wait=off",
                 "-device", dev + "scan-period-ms=60000,vcpu-events=on"]
    else:
        args += ["-accel", "tcg",
                 "-device", dev + "scan-period-ms=1000,vcpu-events=off"]
    err = open(f"{tmp}/stderr", "w+")
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=err)
    lat = []
    try:
        qmp = Qmp(qmp_path)
        qt = Qtest(qt_path) if mode == "events" else None
        info = qmp.cmd("__org.xpv_query-virtio-numa", id="vn0")[0]
        if info["vcpu-detection"] != ("events" if mode == "events" else "scan"):
            raise RuntimeError(f"vcpu-detection is {info['vcpu-detection']}")
        tid = [c["thread-id"] for c in qmp.cmd("query-cpus-fast")
               if c["cpu-index"] == 0][0]
        # Let the startup maps' events (and their rate-limit window) pass.
        if qt:
            qt.cmd("clock_step 1100000000")
        else:
            time.sleep(1.1)  # wait out the rate-limit window, not a sync
        qmp.cmd("query-status")
        qmp.events.clear()
        cur = qmp.cmd("__org.xpv_query-virtio-numa",
                      id="vn0")[0]["vcpus"][0].get("host-node", 1)
        for i in range(moves + 1):
            target = (1 - cur + i) % 2   # always the other node
            t0 = time.time()
            os.sched_setaffinity(tid, {target})
            if mode == "events":
                qmp.cmd("stop")
                qmp.cmd("cont")
            ev = qmp.wait_event("__org.xpv_VIRTIO_NUMA_CHANGE", 10)
            ts = ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6
            info = qmp.cmd("__org.xpv_query-virtio-numa", id="vn0")[0]
            if info["vcpus"][0].get("host-node") != target:
                raise RuntimeError(f"published node {info['vcpus'][0]} != {target}")
            if i:  # the first move only settles the start
                lat.append((ts - t0) * 1000)
            # The event is rate-limited to 1/s of the monitor's clock
            # (virtual under qtest): let the window pass.
            if qt:
                qt.cmd("clock_step 1100000000")
            else:
                time.sleep(1.1)  # wait out the rate-limit window, not a sync
        qmp.cmd("quit")
        p.wait(timeout=30)
    except Exception as e:
        err.seek(0)
        raise RuntimeError(f"{mode}: {e}; QEMU stderr: {err.read().strip()}") from e
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", tmp], check=False)
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qemu")
    ap.add_argument("outdir")
    ap.add_argument("--moves", type=int, default=20)
    a = ap.parse_args()
    if len(os.sched_getaffinity(0) & {0, 1}) < 2:
        print("needs host CPUs 0 and 1", file=sys.stderr)
        return 77
    os.makedirs(a.outdir, exist_ok=True)
    rows, res = [], {}
    for mode in ("events", "scan"):
        try:
            lat = run(a.qemu, mode, a.moves)
        except RuntimeError as e:
            rows.append(f"| {mode} | - | not measured: {e} |")
            continue
        res[mode] = lat
        q = statistics.quantiles(lat, n=20)
        rows.append(f"| {mode} | {len(lat)} | {statistics.fmean(lat):.2f} / "
                    f"{statistics.median(lat):.2f} / {q[18]:.2f} / {max(lat):.2f} |")
    md = ["Detection latency, ms from sched_setaffinity to the publishing "
          "event's timestamp (mean / p50 / p95 / max):", "",
          "| mode | moves | latency ms |", "|:---|---:|---:|"] + rows
    with open(f"{a.outdir}/latency.md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open(f"{a.outdir}/latency.json", "w") as f:
        json.dump(res, f)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
