#!/usr/bin/python3
"""TEST ONLY: compare a guest sysfs snapshot (e2e-guest.sh) with a QMP reply.

Usage: compare_qmp.py QMP-REPLY-LINE SNAPSHOT-FILE
The reply is the output of __org.xpv_query-virtio-numa for one device.  The
snapshot's map lines must equal what the query says, written the way the
driver writes its sysfs files (docs/guest-abi.md §4); the guest-only field
(the kernel node, 4th of each vcpus line) must, when the snapshot says
"mirrored 1", be the guest node homed on the vCPU's host node.  Exit 0 if
all holds; else prints the differences and exits 1.
"""
import json
import sys


def expected(info):
    ids = [h["id"] for h in info["host-nodes"]]
    out = [f"version {info['version']}", "host_nodes " + " ".join(map(str, ids))]
    for v in info["vcpus"]:
        out.append("vcpus %d %d %d" % (v["cpu-index"], v.get("host-node", -1), v.get("host-cpu", -1)))
    for g in info["guest-nodes"]:
        out.append("gnodes %d %d %d %d %s" % (g["id"], g.get("home", -1), g["size"], g["unplaced"],
                                             " ".join(map(str, g["bytes-on"]))))
    for h in info["host-nodes"]:
        out.append("distances " + " ".join(map(str, h["distances"])))
    return out


def actual(path):
    out = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or w[0] in ("updates", "rejects", "mirrored"):
                continue
            if w[0] == "vcpus":
                w = w[:4]
            out.append(" ".join(w))
    return out


def mirror_errors(info, path):
    """With "mirrored 1", each vCPU with a known host node must be in the
    guest node whose home is that host node (docs/guest-abi.md §6.1; with
    1 vCPU per guest node here, the home always exists)."""
    with open(path) as f:
        lines = [line.split() for line in f]
    if ["mirrored", "1"] not in lines:
        return []
    home_of = {g["home"]: g["id"] for g in info["guest-nodes"] if "home" in g}
    errs = []
    for w in lines:
        if w and w[0] == "vcpus" and w[2] != "-1":
            want = home_of.get(int(w[2]))
            if want is not None and int(w[4]) != want:
                errs.append(f"vcpu {w[1]} on host node {w[2]} is in guest node {w[4]}, not {want}")
    return errs


def main():
    reply = json.loads(sys.argv[1])
    infos = reply["return"]
    if len(infos) != 1:
        print(f"expected one device, got {len(infos)}")
        return 1
    exp, act = expected(infos[0]), actual(sys.argv[2])
    errs = mirror_errors(infos[0], sys.argv[2])
    for e in errs:
        print(e)
    if exp == act and not errs:
        return 0
    for e, a in zip(exp + [""] * len(act), act + [""] * len(exp)):
        if e != a:
            print(f"qmp:   {e}\nguest: {a}")
    return 1


sys.exit(main())
