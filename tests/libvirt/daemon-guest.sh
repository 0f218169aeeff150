#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/50-libvirt-daemon (a domain
# started by the patched virtqemud with <numainfo model='virtio'/>): loads the
# driver, says whether it bound, then prints the host node the driver's map
# gives vCPU 1 whenever it changes, on the console (the domain's serial file),
# until a deadline.
S=/sys/class/misc/xpv_numa
insmod /xpv/mods/virtio_numa.ko || { echo "XPV-LV insmod failed"; exit 1; }
[ -c /dev/xpv_numa ] || { echo "XPV-LV driver did not bind: no /dev/xpv_numa"; exit 1; }
echo "XPV-LV bound version=$(cat $S/version)"
last=
end=$(($(date +%s) + 1200))
while [ "$(date +%s)" -lt "$end" ]; do
	# vcpus rows: "cpu host_node_id host_cpu guest_node"
	cur=$(awk '$1 == 1 { print $2 }' $S/vcpus)
	if [ "$cur" != "$last" ]; then
		echo "XPV-LV vcpu1-hnode=$cur version=$(cat $S/version)"
		last=$cur
	fi
	sleep 0.2 # polling interval of a deadline loop
done
