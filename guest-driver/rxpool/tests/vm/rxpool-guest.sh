#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/64-e2e-rxpool: three
# virtio-net-pci devices (mergeable, small and big RX modes, MACs
# 52:54:00:77:00:0{1,2,3}) fed by the host through dgram sockets, a
# virtio-balloon with free page reporting, 2 guest nodes.  Talks to the host
# through files in /xpv/host; results go to /xpv/host/results as
# "ok|not ok DESCRIPTION" lines, the host turns them into TAP.
H=/xpv/host
R=$H/results
NODE=1
: >$R
res() { # res DESCRIPTION CMD...
	d=$1
	shift
	if "$@" >/tmp/out 2>&1; then echo "ok $d: $(tr '\n' ' ' </tmp/out)" >>$R; else
		echo "not ok $d: $(tr '\n' ' ' </tmp/out)" >>$R; fi
}
# wait_for FILE SECONDS: the host's go-ahead, polled with a deadline
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}
# wait_gt FILE VALUE SECONDS: until the counter in FILE exceeds VALUE
wait_gt() {
	i=0
	while [ "$(cat "$1")" -le "$2" ] && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(cat "$1")" -gt "$2" ]
}
counters() { # the pool counters of device $1
	for c in size used hits misses grows shrinks shrunk released drops off_node alloc_failures; do
		printf '%s=%s ' $c "$(cat /sys/bus/virtio/devices/$1/xpv_rxpool/$c)"
	done
	echo
}

mount -t debugfs none /sys/kernel/debug 2>/dev/null
res "the stock virtio_net is not loaded" sh -c '! grep -q "^virtio_net " /proc/modules && echo "CONFIG_VIRTIO_NET=m: not in the initramfs"'
res "virtio_balloon bound with free page reporting" sh -c '
	for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		f=$(cat $d/features); [ "$(echo $f | cut -c6)" = 1 ] && { echo "$(basename $d) features $f"; exit 0; }
	done; exit 1'
res "insmod virtio_net_xpvpool pool_node=$NODE" insmod /xpv/mods/virtio_net_xpvpool.ko \
	pool_node=$NODE pool_init_kb=64 pool_min_kb=32 pool_max_kb=65536 eval_ms=50

