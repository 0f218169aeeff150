#!/usr/bin/env bash
# make demo: a guest with two NUMA nodes runs on the patched QEMU with
# virtio-numa-pci, on a host whose topology is overridden to two nodes (this
# machine has one: host node 0 = first half of the CPUs, node 1 = the rest).
# The demo moves a vCPU thread between the host nodes and shows the map
# change in QMP and, inside the guest, in xpv-top --watch and in the
# kernel's getcpu() node for that vCPU.
#
# Everything runs under TCG; the timings printed are TCG timings.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/vm/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
qdir=$(cat "$top/build/qemu-path" 2>/dev/null) || { echo "demo: run make all first" >&2; exit 1; }
export XPV_QEMU=$qdir/qemu-system-x86_64
ko=$top/guest-driver/build/virtio_numa.ko
top_bin=$top/srl/build/xpv-top
work=$(mktemp -d)
trap 'vm_stop_all; rm -rf "$work"' EXIT

ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { echo "demo: needs 2 host CPUs" >&2; exit 1; }
half=$((ncpu / 2))
# demo: this one-node host pretends to have two nodes (x-sysfs-root: a
# directory shaped like /sys/devices/system/node)
mkdir -p "$work/nodes/node0" "$work/nodes/node1"
echo "0-$((half - 1))" >"$work/nodes/node0/cpulist"
echo "10 21" >"$work/nodes/node0/distance"
echo "$half-$((ncpu - 1))" >"$work/nodes/node1/cpulist"
echo "21 10" >"$work/nodes/node1/distance"

# The guest: show the map, then watch it change.
cat >"$work/guest.sh" <<'EOF'
#!/bin/sh
# (the initramfs /init already loaded virtio_numa.ko when given)
echo "guest: kernel nodes $(cat /sys/devices/system/node/online), cpu1 on node $(ls -d /sys/devices/system/cpu/cpu1/node* 2>/dev/null | sed 's/.*node//')"
if command -v xpv-top >/dev/null; then
	xpv-top --once
	# print every new map until the host says the demo is over
	xpv-top --watch --timeout 300000 >/tmp/watch.log 2>&1 &
	echo GUEST-READY
	i=0; while [ ! -e /xpv/host/done ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
	kill $! 2>/dev/null
	echo "guest: the last map xpv-top --watch printed (host said version $(cat /xpv/host/done)):"
	awk '/^map version/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' /tmp/watch.log
else
	echo GUEST-READY
	i=0; while [ ! -e /xpv/host/done ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
fi
EOF

mk=()
[ -f "$ko" ] && mk+=(--module "$ko")
[ -x "$top_bin" ] && mk+=(--bin "$top_bin:/usr/bin/xpv-top")
[ ${#mk[@]} -eq 4 ] || echo "demo: guest driver or xpv-top not built: showing the host side only"

say "Booting Debian's 6.1 kernel (TCG) with 2 guest nodes and virtio-numa-pci"
t0=$(date +%s)
vm_start --script "$work/guest.sh" "${mk[@]}" --smp 2 \
	--node 512M:0 --node 512M:1 \
	-- -device "virtio-numa-pci,id=vn0,scan-period-ms=200,debounce-ms=200,x-sysfs-root=$work/nodes,x-memdev-node=xpv-m0:0+xpv-m1:1" ||
	exit 1
vm_wait_for '^GUEST-READY' 180 >/dev/null || { tail -30 "$VM_LOG"; exit 1; }
echo "(booted in $(($(date +%s) - t0)) s under TCG)"
sed -n '/guest:/,/GUEST-READY/p' "$VM_LOG" | grep -v GUEST-READY | tr -d '\r'

tid=$(vm_qmp query-cpus-fast | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line).get("return")
    if isinstance(r, list):
        print([c["thread-id"] for c in r if c["cpu-index"] == 1][0])')
show_map() {
	vm_qmp '{"execute":"__org.xpv_query-virtio-numa","arguments":{"id":"vn0"}}' | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line).get("return")
    if not isinstance(r, list):
        continue
    m = r[0]
    print("QMP map version %d" % m["version"])
    for v in m["vcpus"]:
        print("  vCPU %d: host node %s (host CPU %s)" % (v["cpu-index"], v.get("host-node", "?"), v.get("host-cpu", "?")))
    for g in m["guest-nodes"]:
        print("  guest node %d: home host node %s (%s), MiB on host nodes %s" % (g["id"], g.get("home", "?"), g["home-source"], [b >> 20 for b in g["bytes-on"]]))'
}

say "Pin vCPU 1 (thread $tid) to host node 0 (CPUs 0-$((half - 1)))"
taskset -pc "0-$((half - 1))" "$tid" >/dev/null
sleep 1 # demo pacing for the audience, not synchronisation
show_map
say "Move vCPU 1 to host node 1 (CPUs $half-$((ncpu - 1)))"
t1=$(date +%s%N)
taskset -pc "$half-$((ncpu - 1))" "$tid" >/dev/null
deadline=$(($(date +%s) + 30))
until show_map | grep -q "vCPU 1: host node 1"; do
	[ "$(date +%s)" -lt "$deadline" ] || { echo "demo: the map did not change" >&2; exit 1; }
	sleep 0.1
done
echo "(QMP shows the move after $((($(date +%s%N) - t1) / 1000000)) ms; scan period 200 ms, debounce 200 ms)"
show_map
# Tell the guest which version the move produced and let it finish.
version=$(show_map | sed -n 's/^QMP map version //p')
echo "$version" >"$VM_SHARE/done.tmp" && mv "$VM_SHARE/done.tmp" "$VM_SHARE/done"
if [ ${#mk[@]} -eq 4 ]; then
	say "Inside the guest: xpv-top --watch saw the change (guest kernel node = 'node')"
	vm_wait_exit 60 >/dev/null
	sed -n '/the last map xpv-top --watch printed/,$p' "$VM_LOG" | grep -v 'XPV-GUEST-EXIT\|reboot:' | tr -d '\r'
fi
vm_wait_exit 60 >/dev/null
say "Done"
