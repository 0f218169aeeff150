#!/usr/bin/env bash
# ns per malloc/free pair, stock vs adapted, for each runtime in one run
# (runs interleaved round-robin so load changes hit all alike). The add-on
# runs "active" against a fake 2-node map page (xpv-mkpage; the same code
# path as /dev/xpv_numa) and "inactive" (no map: forwards only).
# usage: bench/srl/alloc/run-fastpath.sh [ITERS] [RUNS]   (default 2000000 pairs, 15 runs)
# Needs `make -C srl` with libjemalloc-dev and libmimalloc-dev (make deps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
b=$top/srl/build
L=/usr/lib/x86_64-linux-gnu
iters=${1:-2000000}
runs=${2:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -e "$b/libxpv-jemalloc.so.1" ] || make -s -C "$top/srl"
cc -O2 -g -Wall -Wextra -Werror -o "$tmp/malloc-pair" "$here/malloc-pair.c"
{
	echo "version 1"
	echo "hnode 0 distances 10,21"
	echo "hnode 1 distances 21,10"
	echo "gnode 0 home 0 size 1G on 0:1G"
	echo "gnode 1 home 1 size 1G on 1:1G"
	for c in $(seq 0 63); do echo "vcpu $c node $((c % 2)) hnode $((c % 2)) hcpu $c"; done
} >"$tmp/spec"
"$b/tests/xpv-mkpage" "$tmp/spec" "$tmp/page"

# name:LD_PRELOAD:XPV_JEMALLOC_DEV
variants=(
	"glibc::"
	"jemalloc:$L/libjemalloc.so.2:"
	"jemalloc+xpv-active:$b/libxpv-jemalloc.so.1:$tmp/page"
	"jemalloc+xpv-inactive:$b/libxpv-jemalloc.so.1:/nonexistent"
	"mimalloc:$L/libmimalloc.so.2:"
)
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d" " -f1-3 /proc/loadavg)"
printf '%-22s %7s %9s %9s   (%s pairs per run, %s rounds of 1 run each, interleaved)\n' runtime size best-ns median-ns "$iters" "$runs"
for size in 64 4096; do
	for v in "${variants[@]}"; do : >"$tmp/res-${v%%:*}-$size"; done
	for _ in $(seq "$runs"); do
		for v in "${variants[@]}"; do
			IFS=: read -r name pre dev <<<"$v"
			LD_PRELOAD=$pre XPV_JEMALLOC_DEV=$dev "$tmp/malloc-pair" "$name" "$size" "$iters" 1 \
				>>"$tmp/res-$name-$size"
		done
	done
	for v in "${variants[@]}"; do
		name=${v%%:*}
		sort -k3 -n "$tmp/res-$name-$size" | awk -v n="$runs" '
			{ v[NR] = $3 } END { printf "%-22s %7s %9.2f %9.2f\n", $1, $2, v[1], v[int((n + 1) / 2)] }' \
			name="$name"
	done
done
