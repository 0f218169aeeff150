#!/usr/bin/env bash
# Run by tests/suites/82-dkms inside tests/install/overlay-root.sh's
# throw-away root (kernel trees hidden: DKMS only adds, builds nothing; the
# new packages at /mnt): the upgrade from the combined xpv-guest-dkms (both
# modules in one DKMS package, before 0.9.1) to xpv-guest-dkms +
# xpv-rxpool-dkms.  dpkg must refuse xpv-rxpool-dkms beside the old package
# (Breaks: both would install virtio_net_xpvpool.ko), take both new ones
# together, leave none of the old package's files, and DKMS must then know
# xpv-guest/1.0 with virtio_numa only, and xpv-rxpool/1.0.
# PASS/FAIL lines like deb-checks.sh.
# Usage: dkms-upgrade.sh OLD-DEB
set -u
old=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/install/deploy-lib.sh" # pass, fail, check, logged
status() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null; }

check "dpkg -i the old combined package ($(basename "$old"))" logged dpkg -i "$old"
check "the old package's DKMS tree builds both modules" \
	grep -q '^BUILT_MODULE_NAME\[1\]="virtio_net_xpvpool"' /var/lib/dkms/xpv-guest/1.0/source/dkms.conf
if dpkg -i /mnt/xpv-rxpool-dkms_*.deb >/tmp/breaks.log 2>&1; then
	fail "dpkg refuses xpv-rxpool-dkms beside the old xpv-guest-dkms"
else
	check "dpkg refuses xpv-rxpool-dkms beside the old xpv-guest-dkms (Breaks)" \
		grep -q 'xpv-rxpool-dkms breaks xpv-guest-dkms' /tmp/breaks.log
fi
check "dpkg -i the new xpv-guest-dkms and xpv-rxpool-dkms (upgrade)" logged \
	dpkg -i /mnt/xpv-guest-dkms_*.deb /mnt/xpv-rxpool-dkms_*.deb
new=$(dpkg-deb -f /mnt/xpv-guest-dkms_*.deb Version)
check "xpv-guest-dkms is $new, configured ($(status xpv-guest-dkms))" test "$(status xpv-guest-dkms)" = "ii $new"
check "xpv-rxpool-dkms is configured ($(status xpv-rxpool-dkms))" test "$(status xpv-rxpool-dkms)" = "ii $new"
check "the old package's subdirectories are gone" \
	sh -c '! ls -d /usr/src/xpv-guest-1.0/rxpool /usr/src/xpv-guest-1.0/virtio_numa 2>/dev/null'
check "dkms: xpv-guest/1.0 builds virtio_numa only" sh -c \
	'grep -q "^BUILT_MODULE_NAME\[0\]=\"virtio_numa\"" /var/lib/dkms/xpv-guest/1.0/source/dkms.conf &&
	! grep -q virtio_net_xpvpool /var/lib/dkms/xpv-guest/1.0/source/dkms.conf'
check "dkms knows xpv-rxpool/1.0" sh -c 'dkms status xpv-rxpool | grep -q "^xpv-rxpool/1.0: added"'
check "dpkg --verify xpv-guest-dkms xpv-rxpool-dkms" logged dpkg --verify xpv-guest-dkms xpv-rxpool-dkms
check "dpkg --purge xpv-guest-dkms xpv-rxpool-dkms" logged dpkg --purge xpv-guest-dkms xpv-rxpool-dkms
check "dkms forgot both" sh -c '! dkms status 2>/dev/null | grep -E "^xpv-(guest|rxpool)/"'
check "/usr/src/xpv-* are gone" sh -c '! ls -d /usr/src/xpv-* 2>/dev/null'
