#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/62-e2e-migration (no 9p
# share: a mounted 9p export blocks migration).  Loads the driver, then prints
# one console line per map version it sees (libxpv xpv_wait), taken from sysfs
# only if the version did not change while reading:
#   xpv-e2e: SNAP version=V mirrored=M rejects=R hnodes=ID,ID.. vcpus=C:H:HC:G;... gnodes=G:HOME:SIZE:UNPL:B0:B1;...
# Lines go through printk (xpv-e2e kmsg; the VM boots with printk.devkmsg=on),
# not the tty: see the comment at out() in tests/e2e/xpv-e2e.c.
# The host kills the VM when done; the loop ends by itself after 900 s.
S=/sys/class/misc/xpv_numa
insmod /xpv/mods/virtio_numa.ko mirror=1 || { xpv-e2e kmsg GUEST-ERROR insmod failed; exit 1; }
[ -c /dev/xpv_numa ] || { xpv-e2e kmsg GUEST-ERROR no /dev/xpv_numa; exit 1; }
xpv-e2e kmsg GUEST-UP
v=0
end=$(($(date +%s) + 900))
while [ "$(date +%s)" -lt "$end" ]; do
	nv=$(xpv-e2e wait-change "$v" 2000) || { xpv-e2e kmsg GUEST-ERROR xpv_wait; exit 1; }
	[ "$nv" = "$v" ] && continue
	vc=$(tr ' ' ':' <$S/vcpus | tr '\n' ';')
	gn=$(tr ' ' ':' <$S/gnodes | tr '\n' ';')
	m=$(cat $S/mirrored)
	hn=$(tr ' ' ',' <$S/host_nodes)
	[ "$(cat $S/version)" = "$nv" ] || continue # changed while reading: take the next
	xpv-e2e kmsg "SNAP version=$nv mirrored=$m rejects=$(cat $S/rejects) hnodes=$hn vcpus=$vc gnodes=$gn"
	v=$nv
done
