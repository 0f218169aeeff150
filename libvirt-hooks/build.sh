#!/usr/bin/env bash
# Builds Debian 12's libvirt 9.0.0 with xpv's patch series
# (libvirt-hooks/patches/*.patch: the <numainfo> device for virtio-numa-pci).
#
# The source comes from `apt-get source libvirt` (needs the deb-src entry that
# scripts/install-deps.sh adds) and is unpacked once into
# $XPV_CACHE/libvirt-src.  Each build lives in $XPV_CACHE/libvirt-<key>, where
# the key hashes the Debian source version, the patch series, this script and
# the shared helpers, and the compiler version, so a clean clone with
# unchanged patches reuses it.  Only what the tests need is built: the QEMU
# and test drivers, virtqemud, virtlogd, libvirt_iohelper (save/restore),
# virsh, and the XML and hotplug test programs with their mocks (docs and
# every other driver off).  On success build/libvirt-path
# (in the repository) names the meson build directory; run the tests with
# `meson test -C $(cat build/libvirt-path) --no-rebuild NAME`.
#
# Usage: libvirt-hooks/build.sh [--print-key]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${XPV_CACHE:-/var/cache/xpv}
prog=libvirt-hooks/build.sh
jobs=$(nproc)
[ "$jobs" -gt 2 ] || jobs=2
DEBIAN_VERSION=9.0.0-4+deb12u2

MESON_OPTIONS=(
	-Dauto_features=disabled
	-Ddriver_qemu=enabled -Ddriver_remote=enabled -Ddriver_libvirtd=enabled
	-Ddriver_test=enabled -Dyajl=enabled -Dnumactl=enabled
	-Dtests=enabled -Dexpensive_tests=disabled -Ddocs=disabled -Dnls=disabled
	-Dinit_script=none -Dreadline=disabled
)
TESTS=(qemuxml2argvtest qemuxml2xmltest genericxml2xmltest virschematest
	qemucapabilitiestest qemuhotplugtest)

# shellcheck source=../scripts/build-cache.sh
. "$top/scripts/build-cache.sh"
die() { cache_die "$@"; }

cache_lock libvirt

# 1. Debian's source, unpacked with Debian's patches applied.
cache_source libvirt "$cache/libvirt-src"
dsc=$(ls "$cache"/libvirt-src/libvirt_*.dsc | sort -V | tail -1)
version=$(basename "$dsc" .dsc)
version=${version#libvirt_}
srcdir=$cache/libvirt-src/libvirt-9.0.0
[ -f "$srcdir/meson.build" ] || die "no unpacked source in $cache/libvirt-src"
[ "$version" = "$DEBIAN_VERSION" ] ||
	die "the patches target Debian 12's libvirt $DEBIAN_VERSION, but apt served libvirt $version"

# 2. The cache key.
key=$( {
	echo "$version"
	gcc --version | head -1
	cat "$0" "$top/scripts/build-cache.sh" "$here"/patches/*.patch
} | sha256sum | cut -c1-16)
if [ "${1:-}" = --print-key ]; then
	echo "$key"
	exit 0
fi
out=$cache/libvirt-$key
mkdir -p "$top/build"

if [ -f "$out/.complete" ]; then
	echo "$out/build" >"$top/build/libvirt-path"
	echo "$prog: cached build $out (libvirt $version + $(ls "$here"/patches/*.patch | wc -l) patches)"
	exit 0
fi

# 3. Patch a private copy of the source.
rm -rf "$out"
mkdir -p "$out"
echo "$prog: building libvirt $version + xpv patches in $out"
cp -a "$srcdir" "$out/src"
for p in "$here"/patches/*.patch; do
	if ! patch -d "$out/src" -p1 --batch --forward --quiet <"$p" >"$out/patch.log" 2>&1; then
		cat "$out/patch.log" >&2
		die "$(basename "$p") does not apply to Debian's libvirt $version"
	fi
done

# 4. Configure and build out of tree: only the targets the tests and the
# private daemons need (the test programs' dependencies and their mocks).
(cd "$out/src" && meson setup "$out/build" "${MESON_OPTIONS[@]}" >"$out/configure.log" 2>&1) ||
	{ tail -30 "$out/configure.log" >&2; die "meson setup failed (log: $out/configure.log)"; }
mapfile -t targets < <(ninja -C "$out/build" -t targets all | cut -d: -f1 |
	grep -E "^tests/lib[a-z0-9_]+\.so$|^tests/($(
		IFS='|'
		echo "${TESTS[*]}"
	))$|^src/(virtqemud|virtlogd|libvirt_iohelper|libvirt_driver_qemu\.so)$|^tools/virsh$")
[ "${#targets[@]}" -ge 10 ] || die "expected build targets not found (log: $out/configure.log)"
cache_run_logged "$out/build.log" "building" nice -n 10 ninja -C "$out/build" -j"$jobs" "${targets[@]}"
touch "$out/.complete"
echo "$out/build" >"$top/build/libvirt-path"
echo "$prog: done: $out/build"

# Keep the cache bounded: drop other xpv libvirt builds older than a week.
find "$cache" -maxdepth 1 -name 'libvirt-????????????????' -type d -mtime +7 \
	! -path "$out" -exec rm -rf {} + 2>/dev/null || true
