#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/65-e2e-libnuma.  Loads
# the driver (mirror=1) and starts three long-lived numa-answers probes (one
# process each, as libnuma caches per process): the stock libnuma asked
# as is ("stock"), the stock libnuma with numa_node_to_cpu_update() before
# each query ("update"), xpv's libnuma with libxpv ("xpv").  For each step K
# the host hands in /xpv/host/cmd-K = "CPU HNODE MODE" (as in
# vcpu-move-guest.sh: "move" blocks in poll() first and the host moves the
# vCPU thread once /xpv/host/ready-K exists) and gets /xpv/host/result-K:
# the map (libxpv) and the three probes' answers.  Until /xpv/host/done or
# a deadline; every wait is bounded.
H=/xpv/host
S=/sys/class/misc/xpv_numa
insmod /xpv/mods/virtio_numa.ko mirror=1 || { echo "insmod failed" >$H/error; exit 1; }
[ -c /dev/xpv_numa ] || { echo "driver did not bind: no /dev/xpv_numa" >$H/error; exit 1; }
for p in stock update xpv; do mkfifo /tmp/$p.in /tmp/$p.out; done
numa-answers </tmp/stock.in >/tmp/stock.out 2>/tmp/stock.err &
exec 3>/tmp/stock.in 4</tmp/stock.out
numa-answers </tmp/update.in >/tmp/update.out 2>/tmp/update.err &
exec 5>/tmp/update.in 6</tmp/update.out
LD_LIBRARY_PATH=/usr/lib/xpv/numa numa-answers </tmp/xpv.in >/tmp/xpv.out 2>/tmp/xpv.err &
exec 7>/tmp/xpv.in 8</tmp/xpv.out
# ask NAME WFD RFD COMMAND: one command, its answer lines prefixed "NAME: "
# (the read is bounded: a probe that does not answer ends the loop)
ask() {
	echo "$4" >&"$2"
	while read -r -t 60 line <&"$3"; do
		[ "$line" = end ] && return 0
		echo "$1: $line"
	done
	echo "$1: no answer"
}
echo "GUEST-UP version=$(cat $S/version)"
echo up >$H/.up && mv $H/.up $H/up
k=0
end=$(($(date +%s) + 600))
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
		echo "map: $(xpv-e2e libxpv 0)"
		echo "map: $(xpv-e2e libxpv 1)"
		echo "cpulist: node0=$(cat /sys/devices/system/node/node0/cpulist) node1=$(cat /sys/devices/system/node/node1/cpulist)"
		ask stock 3 4 "query 2"
		ask update 5 6 update >/dev/null
		ask update 5 6 "query 2"
		ask xpv 7 8 "query 2"
		cat /tmp/stock.err /tmp/update.err /tmp/xpv.err | sed 's/^/stderr: /'
	} >/tmp/result 2>&1
	cp /tmp/result $H/.result && mv $H/.result $H/result-$k
	k=$((k + 1))
done
dmesg | grep virtio_numa >$H/dmesg.txt
[ -e $H/done ]
