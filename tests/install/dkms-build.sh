#!/usr/bin/env bash
# Run by tests/suites/82-dkms inside tests/install/overlay-root.sh's
# throw-away root (kernel trees visible, the package at /mnt, /srv writable):
# installs xpv-guest-dkms, whose postinst adds xpv-guest/1.0 to DKMS and
# builds and installs it for the kernels it picks (in a chroot: every kernel
# in /lib/modules; BUILD_EXCLUSIVE_KERNEL skips the non-6.1 ones), makes
# sure it is built and installed for KVER (dkms build/install, a no-op when
# the postinst did it, as the kernel's own DKMS hook would otherwise), copies
# the modules to /srv, and purges the package.  PASS/FAIL lines like
# deb-checks.sh.
# Usage: dkms-build.sh KVER
set -u
kver=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
check() {
	local w=$1
	shift
	if "$@"; then pass "$w"; else fail "$w"; fi
}
logged() { # logged LOG CMD...
	local log=$1
	shift
	"$@" >"$log" 2>&1 && return 0
	grep -iE 'error|fail' "$log" | head -10 | sed 's/^/#   /'
	tail -10 "$log" | sed 's/^/#   /'
	return 1
}
check "dpkg -i xpv-guest-dkms" logged /srv/dpkg-install.log dpkg -i /mnt/xpv-guest-dkms_*.deb
check "the postinst added xpv-guest/1.0 to DKMS" sh -c 'dkms status xpv-guest | grep -q "^xpv-guest/1.0"'
grep -E '^Building (for|initial module)|BUILD_EXCLUSIVE|^Skipped' /srv/dpkg-install.log | sed 's/^/# postinst: /'
check "dkms build -m xpv-guest -v 1.0 -k $kver" logged /srv/dkms-build.log \
	dkms build -m xpv-guest -v 1.0 -k "$kver"
check "dkms install -k $kver" logged /srv/dkms-install.log dkms install -m xpv-guest -v 1.0 -k "$kver"
check "dkms status: installed for $kver" sh -c "dkms status xpv-guest | grep -q '^xpv-guest/1.0, $kver, x86_64: installed'"
for m in virtio_numa virtio_net_xpvpool; do
	f=$(modinfo -k "$kver" -n "$m" 2>/dev/null)
	case $f in
	/lib/modules/"$kver"/updates/dkms/"$m".ko*)
		pass "modinfo -k $kver $m: $f"
		case $f in
		*.ko) cp "$f" "/srv/$m.ko" ;;
		*.ko.xz) xz -dc "$f" >"/srv/$m.ko" ;;
		*) fail "unknown module compression: $f" ;;
		esac
		;;
	*) fail "modinfo -k $kver $m names the DKMS module (got '$f')" ;;
	esac
	v=$(modinfo -k "$kver" -F vermagic "$m" 2>/dev/null)
	check "$m is built for $kver (vermagic $v)" test "${v%% *}" = "$kver"
done
check "dpkg --purge xpv-guest-dkms" logged /srv/dpkg-purge.log dpkg --purge xpv-guest-dkms
check "the modules left /lib/modules/$kver" sh -c "! ls /lib/modules/$kver/updates/dkms/virtio_numa.ko* >/dev/null 2>&1"
check "dkms forgot xpv-guest" sh -c '! dkms status xpv-guest | grep -q .'
