#!/bin/sh
# Guest side of bench/rxpool/locality.sh (TCG, 2 guest nodes, one mergeable
# virtio-net-pci fed by the host).  /xpv/host/mode says "stock" (virtio_net
# from the kernel tree, loaded by /init) or "pool" (virtio_net_xpvpool with
# pool_node=1).  Every page allocation made while RX buffers are refilled
# (stack through try_fill_recv) is traced with its pfn, during a held burst;
# the pages' guest nodes go to /xpv/host/result.
H=/xpv/host
T=/sys/kernel/debug/tracing
i=0
while [ ! -e $H/mode ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
mode=$(cat $H/mode)
echo 32768 >$T/buffer_size_kb
echo stacktrace >$T/events/kmem/mm_page_alloc/trigger
echo 1 >$T/events/kmem/mm_page_alloc/enable
: >$T/trace
echo 1 >$T/tracing_on
if [ "$mode" = pool ]; then
	insmod /xpv/mods/virtio_net_xpvpool.ko pool_node=1 pool_init_kb=64 pool_min_kb=32 \
		pool_max_kb=65536 eval_ms=50 || exit 1
fi
dev=$(for n in /sys/class/net/*; do [ "$(cat $n/address)" = 52:54:00:77:00:01 ] && basename $n; done)
# the queue's interrupts (and so NAPI and the refills) on vCPU 0, guest node 0
for irq in $(grep virtio /proc/interrupts | grep -E 'input|config|virtio[0-9]+-' | cut -d: -f1); do
	echo 0 >/proc/irq/$irq/smp_affinity_list 2>/dev/null
done
ip addr add 10.77.1.2/24 dev "$dev" && ip link set "$dev" up
/xpv/bin/rxpool-check hold 5000 3000 /tmp/holding /tmp/drain /tmp/drained >/tmp/hold.out 2>&1 &
holder=$!
i=0
while [ ! -e /tmp/holding ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
touch $H/ready
i=0
while [ ! -e $H/burst-sent ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i + 1)); done
touch /tmp/drain
wait $holder
echo 0 >$T/tracing_on
cat $T/trace >/tmp/trace
{
	echo "mode=$mode $(cat /tmp/hold.out)"
	echo "rx_refill_allocs $(/xpv/bin/rxpool-check allocnodes /tmp/trace try_fill_recv)"
	echo "rx_irqs $(grep -E 'virtio[0-9]+-input' /proc/interrupts | tr -s ' ' | tr '\n' ';')"
	if [ "$mode" = pool ]; then
		v=$(basename "$(readlink /sys/class/net/$dev/device)")
		echo "pool_pages $(/xpv/bin/rxpool-check pages $v 1 /tmp/pfns)"
		for c in size hits misses grows shrinks; do
			printf '%s=%s ' $c "$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/$c)"
		done
		echo
	fi
} >$H/.result && mv $H/.result $H/result
