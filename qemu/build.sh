#!/usr/bin/env bash
# Builds Debian 12's QEMU 7.2 with xpv's patch series (qemu/patches/*.patch).
#
# The source comes from `apt-get source qemu` (needs the deb-src entry that
# scripts/install-deps.sh adds) and is unpacked once into $XPV_CACHE/src.
# Each build lives in $XPV_CACHE/qemu-<key>, where the key hashes the Debian
# source version, the patch series, this script's configure flags and the
# compiler version, so a clean clone with unchanged patches reuses it.
# On success build/qemu-path (in the repository) names the build directory.
#
# Usage: qemu/build.sh [--print-key]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${XPV_CACHE:-/var/cache/xpv}
jobs=$(nproc)

CONFIGURE_FLAGS=(
	--target-list=x86_64-softmmu
	--without-default-features
	--enable-kvm --enable-tcg --enable-virtfs --enable-attr --enable-cap-ng
	--enable-slirp --enable-fdt=system --enable-numa
	--disable-docs --disable-werror
	# Debian's firmware packages (qemu-system-data, seabios, ipxe-qemu)
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)
TARGETS=(qemu-system-x86_64 tests/qtest/qos-test tests/unit/test-virtio-numa-map)

prog=qemu/build.sh
# shellcheck source=../scripts/build-cache.sh
. "$top/scripts/build-cache.sh"
die() { cache_die "$@"; }

cache_lock qemu

# 1. Debian's source, unpacked with Debian's patches applied (atomically:
# an interrupted fetch never leaves a half-unpacked tree later builds trust).
cache_source qemu "$cache/src"
dsc=$(ls "$cache"/src/qemu_*.dsc | sort -V | tail -1)
version=$(basename "$dsc" .dsc)
version=${version#qemu_}
srcdir=$(ls -d "$cache"/src/qemu-*/ | sort -V | tail -1)
srcdir=${srcdir%/}
[ -f "$srcdir/VERSION" ] || die "no unpacked source in $cache/src"
case $version in
7.2+dfsg-*) ;;
*) die "the patches target Debian 12's QEMU 7.2, but apt served qemu $version" ;;
esac

# 2. The cache key.
key=$( {
	echo "$version"
	printf '%s\n' "${CONFIGURE_FLAGS[@]}" "${TARGETS[@]}"
	gcc --version | head -1
	cat "$here"/patches/*.patch
} | sha256sum | cut -c1-16)
if [ "${1:-}" = --print-key ]; then
	echo "$key"
	exit 0
fi
out=$cache/qemu-$key
mkdir -p "$top/build"

# QEMU run from its build tree looks for firmware in qemu-bundle/<firmware
# path>: point it at Debian's firmware packages (done on every run, so
# firmware installed later is found too).
link_firmware() {
	local d f
	for d in usr/share/qemu usr/share/seabios usr/lib/ipxe/qemu; do
		mkdir -p "$out/build/qemu-bundle/$d"
		for f in /"$d"/*; do
			[ -e "$f" ] && [ ! -e "$out/build/qemu-bundle/$d/${f##*/}" ] &&
				ln -s "$f" "$out/build/qemu-bundle/$d/"
		done
	done
	return 0
}

if [ -f "$out/.complete" ]; then
	link_firmware
	echo "$out/build" >"$top/build/qemu-path"
	echo "qemu/build.sh: cached build $out (qemu $version + $(ls "$here"/patches/*.patch | wc -l) patches)"
	exit 0
fi

# 3. Patch a private copy of the source.
rm -rf "$out"
mkdir -p "$out"
echo "qemu/build.sh: building qemu $version + xpv patches in $out"
cp -a "$srcdir" "$out/src"
for p in "$here"/patches/*.patch; do
	if ! patch -d "$out/src" -p1 --batch --forward --quiet <"$p" >"$out/patch.log" 2>&1; then
		cat "$out/patch.log" >&2
		die "$(basename "$p") does not apply to Debian's qemu $version; the series targets 7.2+dfsg-7+deb12u18"
	fi
done

# 4. Configure and build out of tree.
mkdir -p "$out/build"
(cd "$out/build" && "$out/src/configure" "${CONFIGURE_FLAGS[@]}" >"$out/configure.log" 2>&1) ||
	{ tail -30 "$out/configure.log" >&2; die "configure failed (log: $out/configure.log)"; }
# A cold build takes 5-20 minutes.
cache_run_logged "$out/build.log" "building" make -C "$out/build" -j"$jobs" "${TARGETS[@]}"
link_firmware
touch "$out/.complete"
echo "$out/build" >"$top/build/qemu-path"
echo "qemu/build.sh: done: $out/build/qemu-system-x86_64"

# Keep the cache bounded: drop other xpv QEMU builds older than a week.
find "$cache" -maxdepth 1 -name 'qemu-????????????????' -type d -mtime +7 \
	! -path "$out" -exec rm -rf {} + 2>/dev/null || true
