#!/usr/bin/env bash
# Builds Debian's own source package of QEMU or libvirt with xpv's patch
# series appended to its debian/patches, with Debian's tooling: the
# operator's way to get the patched QEMU/libvirt as regular Debian packages
# (qemu-system-x86, libvirt-daemon...) instead of the build trees make all
# caches (docs/deploy.md, "Patched QEMU and libvirt as Debian packages").
#
#   qemu:    qemu/patches/*.patch            onto `apt-get source qemu`
#   libvirt: libvirt-hooks/patches/*.patch   onto `apt-get source libvirt`
#
# The patches go to debian/patches/xpv/ and are appended to
# debian/patches/series; the changelog gets a local version (+xpv1, dch
# --local) so that apt prefers the result to Debian's and an upgrade from
# Debian replaces it again.  Then `quilt push -a` proves the whole series
# applies, and dpkg-buildpackage -us -uc -b builds the binary packages with
# DEB_BUILD_OPTIONS=nocheck (the upstream test suites are long; xpv's own
# tests cover the patches).  Needs the deb-src entry of make deps and the
# package's build dependencies (`apt-get build-dep qemu|libvirt`).
#
# Debian's source is the one qemu/build.sh and libvirt-hooks/build.sh
# fetch (`apt-get source`, once, into $XPV_CACHE/src and
# $XPV_CACHE/libvirt-src; fetched here when absent): its .dsc is unpacked
# again with its patches unapplied, so nothing is downloaded twice.
#
# Usage: scripts/deb-source-build.sh qemu|libvirt DIR [--prepare-only]
#   DIR receives the source tree (DIR/src/PKG-VERSION, left with the whole
#   series applied) and, after the build, the .debs.  --prepare-only stops
#   once the series applies (tests/suites/86-deb-source).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prog=deb-source-build.sh
# shellcheck source=build-cache.sh
. "$top/scripts/build-cache.sh"
die() {
	cache_die "$@"
}
pkg=${1:-}
dir=${2:-}
case $pkg in
qemu) series=$top/qemu/patches srccache=$cache/src ;;
libvirt) series=$top/libvirt-hooks/patches srccache=$cache/libvirt-src ;;
*) die "usage: $0 qemu|libvirt DIR [--prepare-only]" ;;
esac
[ -n "$dir" ] || die "usage: $0 qemu|libvirt DIR [--prepare-only]"
command -v dch >/dev/null || die "dch missing: apt-get install devscripts"
command -v quilt >/dev/null || die "quilt missing: apt-get install quilt"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# 1. Debian's source (Debian's patches unapplied by --skip-patches: quilt
#    applies them all, Debian's and xpv's, in one series below).  The cached
#    source is fetched under the package's build lock, as its build script
#    does; a complete one is only read.
if [ ! -d "$dir/src" ]; then
	if [ ! -f "$srccache/.complete" ]; then
		cache_lock "$pkg"
		cache_source "$pkg" "$srccache"
		exec 9>&-
	fi
	dsc=$(ls "$srccache/$pkg"_*.dsc 2>/dev/null | sort -V | tail -1)
	[ -n "$dsc" ] || die "no $pkg .dsc in $srccache"
	rm -rf "$dir/src.tmp"
	mkdir "$dir/src.tmp"
	(cd "$dir/src.tmp" && dpkg-source -x --skip-patches "$dsc" >"$dir/dpkg-source.log" 2>&1) ||
		{ tail -5 "$dir/dpkg-source.log" >&2; die "dpkg-source -x --skip-patches $dsc failed"; }
	mv "$dir/src.tmp" "$dir/src"
fi
tree=$(ls -d "$dir"/src/"$pkg"-*/ | head -1)
tree=${tree%/}
cd "$tree"

# 2. xpv's series after Debian's
if [ ! -d debian/patches/xpv ]; then
	mkdir -p debian/patches/xpv
	for p in "$series"/*.patch; do
		cp "$p" debian/patches/xpv/
		echo "xpv/$(basename "$p")" >>debian/patches/series
	done
	DEBFULLNAME="xpv developers" DEBEMAIL="xpv-devel@example.org" \
		dch --local +xpv --distribution bookworm \
		"Apply xpv's patch series ($(ls "$series"/*.patch | wc -l) patches from $(basename "$(dirname "$series")")/$(basename "$series"))."
fi
# the whole series stays applied, as dpkg-source -x would leave it (a
# second run finds nothing left to push); without fuzz, as dpkg-source
# applies a 3.0 (quilt) series (patch -F 0): a patch that needs fuzz here
# would fail in dpkg-source -x of the result
export QUILT_PATCHES=debian/patches
if [ -n "$(quilt unapplied 2>/dev/null)" ]; then
	quilt push -a -q --fuzz=0 >"$dir/quilt.log" 2>&1 || { tail -20 "$dir/quilt.log" >&2; die "the series does not apply"; }
fi
echo "deb-source-build.sh: $(quilt applied 2>/dev/null | wc -l) patches apply to $(dpkg-parsechangelog -S Source) $(dpkg-parsechangelog -S Version)"
[ "${3:-}" = --prepare-only ] && exit 0

# 3. Debian's build, without the upstream test suite
start=$(date +%s)
DEB_BUILD_OPTIONS="nocheck parallel=2" nice -n 10 dpkg-buildpackage -us -uc -b >"$dir/build.log" 2>&1 ||
	{ tail -30 "$dir/build.log" >&2; die "dpkg-buildpackage failed (log: $dir/build.log)"; }
echo "deb-source-build.sh: built in $(($(date +%s) - start)) s: $(ls "$dir"/src/*.deb | wc -l) packages in $dir/src"
