#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/53-libvirt-hotplug (a
# domain started by the patched virtqemud WITHOUT a <numainfo> device): says
# it is waiting, polls sysfs until a virtio-numa device (virtio device id 63)
# appears on the virtio bus (the host's `virsh attach-device --live`), loads
# the driver, says whether it bound, prints the host node the driver's map
# gives vCPU 1 whenever it changes, and when the device goes away again
# (`virsh detach-device --live`) says that the driver unbound, unloads it and
# prints a heartbeat so the host sees the guest keeps running.  Everything
# goes to the console (the domain's serial file); every wait has a deadline.
S=/sys/class/misc/xpv_numa
# numa_dev: the sysfs directory of the virtio-numa device, if there is one
numa_dev() {
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x003f ] && { echo "$d"; return 0; }
	done
	return 1
}
now() { cut -d. -f1 /proc/uptime; }

numa_dev >/dev/null && { echo "XPV-HP the device is already there at boot"; exit 1; }
echo "XPV-HP waiting for the device"
end=$(($(now) + 1500))
until d=$(numa_dev); do
	[ "$(now)" -lt "$end" ] || { echo "XPV-HP no device appeared"; exit 1; }
	sleep 0.2 # polling interval of a deadline loop
done
echo "XPV-HP device appeared: $(basename "$d") on $(basename "$(readlink -f "$d/..")")"
insmod /xpv/mods/virtio_numa.ko || { echo "XPV-HP insmod failed"; exit 1; }
end=$(($(now) + 60))
until [ -c /dev/xpv_numa ] && [ -r $S/version ]; do
	[ "$(now)" -lt "$end" ] || { echo "XPV-HP driver did not bind: no /dev/xpv_numa"; exit 1; }
	sleep 0.2 # polling interval of a deadline loop
done
echo "XPV-HP bound version=$(cat $S/version) driver=$(basename "$(readlink -f "$d/driver")")"

# Follow vCPU 1 until the device is unplugged.
last=
end=$(($(now) + 1500))
while numa_dev >/dev/null; do
	[ "$(now)" -lt "$end" ] || { echo "XPV-HP the device was never unplugged"; exit 1; }
	# vcpus rows: "cpu host_node_id host_cpu guest_node"
	cur=$(awk '$1 == 1 { print $2 }' $S/vcpus 2>/dev/null)
	if [ -n "$cur" ] && [ "$cur" != "$last" ]; then
		echo "XPV-HP vcpu1-hnode=$cur version=$(cat $S/version 2>/dev/null)"
		last=$cur
	fi
	sleep 0.2 # polling interval of a deadline loop
done
end=$(($(now) + 60))
while [ -e /dev/xpv_numa ] || [ -e $S ]; do
	[ "$(now)" -lt "$end" ] || { echo "XPV-HP the device left but /dev/xpv_numa stayed"; exit 1; }
	sleep 0.2 # polling interval of a deadline loop
done
echo "XPV-HP unbound: no virtio-numa device, no /dev/xpv_numa"
if rmmod virtio_numa; then
	echo "XPV-HP rmmod ok"
else
	echo "XPV-HP rmmod failed"
fi

# Heartbeat: the host checks that the guest keeps running after the unplug.
i=0
while [ "$i" -lt 1500 ]; do
	i=$((i + 1))
	echo "XPV-HP alive $i"
	sleep 1 # heartbeat period, not a synchronisation
done
