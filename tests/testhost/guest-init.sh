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
if [ "${INIT:-}" = systemd ]; then
	# run.sh --systemd: the root's own systemd becomes PID 1 (the initramfs
	# /init switches root) and starts only xpv-testhost.target: sysinit plus
	# the command, whose unit writes the exit code and powers off.  Units
	# that make no sense in this VM are masked at runtime (/run).
	# This machine is a Docker container: its /.dockerenv would make systemd
	# believe it runs in one too (then it ignores the kernel command line).
	rm -f $r/.dockerenv
	u=$r/run/systemd/system
	mkdir -p $u
	for m in $SYSTEMD_MASK; do
		ln -s /dev/null $u/$m
	done
	# no generator is needed (no fstab, getty, sysv script...): they cost
	# seconds under TCG
	mkdir -p $r/run/systemd/system-generators
	for g in $r/lib/systemd/system-generators/* $r/usr/lib/systemd/system-generators/*; do
		[ -e "$g" ] && ln -sf /dev/null $r/run/systemd/system-generators/${g##*/}
	done
	cat >$u/xpv-testhost.target <<-'EOF'
		[Unit]
		Description=xpv test host: the test command, then power off
		Wants=xpv-testhost.service
		AllowIsolate=yes
	EOF
	# $$ is a literal $ for systemd; output goes straight to the console
	cat >$u/xpv-testhost.service <<-'EOF'
		[Unit]
		Description=xpv test host command (/run/xpv/cmd)
		SuccessAction=poweroff-immediate
		FailureAction=poweroff-immediate
		[Service]
		Type=oneshot
		StandardInput=null
		StandardOutput=tty
		StandardError=inherit
		TTYPath=/dev/ttyS0
		TTYReset=no
		TTYVHangup=no
		ExecStart=/bin/sh -c 'echo XPV-TESTHOST-BEGIN; /bin/bash /run/xpv/cmd; rc=$$?; echo XPV-TESTHOST-END; echo $$rc >/run/xpv/rc.tmp && mv /run/xpv/rc.tmp /run/xpv/rc'
	EOF
	echo "$r /lib/systemd/systemd" >/xpv/switch-root
	exit 0
fi
echo XPV-TESTHOST-BEGIN
chroot $r /bin/bash /run/xpv/cmd </dev/null
rc=$?
echo XPV-TESTHOST-END
echo $rc >$ctl/rc.tmp && mv $ctl/rc.tmp $ctl/rc
exit $rc