i=1
for mode in mergeable small big; do
	dev=
	for n in /sys/class/net/*; do
		[ "$(cat $n/address)" = "52:54:00:77:00:0$i" ] && dev=$(basename $n)
	done
	vdev=$(basename "$(readlink /sys/class/net/$dev/device)")
	eval "dev_$mode=$dev vdev_$mode=$vdev"
	ip addr add 10.77.$i.2/24 dev "$dev" && ip link set "$dev" up
	res "$mode: $dev ($vdev) bound to virtio_net_xpvpool, pool on node $NODE" sh -c "
		[ \"\$(basename \$(readlink /sys/class/net/$dev/device/driver))\" = virtio_net_xpvpool ] &&
		[ \"\$(cat /sys/bus/virtio/devices/$vdev/xpv_rxpool/nodes)\" = $NODE ] && echo ok"
	i=$((i + 1))
done
# the modes really are the ones asked for: feature bit 15 MRG_RXBUF, bit 3 MTU
# (QEMU clears the guest offloads for a backend without a vnet header, so big
# mode comes from host_mtu=9000 > ETH_DATA_LEN, virtnet_set_big_packets())
res "RX modes: mergeable has MRG_RXBUF; small has neither MRG_RXBUF nor MTU; big has MTU 9000" sh -c "
	f1=\$(cat /sys/bus/virtio/devices/$vdev_mergeable/features); f2=\$(cat /sys/bus/virtio/devices/$vdev_small/features)
	f3=\$(cat /sys/bus/virtio/devices/$vdev_big/features); echo \$f1 \$f2 \$f3 mtu \$(cat /sys/class/net/$dev_big/mtu)
	[ \$(echo \$f1 | cut -c16) = 1 ] && [ \$(echo \$f2 | cut -c16) = 0 ] && [ \$(echo \$f2 | cut -c4) = 0 ] &&
	[ \$(echo \$f3 | cut -c16) = 0 ] && [ \$(echo \$f3 | cut -c4) = 1 ] && [ \$(cat /sys/class/net/$dev_big/mtu) = 9000 ]"

/xpv/bin/rxpool-check hold 5000 "$(cat $H/burst-count 2>/dev/null || echo 4500)" /tmp/holding /tmp/drain /tmp/drained >/tmp/hold.out 2>&1 &
holder=$!
wait_for /tmp/holding 60
# a tracepoint watches every page freed to the buddy allocator during the burst
T=/sys/kernel/debug/tracing
echo 16384 >$T/buffer_size_kb
echo 1 >$T/events/kmem/mm_page_free/enable
echo 1 >$T/events/kmem/mm_page_free_batched/enable
: >$T/trace
echo 1 >$T/tracing_on
for mode in mergeable small big; do
	eval "v=\$vdev_$mode"
	counters $v >$H/pre-$mode
	/xpv/bin/rxpool-check pages $v $NODE /tmp/pfns-pre-$mode >/tmp/p 2>&1
	echo "$(cat /tmp/p)" >>$H/pre-$mode
done
touch $H/ready

# 1. burst held by the socket: the pools must grow, their pages stay on the node,
#    none of them free in the buddy allocator, none replaced outside a shrink
wait_for $H/burst-sent 600 || echo "not ok host never sent the burst" >>$R
for mode in mergeable small; do
	eval "v=\$vdev_$mode"
	g0=$(sed -n 's/.*grows=\([0-9]*\).*/\1/p' $H/pre-$mode | head -1)
	res "$mode: the pool grew under the held burst (Algorithm 1, used > 90 %)" sh -c "
		i=0; while [ \$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/grows) -le $g0 ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
		cat /sys/bus/virtio/devices/$v/xpv_rxpool/grows | sed 's/^/grows $g0 -> /'
		[ \$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/grows) -gt $g0 ]"
done
# positive control: 256 page-cache pages freed while the tracer runs
dd if=/dev/zero of=/tmp/control bs=4096 count=256 2>/dev/null && sync && rm /tmp/control
echo 0 >$T/tracing_on
cat $T/trace >/tmp/trace
for mode in mergeable small big; do
	eval "v=\$vdev_$mode"
	counters $v >$H/mid-$mode
	res "$mode: every pool page on node $NODE and none in the buddy allocator (burst held)" \
		/xpv/bin/rxpool-check pages $v $NODE /tmp/pfns-mid-$mode
	s0=$(sed -n 's/.*shrinks=\([0-9]*\).*/\1/p' $H/pre-$mode | head -1)
	s1=$(sed -n 's/.*shrinks=\([0-9]*\).*/\1/p' $H/mid-$mode | head -1)
	if [ "$s0" = "$s1" ]; then
		res "$mode: no shrink, so every page of the pool before the burst is still in it (recycled)" \
			/xpv/bin/rxpool-check subset /tmp/pfns-pre-$mode /tmp/pfns-mid-$mode
		res "$mode: no shrink, and no pool page freed to the buddy allocator (kmem:mm_page_free tracepoints)" \
			/xpv/bin/rxpool-check freed /tmp/trace /tmp/pfns-pre-$mode 256
	fi
	res "$mode: RX pages came from the pool (hits grew)" sh -c "
		h0=\$(sed -n 's/.*hits=\([0-9]*\).*/\1/p' $H/pre-$mode | head -1)
		h1=\$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/hits); echo hits \$h0 '->' \$h1; [ \$h1 -gt \$h0 ]"
done

