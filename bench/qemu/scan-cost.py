#!/usr/bin/env python3
"""Per-scan cost of virtio-numa's placement tracker, from its QOM statistics.

For each configuration (guest RAM, vCPUs, mem-sample-stride, mem-placement)
this starts the patched QEMU under -accel qtest (one idle thread per vCPU; the
virtual clock only moves on qtest clock_step), advances the clock by one scan
period at a time, waits for the tracker thread to finish that scan (x-scans)
and reads x-scan-ns (tracker thread time) and x-main-loop-ns (time the main
loop spent on the scan: the scan request, and the publication when the map
changed), so every scan gives one sample of each (warm-up scans are
discarded: the first ones open the per-vCPU /proc fds).  Three memory states:

  untouched  nothing resident: every sampled page is absent.
  1g         then 1 GiB touched with qtest memset, half at the start of each
             guest node (same QEMU process; QEMU madvises its RAM
             MADV_HUGEPAGE, so this is 2 MiB THPs where THP is "madvise").
  resident   a second QEMU process with THP disabled (PR_SET_THP_DISABLE,
             inherited across exec) in which exactly the sampled 4 KiB pages
             are touched: every sample hits a resident page, as in a fully
             resident guest, at a cost of one page per sample of host RAM.

The configurations are run --reps times, interleaved, and the per-scan samples
of all repetitions are pooled.

    scan-cost.py QEMU OUTDIR [--reps N] [--scans N] [--rams 1,16,64] ...

Writes OUTDIR/results.json and OUTDIR/results.md (markdown tables).
"""
import argparse
import ctypes
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

GiB = 1 << 30
MiB = 1 << 20
PERIOD_MS = 1000
PR_SET_THP_DISABLE = 41


class Qtest:
    def __init__(self, sock):
        self.f = sock.makefile("rw", buffering=1, newline="\n")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        while True:
            r = self.f.readline()
            if not r:
                raise RuntimeError("qtest: QEMU closed the socket")
            r = r.strip()
            if r.startswith("IRQ"):
                continue
            if not r.startswith("OK"):
                raise RuntimeError(f"qtest: {line!r} -> {r!r}")
            return r


class Qmp:
    def __init__(self, sock):
        self.f = sock.makefile("rw", buffering=1, newline="\n")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("qmp: QEMU closed the socket")
            r = json.loads(line)
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"qmp {name}: {r['error']}")
            return r["return"]


def lowmem(ram):
    """q35 (7.2): all RAM is below 4G if < 0xb0000000, else 2 GiB of it."""
    return ram if ram < 0xB0000000 else 0x80000000


def gpa_of(ram, off):
    low = lowmem(ram)
    return off if off < low else 4 * GiB + (off - low)


