#!/usr/bin/env bash
# ns per node-of-CPU lookup: libxpv (fake page) vs libnuma vs sysfs, plus
# system calls per lookup counted with strace -c (each method run alone,
# minus the calls of a run that does no lookup). Needs `make -C srl`.
# usage: bench/srl/run.sh [ITERS]      (default 200000 per run, best of 50 runs)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
b=$top/srl/build
iters=${1:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -e "$b/libxpv.a" ] || make -s -C "$top/srl"
cc -O2 -g -Wall -Wextra -Werror -I"$b/include" -o "$tmp/lookup" \
	"$(dirname "$0")/lookup.c" "$b/libxpv.a" -lnuma

# A 64-vCPU, 2-host-node map; the CPUs this machine has are looked up.
{
	echo "version 1"
	echo "hnode 0 distances 10,21"
	echo "hnode 1 distances 21,10"
	echo "gnode 0 home 0 size 1G on 0:1G"
	echo "gnode 1 home 1 size 1G on 1:1G"
	for c in $(seq 0 63); do echo "vcpu $c node $((c % 2)) hnode $((c % 2)) hcpu $c"; done
} >"$tmp/spec"
"$b/tests/xpv-mkpage" "$tmp/spec" "$tmp/page"

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d" " -f1-3 /proc/loadavg)"
"$tmp/lookup" --dev "$tmp/page" --iters "$iters"

if command -v strace >/dev/null; then
	n=20000
	strace -f -c -o "$tmp/sc" "$tmp/lookup" --dev "$tmp/page" --iters "$n" --only none >/dev/null
	base=$(awk '$NF == "total" {print $4}' "$tmp/sc")
	printf '\n%-18s %s\n' method "syscalls/lookup (strace -c, $n lookups)"
	for m in xpv_cpu_node xpv_current_node sched_getcpu getcpu_syscall numa_node_of_cpu sysfs_cpu_dir sysfs_cpulist; do
		strace -f -c -o "$tmp/sc" "$tmp/lookup" --dev "$tmp/page" --iters "$n" --only "$m" >/dev/null
		calls=$(awk '$NF == "total" {print $4}' "$tmp/sc")
		awk -v m="$m" -v c="$calls" -v b="$base" -v n="$n" 'BEGIN { printf "%-18s %.2f\n", m, (c - b) / n }'
	done
else
	echo "(strace not installed: no syscall counts; make deps)"
fi
