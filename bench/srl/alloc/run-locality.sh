#!/usr/bin/env bash
# Locality over time while the host moves a vCPU (bench, not a test): a TCG
# guest as in tests/suites/66-e2e-allocators (2 guest nodes, virtio-numa,
# driver mirroring); one alloc-workload per runtime (glibc, jemalloc,
# jemalloc + libxpv-jemalloc, mimalloc) churns objects on vCPU 1 while the
# host moves vCPU 1's thread between host nodes MOVES times, every MOVE_S
# seconds. Output in OUT (default build/bench-srl-alloc): wl-RUNTIME (raw
# samples), locality.dat, locality.png (gnuplot), after-moves.txt (fraction
# of local pages just before each move, i.e. after N moves).
# usage: bench/srl/alloc/run-locality.sh [MOVES] [MOVE_S] [OUT]   (default 6 moves, 8 s)
# Under TCG: times are the emulator's, not KVM's; the fractions are what counts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
moves=${1:-6}
move_s=${2:-8}
res=${3:-$top/build/bench-srl-alloc}
. "$top/tests/vm/lib.sh"
. "$top/tests/e2e/common.sh"
L=/usr/lib/x86_64-linux-gnu
e2e_require_qemu >/dev/null
e2e_build || exit 1
mkdir -p "$res"
cc -O2 -Wall -Wextra -Werror -I"$top/include/uapi" -I"$top/srl/build/include" \
	-o "$out/alloc-workload" "$here/alloc-workload.c" "$top/srl/build/libxpv.a" || exit 1
ncpu=$(nproc)
cpu_a=0 cpu_b=$((ncpu / 2))
topo=$(e2e_topology "$out/wl-sysfs" 0,1 "0:0-$((cpu_b - 1))" "1:$cpu_b-$((ncpu - 1))") || exit 1
export VM=wl-$$
vm_start --script "$here/locality-guest.sh" \
	--file "$top/guest-driver/build/virtio_numa.ko:/xpv/mods/virtio_numa.ko" \
	--bin "$out/alloc-workload:/usr/bin/alloc-workload" \
	--bin "$top/srl/build/libxpv-jemalloc.so.1:/usr/lib/xpv/libxpv-jemalloc.so.1" \
	--bin "$L/libjemalloc.so.2" --bin "$L/libmimalloc.so.2" \
	--append numa_balancing=disable \
	--node 512M:0 --node 512M:1 -- -smp 2,sockets=2,cores=1,threads=1 \
	-device "virtio-numa-pci,id=vn0,$topo,scan-period-ms=100,debounce-ms=0" || exit 1
trap 'vm_stop >/dev/null 2>&1' EXIT
tid0=$(vcpu_tid 0) tid1=$(vcpu_tid 1)
taskset -p -c "$cpu_a" "$tid0" >/dev/null && taskset -p -c "$cpu_b" "$tid1" >/dev/null || exit 1
wait_file "$VM_SHARE/up" 240 || exit 1
secs=$(((moves + 1) * move_s))
put "$VM_SHARE/cmd" "1 $secs 250"
wait_file "$VM_SHARE/started" 120 || exit 1
for k in $(seq "$moves"); do
	sleep "$move_s" # the workload's schedule, not synchronisation
	if [ $((k % 2)) = 1 ]; then c=$cpu_a; else c=$cpu_b; fi
	taskset -p -c "$c" "$tid1" >/dev/null
	echo "# move $k: vCPU 1 -> host CPU $c"
done
for r in glibc jemalloc jemalloc-xpv mimalloc; do
	wait_file "$VM_SHARE/wl-$r" $((secs + 240)) || exit 1
	cp "$VM_SHARE/wl-$r" "$res/wl-$r"
done
vm_wait_exit 120
vm_stop
trap - EXIT

"$here/locality-report.sh" "$res" "$move_s" "$moves"
