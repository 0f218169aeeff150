#!/bin/sh
# TEST ONLY, runs inside the guests of tests/suites/82-dkms: loads the
# modules DKMS built from the xpv-guest-dkms and xpv-rxpool-dkms packages
# for the guest's kernel (those in /xpv/mods) and checks that each binds
# its device (virtio-numa-pci: /dev/xpv_numa and a map version;
# virtio-net-pci: a network interface driven by virtio_net_xpvpool, as the
# initramfs carries no virtio_net).  virtio_numa is always expected;
# virtio_net_xpvpool only where DKMS built it (Debian 6.1).  Prints
# "GUEST-OK what" / "GUEST-FAIL what" lines on the console.
ok() { echo "GUEST-OK $*"; }
fail() { echo "GUEST-FAIL $*"; rc=1; }
rc=0
if insmod /xpv/mods/virtio_numa.ko; then ok "insmod virtio_numa.ko"; else fail "insmod virtio_numa.ko"; fi
if [ -c /dev/xpv_numa ] && [ -r /sys/class/misc/xpv_numa/version ]; then
	ok "virtio_numa binds virtio-numa-pci (/dev/xpv_numa, map version $(cat /sys/class/misc/xpv_numa/version))"
else
	fail "virtio_numa binds virtio-numa-pci"
fi
echo "# guest kernel $(uname -r)"
mods=virtio_numa
if [ -f /xpv/mods/virtio_net_xpvpool.ko ]; then
	mods="$mods virtio_net_xpvpool"
	# a small pool (the defaults size it for a real NIC, more than this guest has)
	if insmod /xpv/mods/virtio_net_xpvpool.ko pool_init_kb=64 pool_min_kb=32 pool_max_kb=4096; then ok "insmod virtio_net_xpvpool.ko"; else fail "insmod virtio_net_xpvpool.ko"; fi
	drv=
	for n in /sys/class/net/*; do
		[ -e "$n/device/driver" ] || continue
		drv=$(basename "$(readlink "$n/device/driver")")
	done
	if [ "$drv" = virtio_net_xpvpool ]; then
		ok "virtio_net_xpvpool drives the virtio-net-pci interface"
	else
		fail "virtio_net_xpvpool drives the virtio-net-pci interface (driver: '${drv:-none}')"
	fi
fi
for m in $mods; do
	echo "# $m: $(grep "^$m " /proc/modules)"
done
exit $rc