# 2. drain: the socket lets go, the pools shrink (used < 20 %), and every datagram arrived
touch /tmp/drain
wait $holder
res "every datagram of the burst reached the socket (free page reporting on)" sh -c "cat /tmp/hold.out; grep -q '^hold: \([0-9]*\) of \1 ' /tmp/hold.out"
for mode in mergeable small; do
	eval "v=\$vdev_$mode"
	s1=$(sed -n 's/.*shrinks=\([0-9]*\).*/\1/p' $H/mid-$mode | head -1)
	# How far the burst grew the pool depends on how many evaluations fell
	# into it (timing), so after the drain a shrink is due only if less than
	# 20 % is in use: either the pool shrinks, or Algorithm 1 owes no shrink.
	res "$mode: after the drain the pool shrinks, or at least 20 % is in use so none is due (Algorithm 1)" sh -c "
		P=/sys/bus/virtio/devices/$v/xpv_rxpool; i=0
		while [ \$(cat \$P/shrinks) -le $s1 ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
		sh=\$(cat \$P/shrinks); u=\$(cat \$P/used); z=\$(cat \$P/size)
		echo shrinks $s1 '->' \$sh, used \$u of \$z
		[ \$sh -gt $s1 ] || [ \$((u * 100)) -ge \$((z * 20)) ]"
done
for mode in mergeable small big; do
	eval "v=\$vdev_$mode"
	counters $v >$H/post-$mode
	cat /sys/bus/virtio/devices/$v/xpv_rxpool/history >$H/history-$mode
	res "$mode: every size change follows Algorithm 1" /xpv/bin/rxpool-check history /sys/bus/virtio/devices/$v/xpv_rxpool
	res "$mode: pool pages left the pool only through shrinks (released == shrunk)" sh -c "
		rel=\$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/released); sh=\$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/shrunk)
		echo released \$rel shrunk \$sh; [ \$rel = \$sh ]"
	res "$mode: pool on node $NODE, none in the buddy allocator (after the drain)" \
		/xpv/bin/rxpool-check pages $v $NODE /tmp/pfns-post-$mode
	res "$mode: off_node counter is 0" sh -c "grep -q ' off_node=0 ' $H/post-$mode && cat $H/post-$mode"
done

# 3. malformed and oversized frames from the host: dropped and counted
for mode in mergeable small big; do
	eval "v=\$vdev_$mode d=\$dev_$mode"
	cat /sys/bus/virtio/devices/$v/xpv_rxpool/drops >/tmp/drops0-$mode
	cat /sys/class/net/$d/statistics/rx_length_errors >/tmp/lenerr0-$mode
done
touch $H/want-bad
wait_for $H/bad-sent 300 || echo "not ok host never sent the bad frames" >>$R
for mode in mergeable small big; do
	eval "v=\$vdev_$mode d=\$dev_$mode"
	want=1
	[ $mode = mergeable ] && want=2
	res "$mode: $want malformed/oversized frame(s) dropped and counted" sh -c "
		d0=\$(cat /tmp/drops0-$mode); l0=\$(cat /tmp/lenerr0-$mode); i=0
		while [ \$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/drops) -lt \$((d0 + $want)) ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
		d1=\$(cat /sys/bus/virtio/devices/$v/xpv_rxpool/drops); l1=\$(cat /sys/class/net/$d/statistics/rx_length_errors)
		echo drops \$d0 '->' \$d1 rx_length_errors \$l0 '->' \$l1
		[ \$((d1 - d0)) = $want ] && [ \$((l1 - l0)) = $want ]"
done

# 4. rmmod is clean
for mode in mergeable small big; do eval "ip link set \$dev_$mode down"; done
res "rmmod virtio_net_xpvpool" rmmod virtio_net_xpvpool
res "module gone, no pool directory left, no BUG/WARNING/Oops in dmesg" sh -c "
	! grep -q '^virtio_net_xpvpool ' /proc/modules && [ ! -e /sys/kernel/debug/xpv_rxpool ] &&
	! dmesg | grep -E 'BUG|WARNING|Oops|general protection|bad page' && echo clean"
dmesg | tail -40 >$H/dmesg.txt
touch $H/guest-done
