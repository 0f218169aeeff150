#!/bin/sh
# TEST ONLY, guest of tests/suites/60-e2e-driver-fake, second VM: one socket
# of 4 cores over 2 guest nodes, so every CPU shares its package with CPUs of
# the other node.  rehome=1 must then refuse to offline/online a CPU (which
# would split the package over nodes) and only mirror it.  TAP to the share.
R=/xpv/host/results.tap
: >"$R"
n=0
failed=0
D=/sys/kernel/debug/vnuma_fake
S=/sys/class/misc/xpv_numa
M=/xpv/mods
C=vnuma-check

check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >/tmp/out 2>&1; then
		echo "ok $n - package: $desc" >>"$R"
	else
		failed=$((failed + 1))
		echo "not ok $n - package: $desc" >>"$R"
		sed 's/^/# /' /tmp/out | head -20 >>"$R"
	fi
}

eq() {
	got=$(eval "$1" 2>&1)
	[ "$got" = "$2" ] && return 0
	echo "$1: expected '$2', got '$got'"
	return 1
}

# the boot-time topology warning of this layout is not the driver's
dmesg -c >/dev/null
check "load fake transport and map (CPU 1 on host node 1)" sh -c "insmod $M/vnuma_fake.ko && $C mkblob $D/blob 5 0,1 0,1 0,1,1,1 && echo 1 > $D/present"
check "load virtio_numa rehome=1" insmod $M/virtio_numa.ko rehome=1
check "version 5" eq "cat $S/version" 5
check "rehoming CPU 1 refused: its package spans nodes" sh -c "dmesg | grep -q 'not rehoming CPU 1: its package spans guest nodes'"
check "CPU 1 was not taken offline" sh -c "! dmesg | grep -q 'CPU 1 is now offline'"
check "CPU 1 still mirrored to node 1 (light)" eq "cat /sys/devices/system/node/node1/cpulist" 1-3
check "getcpu(2) says node 1, the vDSO still the boot node 0" eq "$C getcpu 1" "1 0"
check "rmmod virtio_numa restores node 0" sh -c "rmmod virtio_numa && test \"\$($C getcpu 1)\" = '0 0'"
check "rmmod fake" rmmod vnuma_fake
check "no kernel warnings or BUGs since the driver loaded" sh -c "! dmesg | grep -E 'BUG|WARNING:|Oops'"
echo "1..$n" >>"$R"
exit $failed
