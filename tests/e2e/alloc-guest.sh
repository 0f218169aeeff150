#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/66-e2e-allocators.  Loads
# the driver (mirror=1), waits for /xpv/host/cmd = "CPU OLD_HNODE NEW_HNODE",
# starts one alloc-probe per runtime (glibc, stock jemalloc, jemalloc with
# libxpv-jemalloc, mimalloc; picked with LD_PRELOAD), writes /xpv/host/ready
# once every probe has done its phase 1, and copies each probe's line to
# /xpv/host/result-NAME (the host moves the vCPU in between).  Every wait is
# bounded.
H=/xpv/host
L=/usr/lib/x86_64-linux-gnu
RUNTIMES="glibc jemalloc jemalloc-xpv mimalloc"
insmod /xpv/mods/virtio_numa.ko mirror=1 || { echo "insmod failed" >$H/error; exit 1; }
[ -c /dev/xpv_numa ] || { echo "driver did not bind: no /dev/xpv_numa" >$H/error; exit 1; }
echo up >$H/.up && mv $H/.up $H/up
end=$(($(date +%s) + 300))
while [ ! -e $H/cmd ]; do
	[ "$(date +%s)" -lt "$end" ] || { echo "no cmd from the host" >$H/error; exit 1; }
	sleep 0.1 # polling interval of a deadline loop
done
read -r cpu old new <$H/cmd
for r in $RUNTIMES; do
	case $r in
	glibc) pre= ;;
	jemalloc) pre=$L/libjemalloc.so.2 ;;
	jemalloc-xpv) pre=/usr/lib/xpv/libxpv-jemalloc.so.1 ;;
	mimalloc) pre=$L/libmimalloc.so.2 ;;
	esac
	LD_PRELOAD=$pre alloc-probe $r "$cpu" "$old" "$new" /tmp/ready-$r 240000 >/tmp/result-$r 2>&1 &
	echo $! >/tmp/pid-$r
done
for r in $RUNTIMES; do
	while [ ! -e /tmp/ready-$r ]; do
		if [ "$(date +%s)" -ge "$end" ] || ! kill -0 "$(cat /tmp/pid-$r)" 2>/dev/null; then
			{ echo "probe $r did not finish phase 1:"; cat /tmp/result-$r; } >$H/error
			exit 1
		fi
		sleep 0.1 # polling interval of a deadline loop
	done
done
echo ready >$H/.ready && mv $H/.ready $H/ready
rc=0
for r in $RUNTIMES; do
	wait "$(cat /tmp/pid-$r)" || rc=1
	cp /tmp/result-$r $H/.result && mv $H/.result $H/result-$r
done
dmesg | grep virtio_numa >$H/dmesg.txt
exit $rc
