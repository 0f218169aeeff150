#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/61-e2e-vcpu-move.  Loads
# the driver (mirror=1), then for each step K the host hands in
# /xpv/host/cmd-K = "CPU HNODE MODE" (MODE "baseline": the map may already
# show it; "move": block in poll() first, the host moves the vCPU thread once
# /xpv/host/ready-K exists) and gets /xpv/host/result-K: the wakeup, getcpu(2),
# a first-touch page's node (move_pages), libxpv and sysfs.  Until
# /xpv/host/done or a deadline; every wait is bounded.
H=/xpv/host
S=/sys/class/misc/xpv_numa
insmod /xpv/mods/virtio_numa.ko mirror=1 || { echo "insmod failed" >$H/error; exit 1; }
[ -c /dev/xpv_numa ] || { echo "driver did not bind: no /dev/xpv_numa" >$H/error; exit 1; }
echo "GUEST-UP version=$(cat $S/version)"
echo up >$H/.up && mv $H/.up $H/up
k=0
end=$(($(date +%s) + 400))
while [ "$(date +%s)" -lt "$end" ] && [ ! -e $H/done ]; do
	if [ ! -e $H/cmd-$k ]; then
		sleep 0.1 # polling interval of a deadline loop
		continue
	fi
	read -r cpu hnode mode <$H/cmd-$k
	ready=-
	[ "$mode" = move ] && ready=$H/ready-$k
	{
		w=$(xpv-e2e wait-hnode "$cpu" "$hnode" 90000 "$ready")
		echo "wait: $w rc=$?"
		echo "getcpu: $(xpv-e2e getcpu "$cpu")"
		echo "touch: $(xpv-e2e touch "$cpu" 64)"
		echo "libxpv: $(xpv-e2e libxpv "$cpu")"
		echo "sysfs: version=$(cat $S/version) mirrored=$(cat $S/mirrored) rejects=$(cat $S/rejects)"
		sed 's/^/vcpus: /' $S/vcpus
		echo "cpulist: node0=$(cat /sys/devices/system/node/node0/cpulist) node1=$(cat /sys/devices/system/node/node1/cpulist)"
	} >/tmp/result 2>&1
	cp /tmp/result $H/.result && mv $H/.result $H/result-$k
	k=$((k + 1))
done
dmesg | grep virtio_numa >$H/dmesg.txt
[ -e $H/done ]
