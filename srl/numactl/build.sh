#!/usr/bin/env bash
# Builds Debian 12's libnuma (numactl 2.0.16) with xpv's patch series
# (srl/numactl/patches/*.patch) into the cache outside the clone.
#
# The source comes from `apt-get source numactl`, unpacked once into
# $XPV_CACHE/numactl-src.  Each build lives in $XPV_CACHE/numactl-<key>,
# where the key hashes the Debian source version, the patch series, this
# script, the libxpv header the patches compile against and the compiler,
# so a clean clone with unchanged patches reuses it.  On success
# build/numactl-path (in the repository) names the directory holding the
# patched libnuma.so.1.
#
# The library is never installed where the dynamic linker looks by default:
# `--install [DESTDIR]` puts it in /usr/lib/xpv/numa/ (applications opt in
# with xpv-numa-run or LD_LIBRARY_PATH; srl/README.md says why).
#
# Usage: srl/numactl/build.sh [--print-key | --install [DESTDIR]]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prog=srl/numactl/build.sh
# shellcheck source=../../scripts/build-cache.sh
. "$top/scripts/build-cache.sh"
LIBDIR=/usr/lib/xpv/numa

cache_lock numactl
cache_source numactl "$cache/numactl-src"
dsc=$(ls "$cache"/numactl-src/numactl_*.dsc | sort -V | tail -1)
version=$(basename "$dsc" .dsc)
version=${version#numactl_}
srcdir=$(ls -d "$cache"/numactl-src/numactl-*/ | sort -V | tail -1)
srcdir=${srcdir%/}
[ -f "$srcdir/libnuma.c" ] || cache_die "no unpacked source in $cache/numactl-src"
case $version in
2.0.16-*) ;;
*) cache_die "the patches target Debian 12's numactl 2.0.16, but apt served numactl $version" ;;
esac

key=$( {
	echo "$version"
	gcc --version | head -1
	cat "$0" "$top/srl/include/xpv/xpv.h" "$here"/patches/*.patch
} | sha256sum | cut -c1-16)
out=$cache/numactl-$key

case ${1:-} in
--print-key)
	echo "$key"
	exit 0
	;;
--install)
	[ -f "$out/.complete" ] || cache_die "not built yet: run $prog first"
	dest=${2:-}
	install -d "$dest$LIBDIR" "$dest/usr/bin"
	install -m 644 "$out"/lib/libnuma.so.1.* "$dest$LIBDIR/"
	ln -sf "$(basename "$out"/lib/libnuma.so.1.*)" "$dest$LIBDIR/libnuma.so.1"
	sed "s|@LIBDIR@|$LIBDIR|" "$here/xpv-numa-run.in" >"$dest/usr/bin/xpv-numa-run"
	chmod 755 "$dest/usr/bin/xpv-numa-run"
	echo "$prog: installed $dest$LIBDIR/libnuma.so.1 and $dest/usr/bin/xpv-numa-run"
	exit 0
	;;
"") ;;
*) cache_die "usage: $prog [--print-key | --install [DESTDIR]]" ;;
esac

mkdir -p "$top/build"
if [ -f "$out/.complete" ]; then
	echo "$out/lib" >"$top/build/numactl-path"
	echo "$prog: cached build $out (numactl $version + $(ls "$here"/patches/*.patch | wc -l) patches)"
	exit 0
fi

rm -rf "$out"
mkdir -p "$out/build" "$out/lib"
echo "$prog: building numactl $version + xpv patches in $out"
cp -a "$srcdir" "$out/src"
for p in "$here"/patches/*.patch; do
	patch -d "$out/src" -p1 --batch --forward --quiet <"$p" >"$out/patch.log" 2>&1 || {
		cat "$out/patch.log" >&2
		cache_die "$(basename "$p") does not apply to Debian's numactl $version"
	}
done
cache_run_logged "$out/autogen.log" "autogen" sh -c "cd '$out/src' && ./autogen.sh"
cache_run_logged "$out/configure.log" "configure" sh -c \
	"cd '$out/build' && '$out/src/configure' --disable-static CPPFLAGS='-I$top/srl/include'"
cache_run_logged "$out/build.log" "make libnuma.la" make -C "$out/build" -j2 libnuma.la
cp -a "$out"/build/.libs/libnuma.so.1 "$out"/build/.libs/libnuma.so.1.* "$out/lib/"
touch "$out/.complete"
echo "$out/lib" >"$top/build/numactl-path"
echo "$prog: done: $out/lib/libnuma.so.1"

# Keep the cache bounded: drop other numactl builds older than a week.
find "$cache" -maxdepth 1 -name 'numactl-????????????????' -type d -mtime +7 \
	! -path "$out" -exec rm -rf {} + 2>/dev/null || true
