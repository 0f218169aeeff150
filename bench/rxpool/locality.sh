#!/usr/bin/env bash
# Measured guest-node locality of RX pages, stock virtio_net against
# virtio_net_xpvpool (pool_node=1), under TCG: one boot each with 2 guest
# nodes (1 vCPU each) and one mergeable virtio-net-pci fed by the host with
# 3000 UDP frames that a guest socket holds, then drains; the queue's
# interrupt is pinned to vCPU 0 (guest node 0).  The guest traces
# every page allocated under try_fill_recv (kmem:mm_page_alloc with a
# stacktrace trigger) and, for the pool, reads the pool's pages; the table
# gives the share of those pages on guest node 1.  This is guest-physical
# placement: under TCG there is no host NUMA, no vhost worker, and QEMU's
# TCG threads back all guest RAM (docs/flipping.md).
# Usage: bench/rxpool/locality.sh     (~4 min; results in bench/rxpool/out/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rx=$top/guest-driver/rxpool
out=$here/out
mkdir -p "$out"
. "$top/tests/vm/lib.sh"
"$rx/build.sh" >"$out/build.log" 2>&1 || { tail "$out/build.log"; exit 1; }
cc -static -O2 -Wall -Wextra -Werror -I"$rx" -o "$out/rxpool-check" "$rx/tests/rxpool_check.c"
socks=$(mktemp -d /tmp/xpv-rxpool-locality.XXXXXX)
trap 'vm_stop_all >/dev/null 2>&1; rm -rf "$socks"' EXIT
for mode in ${MODES:-stock pool}; do
	extra=(--modname net_failover)
	[ "$mode" = stock ] && extra+=(--modname virtio_net)
	vm_start --script "$here/locality-guest.sh" \
		--file "$top/guest-driver/build/virtio_net_xpvpool.ko:/xpv/mods/virtio_net_xpvpool.ko" \
		--file "$out/rxpool-check:/xpv/bin/rxpool-check" "${extra[@]}" \
		--node 256M:0 --node 256M:1 -- -smp 2,sockets=2,cores=1,threads=1 \
		-netdev "dgram,id=n1,local.type=unix,local.path=$socks/q1.sock,remote.type=unix,remote.path=$socks/h1.sock" \
		-device virtio-net-pci,netdev=n1,mac=52:54:00:77:00:01
	echo "$mode" >"$VM_SHARE/mode"
	end=$(($(date +%s) + 600))
	while [ ! -e "$VM_SHARE/ready" ] && [ "$(date +%s)" -lt "$end" ] && _vm_alive; do sleep 0.2; done
	# frames.py's frame builder; only NIC 1 exists here
	if [ ! -e "$VM_SHARE/ready" ]; then
		echo "$mode: the guest never got ready" >&2
		_vm_tail 30
		vm_stop
		continue
	fi
	python3 -c "
import sys; sys.path.insert(0, '$rx/tests'); import frames, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.settimeout(300)
for seq in range(3000): s.sendto(frames.udp_frame(1, 1372, seq), '$socks/q1.sock')"
	touch "$VM_SHARE/burst-sent"
	vm_wait_exit 600 || true
	cp "$VM_SHARE/result" "$out/$mode.txt" 2>/dev/null || echo "no result" >"$out/$mode.txt"
	vm_stop
	rm -f "$socks"/*.sock
	sed "s/^/$mode: /" "$out/$mode.txt"
done
