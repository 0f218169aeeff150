#!/usr/bin/env bash
# ns per numa_node_of_cpu() / numa_node_to_cpus() call: Debian's libnuma vs
# xpv's (srl/numactl), in the same run, on the same fake 2-node topology: a
# sysfs tree (4 CPUs, nodes 0-1 and 2-3) and a /dev/xpv_numa page with the
# same map, bind-mounted in a private mount namespace (needs root).
#   stock             Debian 12's libnuma 2.0.16
#   xpv, no map       the patched library without /dev/xpv_numa (sysfs,
#                     per-node generations)
#   xpv + live map    the patched library answering from libxpv
# Needs srl/numactl/build.sh and make -C srl.
# usage: bench/srl/libnuma.sh [ITERS] [RUNS] [ROUNDS]   (default 200000 10 5)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
iters=${1:-200000}
runs=${2:-10}
rounds=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/srl/numactl/tests/lib.sh"
make -s -C "$top/srl" build/libxpv.so build/tests/xpv-mkpage
"$top/srl/numactl/build.sh" >/dev/null
lib=$(cat "$top/build/numactl-path")
cc -O2 -Wall -Wextra -Werror -o "$tmp/bench" "$(dirname "$0")/numa-of-cpu.c" -lnuma

numa_tree_set "$tmp/tree" 0-1 2-3
mkdir "$tmp/dev" "$tmp/nodev"
xpv_map_write "$top/srl/build/tests/xpv-mkpage" "$tmp/dev/xpv_numa" 1 0 0 1 1 >/dev/null

# run LIBPATH DEVDIR
run() {
	# shellcheck disable=SC2016
	LD_LIBRARY_PATH=$1 unshare -m --propagation private sh -c '
		mount --bind "$1" /sys/devices/system/node && mount --bind "$2" /dev &&
		exec "$3" "$4" "$5" 4' sh "$tmp/tree" "$2" "$tmp/bench" "$iters" "$runs"
}
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "# ns per call, best of $rounds rounds x $runs runs of $iters calls (libraries alternate"
echo "# round by round, so load changes hit all three); fake topology: 2 nodes, 4 CPUs"
for ((r = 0; r < rounds; r++)); do
	echo "stock $(run "" "$tmp/dev")"
	echo "nomap $(run "$lib" "$tmp/nodev")"
	echo "live $(run "$lib:$top/srl/build" "$tmp/dev")"
done >"$tmp/results"
awk 'BEGIN { name["stock"] = "stock"; name["nomap"] = "xpv, no map"; name["live"] = "xpv + live map" }
	{ if (!($1 in of) || $2 < of[$1]) of[$1] = $2; if (!($1 in to) || $3 < to[$1]) to[$1] = $3 }
	END { printf "%-18s %12s %12s\n", "library", "node_of_cpu", "node_to_cpus"
		n = split("stock nomap live", k, " ")
		for (i = 1; i <= n; i++) printf "%-18s %12.1f %12.1f\n", name[k[i]], of[k[i]], to[k[i]] }' "$tmp/results"
