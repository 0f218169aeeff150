#!/bin/sh
# TEST ONLY, runs inside the guest of tests/suites/60-e2e-driver-fake (busybox
# sh, 2 guest NUMA nodes: CPUs 0-1 on node 0, 2-3 on node 1).  Drives the
# virtio-numa driver through the fake transport (vnuma_fake.ko) and writes TAP
# to the host share, where kernel messages cannot interleave with it.
R=/xpv/host/results.tap
: >"$R"
n=0
failed=0
D=/sys/kernel/debug/vnuma_fake
S=/sys/class/misc/xpv_numa
M=/xpv/mods
C=vnuma-check
NODE=/sys/devices/system/node

# check DESCRIPTION CMD...: one TAP line; the command's output as comments on failure
check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >/tmp/out 2>&1; then
		echo "ok $n - $desc" >>"$R"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc" >>"$R"
		sed 's/^/# /' /tmp/out | head -40 >>"$R"
	fi
}

eq() { # eq WHAT EXPECTED: compare a command's output
	got=$(eval "$1" 2>&1)
	[ "$got" = "$2" ] && return 0
	echo "$1: expected '$2', got '$got'"
	return 1
}

# poll_until SECONDS CMD...: retry CMD until it succeeds, without fixed sleeps
poll_until() {
	t=$1
	shift
	end=$(($(date +%s) + t))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && { "$@"; return 1; }
		usleep 20000
	done
}

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

page_matches_sysfs() {
	sysfs_text >/tmp/sysfs.txt && $C page >/tmp/page.txt && $C read >/tmp/read.txt &&
		diff /tmp/sysfs.txt /tmp/page.txt && diff /tmp/page.txt /tmp/read.txt
}

blob() { $C mkblob $D/blob "$@"; }
wait_eq() { poll_until 20 eq "$@"; }

no_kernel_splat() {
	! dmesg | grep -E 'BUG:|BUG [a-z]|WARNING:|Oops|general protection|KASAN|UBSAN|refcount_t|list_(add|del) corruption|Poison overwritten|Redzone|Object padding'
}

# every place virtio_numa was loaded, for the leak scan at the end
load_vn() {
	# the core layout (text and data); /proc/modules' size includes the init part
	insmod $M/virtio_numa.ko "$@" &&
		echo "$(awk '$1 == "virtio_numa" { print $6 }' /proc/modules) $(cat /sys/module/virtio_numa/coresize) $(awk '{ print $1 * 1000 }' /proc/uptime)" >>/tmp/vn-ranges
}

memfree() { awk '/^MemFree/ { print $2 }' /proc/meminfo; }

cycle() { # cycle N: unbind/bind the device N times, with a reader each time
	i=0
	while [ $i -lt "$1" ]; do
		echo 0 >$D/present && echo 1 >$D/present && $C page >/dev/null || return 1
		i=$((i + 1))
	done
}

# each bind allocates > 1 MiB (max_map_len 1 MiB blob, 3 maps, the page)
t_cycles() {
	cycle 3 && f0=$(memfree) && cycle 30 && f1=$(memfree) && echo "MemFree $f0 -> $f1 kB" &&
		[ $((f0 - f1)) -lt 4096 ]
}

t_mirror0() {
	load_vn mirror=0 && test "$(cat $S/mirrored)" = 0 && test "$(cat $NODE/node0/cpulist)" = 0-1 &&
		rmmod virtio_numa
}

t_rehome_load() {
	$C mkblob $D/blob 1400 0,1 0,1 1,1,1,1 && load_vn rehome=1 && test "$(cat $S/version)" = 1400
}

check "load the fake transport" insmod $M/vnuma_fake.ko
check "first map v5 (CPUs 0,1 on host node 1; 2,3 on host node 0)" blob 5 0,1 0,1 1,1,0,0
check "load virtio_numa" load_vn
check "device appears and binds" sh -c "echo 1 > $D/present && test -c /dev/xpv_numa"
check "version 5 after probe" eq "cat $S/version" 5
check "vcpus lists host node id, host cpu, kernel node" eq "cat $S/vcpus" "0 1 5 1
1 1 5 1
2 0 5 0
3 0 5 0"
check "host_nodes" eq "cat $S/host_nodes" "0 1"
check "distances" eq "cat $S/distances" "10 20
20 10"
check "gnodes: node home size unplaced bytes_on..." eq "head -1 $S/gnodes" \
	"0 0 268455936 67113984 134227968 4096"
