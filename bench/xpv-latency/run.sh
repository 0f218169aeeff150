#!/usr/bin/env bash
# bench/xpv-latency: host change -> guest wakeup latency of the virtio-numa
# path, under TCG (NOT KVM).  See README.md.
# Usage: bench/xpv-latency/run.sh [N-MOVES=30] [SCAN-PERIOD-MS=50] [DEBOUNCES="1 2"]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/vm/lib.sh"
. "$top/tests/e2e/common.sh"
nmoves=${1:-30}
period=${2:-50}
debounces=${3:-1 2}
here=$top/bench/xpv-latency
mkdir -p "$here/out"
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || { echo "needs 2 host CPUs" >&2; exit 77; }
qmsg=$(e2e_require_qemu) || { echo "$qmsg"; exit 77; }
echo "${qmsg#\# }"
e2e_build || exit 1
cpu_a=0 cpu_b=$((ncpu / 2))
topo=$(e2e_topology "$out/latency-sysfs" 0,1 "0:0-$((cpu_b - 1))" "1:$cpu_b-$((ncpu - 1))") || exit 1
cat >"$out/latency-guest.sh" <<G
#!/bin/sh
insmod /xpv/mods/virtio_numa.ko mirror=${XPV_LAT_MIRROR:-1} || exit 1
echo GUEST-UP
xpv-e2e latency $nmoves 60000
G
res=$here/out/latency-$(date +%Y%m%d-%H%M%S).txt
{
	echo "# bench/xpv-latency $(date -u +%FT%TZ), $(uname -n), $ncpu host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# QEMU $(vm_qemu), TCG (not KVM), scan-period-ms=$period, $nmoves moves per debounce setting"
	echo "# latency = host sched_setaffinity of vCPU 1's thread -> guest's 'WOKE' console line seen by the host"
} | tee "$res"
rc=0
for d in $debounces; do
	vm_start --script "$out/latency-guest.sh" \
		--file "$top/guest-driver/build/virtio_numa.ko:/xpv/mods/virtio_numa.ko" \
		--file "$out/xpv-e2e:/usr/bin/xpv-e2e" --no-share --append printk.devkmsg=on \
		--node 256M:0 --node 256M:1 -- -smp 2,sockets=2,cores=1,threads=1 \
		-device "virtio-numa-pci,id=vn0,$topo,scan-period-ms=$period,debounce-ms=$(((d - 1) * period))" || exit 1
	tid0=$(vcpu_tid 0) tid1=$(vcpu_tid 1)
	taskset -p -c "$cpu_a" "$tid0" >/dev/null && taskset -p -c "$cpu_b" "$tid1" >/dev/null || exit 1
	vm_wait_for '^GUEST-UP' 180 >/dev/null || exit 1
	if r=$(python3 "$here/drive.py" "$VM_LOG" "$VM_QMP_SOCK" "$tid1" "$cpu_a" "$cpu_b" "$nmoves"); then
		python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("debounce=%s: n=%d min=%s median=%s p90=%s max=%s ms (other maps woke the guest %d times)" % (
      sys.argv[2], r["samples"], r["min_ms"], r["median_ms"], r["p90_ms"], r["max_ms"], r["other_maps"]))
print("# debounce=%s all (ms): %s" % (sys.argv[2], " ".join(map(str, r["all_ms"]))))' "$r" "$d" | tee -a "$res"
	else
		echo "debounce=$d: FAILED $r" | tee -a "$res"
		rc=1
	fi
	vm_stop
done
echo "results: $res"
exit $rc
