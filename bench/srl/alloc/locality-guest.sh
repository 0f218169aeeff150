#!/bin/sh
# Guest side of bench/srl/alloc/run-locality.sh: loads the driver
# (mirror=1), waits for /xpv/host/cmd = "CPU SECONDS PERIOD_MS", runs one
# alloc-workload per runtime on vCPU CPU at once, copies their samples to
# /xpv/host/wl-NAME.
H=/xpv/host
L=/usr/lib/x86_64-linux-gnu
RUNTIMES="glibc jemalloc jemalloc-xpv mimalloc"
insmod /xpv/mods/virtio_numa.ko mirror=1 || { echo "insmod failed" >$H/error; exit 1; }
echo up >$H/.up && mv $H/.up $H/up
end=$(($(date +%s) + 300))
while [ ! -e $H/cmd ]; do
	[ "$(date +%s)" -lt "$end" ] || exit 1
	sleep 0.1 # polling interval of a deadline loop
done
read -r cpu secs period <$H/cmd
for r in $RUNTIMES; do
	case $r in
	glibc) pre= ;;
	jemalloc) pre=$L/libjemalloc.so.2 ;;
	jemalloc-xpv) pre=/usr/lib/xpv/libxpv-jemalloc.so.1 ;;
	mimalloc) pre=$L/libmimalloc.so.2 ;;
	esac
	LD_PRELOAD=$pre alloc-workload $r "$cpu" "$secs" "$period" >/tmp/wl-$r 2>&1 &
	echo $! >/tmp/pid-$r
done
echo started >$H/.started && mv $H/.started $H/started
rc=0
for r in $RUNTIMES; do
	wait "$(cat /tmp/pid-$r)" || rc=1
	cp /tmp/wl-$r $H/.wl && mv $H/.wl $H/wl-$r
done
exit $rc