check "page (mmap) and read() equal sysfs" page_matches_sysfs
check "mirrored: 1" eq "cat $S/mirrored" 1
check "node0 cpulist follows the map" eq "cat $NODE/node0/cpulist" 2-3
check "node1 cpulist follows the map" eq "cat $NODE/node1/cpulist" 0-1
check "getcpu(2) of CPU 0 says node 1" eq "$C getcpu 0 | cut -d' ' -f1" 1
check "getcpu(2) of CPU 3 says node 0" eq "$C getcpu 3 | cut -d' ' -f1" 0
check "window reads are 32-bit" eq "cat $D/narrow_reads" 0
check "read-only ABI: no write open/mapping, no bad length/offset" $C abi

check "new map v6 wakes poll, sysfs_notify and uevent" $C poll-new $C mkblob $D/blob 6 0,1 0,1 0,0,1,1
check "version 6" eq "cat $S/version" 6
check "mapping back to 0-1 / 2-3" eq "cat $NODE/node0/cpulist $NODE/node1/cpulist" "0-1
2-3"
check "updates 2" eq "cat $S/updates" 2

for kind in magic vcpu-index count offset distance bytes; do
	r=$(cat $S/rejects)
	check "corrupt ($kind) v7 wakes nobody" $C poll-quiet $C mkblob $D/blob 7 0,1 0,1 1,1,1,1 $kind
	check "corrupt ($kind): rejected, counted" wait_eq "cat $S/rejects" $((r + 1))
	check "corrupt ($kind): version 6 kept" eq "cat $S/version" 6
	check "corrupt ($kind): kernel mapping kept" eq "cat $NODE/node0/cpulist" 0-1
done
check "page still equals sysfs after rejects" page_matches_sysfs
check "page reports the rejects" eq "$C page | grep ^rejects" "rejects 6"

check "lower version v3 rejected" sh -c "$C mkblob $D/blob 3 0,1 0,1 1,1,1,1"
check "... counted" wait_eq "cat $S/rejects" 7
check "... version 6 kept" eq "cat $S/version" 6
check "header version != map_version rejected" sh -c "echo 100 > $D/cfg_version && $C mkblob $D/blob 8 0,1 0,1 1,1,1,1; echo 0 > $D/cfg_version"
check "... counted" wait_eq "cat $S/rejects" 8
check "... version 6 kept" eq "cat $S/version" 6
check "same map notified again: no wakeup" $C poll-quiet sh -c "$C mkblob $D/blob 6 0,1 0,1 0,0,1,1 && echo 1 > $D/notify"
# the next real map must be the only update counted since
check "next map v7 accepted" sh -c "$C mkblob $D/blob 7 0,1 0,1 0,0,1,1"
check "... version 7" wait_eq "cat $S/version" 7
check "... updates 3: the repeated v6 counted nothing" eq "cat $S/updates" 3
check "... rejects unchanged" eq "cat $S/rejects" 8

# a map that changes under every read: bounded retries, then a later retry
check "map changing under the reader: bounded retries" sh -c "echo 1 > $D/flip_every && $C mkblob $D/blob 9 0,1 0,1 1,1,1,1"
check "... logged as transient" poll_until 20 sh -c "dmesg | grep -q 'kept changing'"
check "... version 7 kept meanwhile" eq "cat $S/version" 7
check "... and recovers when it settles" sh -c "echo 0 > $D/flip_every && $C mkblob $D/blob 10 0,1 0,1 1,1,1,1"
check "version 10" wait_eq "cat $S/version" 10

check "concurrent mmap/read readers never see a torn page (200 maps, 3 readers)" $C stress $D/blob 200 3
check "last stress map published" wait_eq "cat $S/version" 1199
check "page equals sysfs after stress" page_matches_sysfs

