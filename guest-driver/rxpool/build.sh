#!/usr/bin/env bash
# Builds virtio_net_xpvpool.ko: drivers/net/virtio_net.c of the exact Debian
# kernel the guest runs, with 0001-*.patch applied, plus xpv_rxpool.c.
#
# The upstream file comes from Debian's linux-source-6.1 package of the
# guest kernel's version (apt-get download, only that file extracted) and is
# cached outside the clone in $XPV_CACHE/linux-source-<version>/ (atomic
# unpack with a .complete marker, under a lock); SOURCES records the
# checksums.  The kbuild runs in guest-driver/build/rxpool/<KVER>, and the
# module is copied to guest-driver/build/virtio_net_xpvpool.ko.
#
# Usage: guest-driver/rxpool/build.sh [--patch-only | --prepare DIR KVER]
#   (KVER=, KDIR= from the environment; --prepare puts the patched
#   virtio_net.c for kernel KVER into DIR and stops: dkms.conf's PRE_BUILD)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
gd=$(cd "$here/.." && pwd)
cache=${XPV_CACHE:-/var/cache/xpv}
prepare=
if [ "${1:-}" = --prepare ]; then
	prepare=${2:?usage: build.sh --prepare DIR KVER}
	KVER=${3:?usage: build.sh --prepare DIR KVER}
fi
KVER=${KVER:-$(ls /lib/modules 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -1)}
KDIR=${KDIR:-/lib/modules/$KVER/build}

die() {
	echo "rxpool/build.sh: $*" >&2
	exit 1
}

[ -n "$KVER" ] || die "no Debian 6.1 kernel found in /lib/modules; set KVER"
[ -f "$KDIR/Makefile" ] || die "no kernel build tree at $KDIR: install linux-headers-$KVER"
debver=$(dpkg-query -W -f='${Version}' "linux-headers-$KVER" 2>/dev/null) ||
	die "linux-headers-$KVER is not a Debian package: cannot tell which source to fetch"

src=$cache/linux-source-$debver
mkdir -p "$cache"
exec 9>"$cache/linux-source.lock"
flock 9
if [ ! -f "$src/.complete" ]; then
	echo "rxpool/build.sh: fetching linux-source-6.1=$debver (only drivers/net/virtio_net.c is kept)"
	rm -rf "$cache"/linux-source.tmp.*
	tmp=$(mktemp -d "$cache/linux-source.tmp.XXXXXX")
	(cd "$tmp" && apt-get download -q "linux-source-6.1=$debver" >/dev/null 2>&1) || {
		rm -rf "$tmp"
		die "apt-get download linux-source-6.1=$debver failed"
	}
	deb=$(ls "$tmp"/linux-source-6.1_*.deb)
	sha256sum "$deb" | cut -d' ' -f1 >"$tmp/deb.sha256"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz | xz -dc |
		tar -x -C "$tmp" linux-source-6.1/drivers/net/virtio_net.c ||
		{ rm -rf "$tmp"; die "virtio_net.c not found in $deb"; }
	mv "$tmp/linux-source-6.1/drivers/net/virtio_net.c" "$tmp/virtio_net.c"
	rm -rf "$tmp/linux-source-6.1" "$deb"
	touch "$tmp/.complete"
	rm -rf "$src"
	mv "$tmp" "$src"
fi
exec 9>&-

sum=$(sha256sum "$src/virtio_net.c" | cut -d' ' -f1)
want=$(awk -v v="$debver" '$1 == v { print $3 }' "$here/SOURCES")
if [ -z "$want" ]; then
	echo "rxpool/build.sh: warning: $debver is not in SOURCES (virtio_net.c sha256 $sum); trying the patch" >&2
elif [ "$want" != "$sum" ]; then
	die "virtio_net.c of $debver has sha256 $sum, SOURCES says $want"
fi
echo "rxpool/build.sh: linux-source-6.1 $debver, virtio_net.c sha256 $sum"

out=$gd/build/rxpool/$KVER
[ -z "$prepare" ] || out=$prepare/.work/$KVER
# two suites may build at once: one at a time, and the .ko replaced atomically
mkdir -p "$out"
exec 8>"$out.lock"
flock 8
rm -rf "$out"
mkdir -p "$out/tree/drivers/net" "$out/kmod"
cp "$src/virtio_net.c" "$out/tree/drivers/net/virtio_net.c"
for p in "$here"/0*.patch; do
	patch -s -d "$out/tree" -p1 --no-backup-if-mismatch <"$p" || die "$(basename "$p") does not apply to $debver"
done
echo "rxpool/build.sh: patches apply"
[ "${1:-}" = --patch-only ] && exit 0
if [ -n "$prepare" ]; then
	cp "$out/tree/drivers/net/virtio_net.c" "$prepare/virtio_net.c"
	exit 0
fi

cp "$out/tree/drivers/net/virtio_net.c" "$out/kmod/virtio_net.c"
for f in Kbuild xpv_rxpool.c xpv_rxpool.h xpv_rxpool_alg.h; do
	ln -sfn "$here/$f" "$out/kmod/$f"
done
make -C "$KDIR" M="$out/kmod" modules
cp "$out/kmod/virtio_net_xpvpool.ko" "$gd/build/.virtio_net_xpvpool.ko.$$"
mv -f "$gd/build/.virtio_net_xpvpool.ko.$$" "$gd/build/virtio_net_xpvpool.ko"
echo "rxpool/build.sh: built $gd/build/virtio_net_xpvpool.ko for $KVER"
