#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/60-e2e-driver (real
# virtio-numa-pci device).  Loads the driver, then until the host drops
# /xpv/host/done: snapshots the sysfs map of every version it sees to
# /xpv/host/snap-VERSION (only if version did not change while copying),
# checks the mmap page against it, and keeps /xpv/host/state = "version
# rejects updates" current.  Files are renamed into place, never half written.
H=/xpv/host
S=/sys/class/misc/xpv_numa

insmod /xpv/mods/virtio_numa.ko || { echo "insmod failed" >$H/error; exit 1; }
[ -c /dev/xpv_numa ] || { echo "driver did not bind: no /dev/xpv_numa" >$H/error; exit 1; }

sysfs_text() {
	echo "version $(cat $S/version)"
	echo "updates $(cat $S/updates)"
	echo "rejects $(cat $S/rejects)"
	echo "mirrored $(cat $S/mirrored)"
	echo "host_nodes $(cat $S/host_nodes)"
	sed 's/^/vcpus /' $S/vcpus
	sed 's/^/gnodes /' $S/gnodes
	sed 's/^/distances /' $S/distances
}

end=$(($(date +%s) + 500))
while [ ! -e $H/done ] && [ "$(date +%s)" -lt "$end" ]; do
	v1=$(cat $S/version)
	if [ ! -e $H/snap-"$v1" ]; then
		sysfs_text >/tmp/snap
		vnuma-check page >/tmp/page
		v2=$(cat $S/version)
		if [ "$v1" = "$v2" ]; then
			# updates/rejects may move on between the two reads: compare the map only
			diff /tmp/snap /tmp/page | grep -E '^[<>] (version|host_nodes|vcpus|gnodes|distances)' >/tmp/d &&
				cp /tmp/d $H/page-mismatch-"$v1"
			cp /tmp/snap $H/.snap && mv $H/.snap $H/snap-"$v1"
		fi
	fi
	echo "$(cat $S/version) $(cat $S/rejects) $(cat $S/updates)" >$H/.state && mv $H/.state $H/state
	vnuma-check wait-change "$v1" 500 >/dev/null
done
dmesg | grep virtio_numa >$H/dmesg.txt
[ -e $H/done ]
