#!/bin/sh
# The test host's guest script (run by the initramfs /init of
# tests/vm/mkinitramfs.sh, busybox sh): mount the host's root filesystem
# (9p, read-only) under a tmpfs overlay so it is writable and every change is
# thrown away, add proc/sys/dev/tmp/run and the --share directories, then run
# /xpv/host/cmd (written by tests/testhost/run.sh) chrooted into it.  The
# command's exit code goes to /xpv/host/rc and is this script's exit code.
ctl=/xpv/host
say() { echo "xpv-testhost: $*"; }
[ -f $ctl/cmd ] || { say "no $ctl/cmd (is the xpvhost share there?)"; exit 125; }
. $ctl/config
opts=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /mnt/lower /mnt/upper /newroot
if ! mount -t 9p -o "$opts,ro,cache=$ROOT_CACHE" root /mnt/lower; then
	say "cannot mount the root share"
	exit 125
fi
mount -t tmpfs -o mode=755 tmpfs /mnt/upper
mkdir -p /mnt/upper/up /mnt/upper/work
if ! mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/up,workdir=/mnt/upper/work overlay /newroot; then
	say "overlayfs over 9p failed; the root stays read-only"
	mount --bind /mnt/lower /newroot
fi
r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=666 devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
mount -t tmpfs -o mode=755 tmpfs $r/run
[ -d $r/sys/kernel/debug ] && mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
[ -d $r/sys/fs/cgroup ] && mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
mkdir -p $r/run/xpv
mount --bind $ctl $r/run/xpv
while read -r tag dir; do
	[ -n "$tag" ] || continue
	mkdir -p "$r$dir" && mount -t 9p -o "$opts,cache=mmap" "$tag" "$r$dir" || {
		say "cannot mount share $tag at $dir"
		exit 125
	}
done <$ctl/shares
echo XPV-TESTHOST-BEGIN
chroot $r /bin/bash /run/xpv/cmd </dev/null
rc=$?
echo XPV-TESTHOST-END
echo $rc >$ctl/rc.tmp && mv $ctl/rc.tmp $ctl/rc
exit $rc
