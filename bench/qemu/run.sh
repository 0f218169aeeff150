#!/usr/bin/env bash
# virtio-numa side by side in one run:
# - cost per scan: tracker-thread time (x-scan-ns) and main-loop time held
#   (x-main-loop-ns), guest RAM 1/64 GiB (2 guest nodes) x vCPUs 1/64/255
#   (QEMU 7.2 needs KVM's x2APIC for 256), untouched / 1 GiB touched / every
#   sampled page resident, plus mem-placement=off (scan-cost.py; -accel qtest,
#   scans driven by qtest clock_step);
# - vCPU move detection latency, event mode vs scan mode (detect-latency.py).
# Needs the patched QEMU (qemu/build.sh writes build/qemu-path).
# Results go to out/ (results.md, results.json, machine.txt); --quick: out/quick/.
#
#   bench/qemu/run.sh [--quick] [extra scan-cost.py options, e.g. --scans 100]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$here/out
[ -f "$top/build/qemu-path" ] || { echo "no build/qemu-path: run qemu/build.sh first" >&2; exit 1; }
qemu=$(cat "$top/build/qemu-path")/qemu-system-x86_64
"$qemu" --version >/dev/null
opts=()
if [ "${1:-}" = --quick ]; then
	shift
	opts=(--rams 1,64 --vcpus 1,64 --scans 20 --reps 1)
	out=$out/quick
fi
mkdir -p "$out"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "host: $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(uname -r)"
	echo "host NUMA nodes: $(ls -d /sys/devices/system/node/node* | wc -l)"
	echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
	echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "qemu: $qemu"
} >"$out/machine.txt"
start=$(date +%s)
python3 "$here/scan-cost.py" "$qemu" "$out" "${opts[@]}" "$@"
python3 "$here/detect-latency.py" "$qemu" "$out" --moves "$([ ${#opts[@]} -gt 0 ] && echo 10 || echo 30)" ||
	echo "detect-latency.py failed or skipped (rc $?)" >>"$out/machine.txt"
echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg); run took $(($(date +%s) - start)) s" >>"$out/machine.txt"
echo
cat "$out/machine.txt"
echo
cat "$out/results.md"
echo
cat "$out/latency.md" 2>/dev/null || true