def touch_1g(qt, ram, touch_bytes):
    """memset touch_bytes/2 at the start of each guest node (node 0 from
    1 MiB, above the legacy VGA/BIOS holes), in chunks of at most 64 MiB."""
    half = ram // 2
    per = min(touch_bytes // 2, half)
    done = 0
    for start, length in ((MiB, per - MiB), (half, per)):
        off = 0
        while off < length:
            a = start + off
            n = min(64 * MiB, length - off)
            if a < lowmem(ram) < a + n:  # do not straddle the PCI hole
                n = lowmem(ram) - a
            qt.cmd(f"memset 0x{gpa_of(ram, a):x} 0x{n:x} 0x5a")
            off += n
            done += n
    return done


def touch_samples(qt, ram, stride):
    """One byte in every page the tracker samples (node starts + i*stride)."""
    half = ram // 2
    n = 0
    for node_off in (0, half):
        for off in range(0, half, stride):
            qt.cmd(f"writeb 0x{gpa_of(ram, node_off + off):x} 0x5a")
            n += 1
    return n


def smaps(pid, field):
    """A field of /proc/PID/smaps_rollup, in MiB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) // 1024
    return 0


def pctl(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(ns):
    us = [x / 1000 for x in ns]
    return {"n": len(us), "mean": statistics.fmean(us), "p50": pctl(us, 50),
            "p95": pctl(us, 95), "min": min(us), "max": max(us)}


def no_thp():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_THP_DISABLE)")


def run_qemu(qemu, ram_gib, vcpus, stride_mib, mem_placement, scans, warmup,
             touch_mib, resident):
    """One QEMU process.  resident=False: untouched then 1 GiB touched;
    resident=True (THP off): every sampled page touched.  Returns
    {state: [per-scan ns]} and notes."""
    ram = ram_gib * GiB
    tmp = tempfile.mkdtemp(prefix="xpv-scancost.")
    qpath, mpath = f"{tmp}/qtest.sock", f"{tmp}/qmp.sock"
    lq = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lq.bind(qpath)
    lq.listen(1)
    lm = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lm.bind(mpath)
    lm.listen(1)
    half = ram_gib * 1024 // 2
    # qtest accelerator: idle vCPU threads, clock moved by clock_step only.
    args = [qemu, "-M", "q35", "-accel", "qtest",
            "-qtest", f"unix:{qpath}", "-qtest-log", "none",
            "-chardev", f"socket,path={mpath},id=qmp0",
            "-mon", "chardev=qmp0,mode=control",
            "-display", "none", "-nodefaults",
            # Run from its build tree QEMU looks for firmware in qemu-bundle/.
            "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
            "-smp", str(vcpus), "-m", f"{ram_gib}G"]
    for n in range(2):
        args += ["-object", f"memory-backend-ram,id=m{n},size={half}M,reserve=off"]
    if vcpus >= 2:
        c = vcpus // 2
        args += ["-numa", f"node,nodeid=0,memdev=m0,cpus=0-{c - 1}",
                 "-numa", f"node,nodeid=1,memdev=m1,cpus={c}-{vcpus - 1}"]
    else:
        args += ["-numa", "node,nodeid=0,memdev=m0,cpus=0",
                 "-numa", "node,nodeid=1,memdev=m1"]
    args += ["-device", "virtio-numa-pci,id=vn0,"
             f"scan-period-ms={PERIOD_MS},mem-sample-stride={stride_mib}M,"
             f"mem-placement={'on' if mem_placement else 'off'}"]
    err = open(f"{tmp}/stderr", "w+")
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err,
                         preexec_fn=no_thp if resident else None)
    res, notes = {}, {}
    try:
        lq.settimeout(60)
        lm.settimeout(60)
        try:
            cq, _ = lq.accept()
            cm, _ = lm.accept()
        except socket.timeout:
            err.seek(0)
            raise RuntimeError("QEMU did not connect: " + err.read().strip())
        qt, qmp = Qtest(cq), Qmp(cm)
        path = qmp.cmd("__org.xpv_query-virtio-numa")[0]["qom-path"]

        def stats():
            return (qmp.cmd("qom-get", path=path, property="x-scans"),
                    qmp.cmd("qom-get", path=path, property="x-scan-ns"),
                    qmp.cmd("qom-get", path=path, property="x-main-loop-ns"))

        def measure(n):
            """[(tracker ns, main loop ns)] for n scans."""
            out = []
            s0, t0, m0 = stats()
            for _ in range(n):
                qt.cmd(f"clock_step {PERIOD_MS * 1000000}")
                deadline = time.monotonic() + 30
                while True:  # the tracker thread scans asynchronously
                    s1, t1, m1 = stats()
                    if s1 != s0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.0005)
                if s1 - s0 != 1:
                    raise RuntimeError(f"expected one scan per step, got {s1 - s0}")
                out.append((t1 - t0, m1 - m0))
                s0, t0, m0 = s1, t1, m1
            return out

        def resident_frac():
            g = qmp.cmd("__org.xpv_query-virtio-numa")[0]["guest-nodes"]
            size = sum(x["size"] for x in g)
            return 1 - sum(x["unplaced"] for x in g) / size

        if not resident:
            measure(warmup)
            res["untouched"] = measure(scans)
            notes["rss_mib_untouched"] = smaps(p.pid, "Rss:")
            if touch_mib and mem_placement:
                touch_1g(qt, ram, touch_mib * MiB)
                measure(warmup)
                res["1g"] = measure(scans)
                notes["rss_mib_1g"] = smaps(p.pid, "Rss:")
                notes["thp_mib_1g"] = smaps(p.pid, "AnonHugePages:")
                notes["resident_frac_1g"] = resident_frac()
        else:
            notes["pages_touched"] = touch_samples(qt, ram, stride_mib * MiB)
            measure(warmup)
            res["resident"] = measure(scans)
            notes["rss_mib_resident"] = smaps(p.pid, "Rss:")
            notes["thp_mib_resident"] = smaps(p.pid, "AnonHugePages:")
            notes["resident_frac_resident"] = resident_frac()
        notes["main_loop_max_us"] = qmp.cmd(
            "qom-get", path=path, property="x-main-loop-max-ns") / 1000
        try:
            qmp.cmd("quit")
        except (RuntimeError, OSError):
            pass
        p.wait(timeout=30)
    except Exception as e:
        err.seek(0)
        raise RuntimeError(f"{e!r}; QEMU stderr: {err.read().strip()}") from e
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for s in (lq, lm):
            s.close()
        err.close()
        for f in os.listdir(tmp):
            os.unlink(f"{tmp}/{f}")
        os.rmdir(tmp)
    return res, notes


def fmt(s):
    return f"{s['mean']:.0f} / {s['p50']:.0f} / {s['p95']:.0f}"


def fmt1(s):
    return f"{s['mean']:.1f} / {s['p50']:.1f} / {s['p95']:.1f} / {s['max']:.1f}"


def pct(us):
    return f"{us / 1e6 * 100:.3f}"


STATES = (("untouched", "untouched"), ("1g", "1 GiB touched"),
          ("resident", "all samples resident"))


def markdown(results):
    out = ["Per scan: tracker thread µs (mean / p50 / p95; % = mean per 1 s "
           "period, in % of one core) and main-loop µs held (mean / p50 / p95 "
           "/ max) from x-scan-ns and x-main-loop-ns deltas.",
           "", "| guest RAM | vCPUs | mem-placement | memory state | tracker µs "
           "| % core | main loop µs |",
           "|---:|---:|:---|:---|---:|---:|---:|"]
    for r in results:
        for st, name in STATES:
            t = r["stats"].get(st)
            m = r["stats"].get(st + "-main")
            if not t:
                continue
            out.append(f"| {r['ram_gib']} GiB | {r['vcpus']} | "
                       f"{'on' if r['mem_placement'] else 'off'} | {name} | "
                       f"{fmt(t)} | {pct(t['mean'])} | {fmt1(m)} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qemu")
    ap.add_argument("outdir")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--scans", type=int, default=50, help="per state and rep")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--touch-mib", type=int, default=1024)
    ap.add_argument("--rams", default="1,64")
    # 255, not 256: QEMU 7.2 refuses APIC IDs > 254 without KVM's in-kernel
    # x2APIC ("current -smp configuration requires kernel irqchip and X2APIC
    # API support"), so qtest/TCG stops at 255 vCPUs.
    ap.add_argument("--vcpus", default="1,64,255")
    ap.add_argument("--strides", default="16")
    ap.add_argument("--no-resident", action="store_true",
                    help="skip the all-samples-resident runs")
    a = ap.parse_args()
    rams = [int(x) for x in a.rams.split(",")]
    vcpus = [int(x) for x in a.vcpus.split(",")]
    strides = [int(x) for x in a.strides.split(",")]
    os.makedirs(a.outdir, exist_ok=True)
    configs = [(r, v, s, True) for r in rams for v in vcpus for s in strides]
    configs += [(max(rams), v, strides[0], False) for v in vcpus]
    results = []
    for ram, v, s, mp in configs:
        half = ram * GiB // 2
        results.append({"ram_gib": ram, "vcpus": v, "stride_mib": s,
                        "mem_placement": mp,
                        "samples_per_scan": 2 * -(-half // (s * MiB)) if mp else 0,
                        "ns": {}, "notes": {}})
    for rep in range(a.reps):
        for r in results:
            t = time.monotonic()
            runs = [False] + ([True] if r["mem_placement"] and not a.no_resident
                              else [])
            for resident in runs:
                ns, notes = run_qemu(a.qemu, r["ram_gib"], r["vcpus"],
                                     r["stride_mib"], r["mem_placement"],
                                     a.scans, a.warmup, a.touch_mib, resident)
                for k, v in ns.items():
                    r["ns"].setdefault(k, []).extend(t for t, _ in v)
                    r["ns"].setdefault(k + "-main", []).extend(m for _, m in v)
                r["notes"].update(notes)
            line = (f"rep {rep + 1}/{a.reps} ram={r['ram_gib']}G vcpus={r['vcpus']}"
                    f" stride={r['stride_mib']}M"
                    f" mem-placement={'on' if r['mem_placement'] else 'off'}")
            for k, v in r["ns"].items():
                line += f" {k}={fmt(summary(v[-a.scans:]))}"
            print(line + f" ({time.monotonic() - t:.1f}s)", flush=True)
    for r in results:
        r["stats"] = {k: summary(v) for k, v in r["ns"].items()}
    with open(f"{a.outdir}/results.json", "w") as f:
        json.dump([{k: v for k, v in r.items() if k != "ns"} for r in results],
                  f, indent=1)
    with open(f"{a.outdir}/results.md", "w") as f:
        f.write(markdown(results))


if __name__ == "__main__":
    sys.exit(main())
