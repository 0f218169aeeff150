#!/usr/bin/env bash
# Run by tests/suites/82-dkms inside tests/install/overlay-root.sh's
# throw-away root (kernel trees visible, the packages at /mnt, /srv
# writable): installs xpv-guest-dkms and xpv-rxpool-dkms, whose postinsts
# add xpv-guest/1.0 and xpv-rxpool/1.0 to DKMS and build and install them
# for every kernel in /lib/modules (a first installation in a chroot whose
# running kernel is not installed: dkms's common.postinst builds for all).
# Checks that virtio_numa is built for every kernel given, virtio_net_xpvpool
# for KVER61 only (BUILD_EXCLUSIVE_KERNEL skips the others, and the postinst
# says so), copies the modules to /srv/KVER/, and purges both packages.
# PASS/FAIL lines like deb-checks.sh.
# Usage: dkms-build.sh KVER61 [KVER...]   (KVER61: a Debian 12 6.1 kernel)
set -u
kver61=$1
kvers=("$@")
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/install/deploy-lib.sh" # pass, fail, check
logged_to() { # logged_to LOG CMD...: CMD's output kept in LOG, its errors as comments when it fails
	local log=$1
	shift
	"$@" >"$log" 2>&1 && return 0
	grep -iE 'error|fail' "$log" | head -10 | sed 's/^/#   /'
	tail -10 "$log" | sed 's/^/#   /'
	return 1
}
# dkms_state NAME KVER: "installed" or "built" for KVER, else empty
dkms_state() {
	dkms status -m "$1" -v 1.0 -k "$2" 2>/dev/null | sed -n "s|^$1/1.0, $2, x86_64: \([a-z]*\).*|\1|p"
}
# copy_module KVER MODULE: the DKMS-installed module, uncompressed, to /srv/KVER/
copy_module() {
	local f v
	f=$(modinfo -k "$1" -n "$2" 2>/dev/null)
	case $f in
	/lib/modules/"$1"/updates/dkms/"$2".ko*) ;;
	*)
		fail "modinfo -k $1 $2 names the DKMS module (got '$f')"
		return
		;;
	esac
	mkdir -p "/srv/$1"
	case $f in
	*.ko) cp "$f" "/srv/$1/$2.ko" ;;
	*.ko.xz) xz -dc "$f" >"/srv/$1/$2.ko" ;;
	*)
		fail "unknown module compression: $f"
		return
		;;
	esac
	v=$(modinfo -F vermagic "/srv/$1/$2.ko" 2>/dev/null)
	check "$2 for $1 is $f, vermagic $v" test "${v%% *}" = "$1"
}

check "dpkg -i xpv-guest-dkms xpv-rxpool-dkms" logged_to /srv/dpkg-install.log \
	dpkg -i /mnt/xpv-guest-dkms_*.deb /mnt/xpv-rxpool-dkms_*.deb
grep -E '^Building (for|initial module)|BUILD_EXCLUSIVE|^Skipped|^Done' /srv/dpkg-install.log | sed 's/^/# postinst: /'
for k in "${kvers[@]}"; do
	s=$(dkms_state xpv-guest "$k")
	check "the postinst built and installed xpv-guest/1.0 (virtio_numa) for $k (dkms: ${s:-nothing})" \
		test "$s" = installed
	copy_module "$k" virtio_numa
	s=$(dkms_state xpv-rxpool "$k")
	if [ "$k" = "$kver61" ]; then
		check "the postinst built and installed xpv-rxpool/1.0 (virtio_net_xpvpool) for $k (dkms: ${s:-nothing})" \
			test "$s" = installed
		copy_module "$k" virtio_net_xpvpool
	else
		check "xpv-rxpool/1.0 is not built for $k (dkms: ${s:-nothing})" test -z "$s"
		check "no virtio_net_xpvpool for $k" sh -c "! ls /lib/modules/$k/updates/dkms/virtio_net_xpvpool.ko* >/dev/null 2>&1"
	fi
done
# the postinst says why it skipped the other kernels: the xpv-rxpool part of
# its output names the kernel, then dkms's BUILD_EXCLUSIVE message
if [ "${#kvers[@]}" -gt 1 ]; then
	check "the xpv-rxpool postinst skips ${kvers[*]:1} (BUILD_EXCLUSIVE)" awk -v n="${#kvers[@]}" '
		/^Loading new xpv-rxpool-1.0/ { rx = 1 } /^Loading new xpv-guest-1.0/ { rx = 0 }
		rx && /^Building initial module for / { k = $5 }
		rx && k && /BUILD_EXCLUSIVE directive which does not match/ { skipped[k] = 1 }
		rx && k && /^Skipped\.$/ && skipped[k] { n_ok++ }
		END { exit !(n_ok == n - 1) }' /srv/dpkg-install.log
fi

check "dpkg --purge xpv-guest-dkms xpv-rxpool-dkms" logged_to /srv/dpkg-purge.log \
	dpkg --purge xpv-guest-dkms xpv-rxpool-dkms
for k in "${kvers[@]}"; do
	check "the modules left /lib/modules/$k" sh -c \
		"! ls /lib/modules/$k/updates/dkms/virtio_numa.ko* /lib/modules/$k/updates/dkms/virtio_net_xpvpool.ko* >/dev/null 2>&1"
done
check "dkms forgot xpv-guest and xpv-rxpool" sh -c '! dkms status 2>/dev/null | grep -E "^xpv-(guest|rxpool)/"'
check "/usr/src/xpv-guest-1.0 and /usr/src/xpv-rxpool-1.0 are gone" \
	sh -c '! ls -d /usr/src/xpv-guest-1.0 /usr/src/xpv-rxpool-1.0 2>/dev/null'