check "unload refused while a mapping is alive" $C busy-unload
check "unload refused while the device is open" sh -c "exec 3</dev/xpv_numa; ! rmmod virtio_numa"

check "device removal with open+mapped readers: EPOLLHUP, ENODEV, mapping kept" $C gone $D/present
check "removal restores the boot cpu->node mapping" eq "cat $NODE/node0/cpulist $NODE/node1/cpulist" "0-1
2-3"
check "re-added device binds again with the current map" sh -c "echo 1 > $D/present && test \$(cat $S/version) = 1199"

check "small window (12 bytes): probe reads the map" sh -c "echo 0 > $D/present && echo 12 > $D/window_size && echo 1 > $D/present && test \$(cat $S/version) = 1199"
check "... and a new map" $C mkblob $D/blob 1300 0,1 0,1 1,0,1,0
check "... version 1300" wait_eq "cat $S/version" 1300
check "... equals sysfs" page_matches_sysfs
check "bad window_size (6) fails the probe" sh -c "echo 0 > $D/present && echo 6 > $D/window_size && echo 1 > $D/present; test ! -e /dev/xpv_numa && dmesg | grep -q 'window_size 6'"
check "bad max_map_len (2 MiB) fails the probe" sh -c "echo 0 > $D/present && echo 1024 > $D/window_size && echo 2097152 > $D/max_map_len && echo 1 > $D/present; test ! -e /dev/xpv_numa && dmesg | grep -q 'max_map_len 2097152'"
check "good limits bind again" sh -c "echo 0 > $D/present && echo 1048576 > $D/max_map_len && echo 1 > $D/present && test -c /dev/xpv_numa"

check "33 unbind/bind cycles with readers: MemFree drops < 4 MiB" t_cycles
check "rmmod virtio_numa" rmmod virtio_numa
check "unload restores the boot mapping" eq "cat $NODE/node0/cpulist $NODE/node1/cpulist" "0-1
2-3"
check "getcpu(2) of CPU 0 back to node 0" eq "$C getcpu 0 | cut -d' ' -f1" 0

check "mirror=0: published, kernel untouched" t_mirror0

# rehome: CPUs 0 and 1 move to node 1; CPU 1 by offline/online, so its vDSO
# node follows too; CPU 0 is never taken offline, so only its light state moves
check "rehome=1 load with CPUs 0 and 1 on host node 1" t_rehome_load
check "rehome: CPU 1 online again" eq "cat /sys/devices/system/cpu/cpu1/online" 1
check "rehome: node1 cpulist 0-3" eq "cat $NODE/node1/cpulist" 0-3
check "rehome: CPU 0 not taken offline" sh -c "! dmesg | grep -q 'CPU 0 is now offline'"
check "rehome: CPU 0: getcpu(2) node 1, vDSO still 0 (never rehomed)" eq "$C getcpu 0" "1 0"
check "rehome: getcpu(2) and vDSO node of CPU 1 are 1" eq "$C getcpu 1" "1 1"
check "rehome: page vcpus say node 1 for CPU 1" eq "sed -n 2p $S/vcpus" "1 1 1400 1"
check "rehome: unload restores CPUs 0 and 1 (syscall and vDSO)" sh -c "rmmod virtio_numa && test \"\$($C getcpu 1)\" = '0 0' && test \"\$($C getcpu 0)\" = '0 0' && test \$(cat $NODE/node0/cpulist) = 0-1"

# sysfs dentries in the dcache keep removed kernfs nodes (and their
# allocation stacks) alive until reclaimed: drop them, allow RCU frees
leakscan_dropped() {
	echo 2 >/proc/sys/vm/drop_caches && $C leakscan /tmp/vn-ranges
}
t_leakscan() {
	poll_until 10 leakscan_dropped
}
check "rmmod the fake transport" rmmod vnuma_fake
# after the parent device is gone too: driver core keeps the class glue
# directory (virtioN/misc) that misc_register() created until then
check "no slab/vmalloc allocation of virtio_numa left after its unloads" t_leakscan
check "no kernel warnings, BUGs or oopses" no_kernel_splat

echo "1..$n" >>"$R"
dmesg | tail -40 >/xpv/host/dmesg.txt
exit $failed
