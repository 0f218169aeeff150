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
# Usage: scripts/deb-source-build.sh qemu|libvirt DIR [--prepare-only]
#   DIR receives the source tree and, after the build, the .debs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "deb-source-build.sh: $*" >&2
	exit 1
}
pkg=${1:-}
dir=${2:-}
case $pkg in
qemu) series=$top/qemu/patches ;;
libvirt) series=$top/libvirt-hooks/patches ;;
*) die "usage: $0 qemu|libvirt DIR [--prepare-only]" ;;
esac
[ -n "$dir" ] || die "usage: $0 qemu|libvirt DIR [--prepare-only]"
command -v dch >/dev/null || die "dch missing: apt-get install devscripts"
command -v quilt >/dev/null || die "quilt missing: apt-get install quilt"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# 1. Debian's source (Debian's patches unapplied by --skip-patch: quilt
#    applies them all, Debian's and xpv's, in one series below)
if [ ! -d "$dir/src" ]; then
	rm -rf "$dir/src.tmp"
	mkdir "$dir/src.tmp"
	(cd "$dir/src.tmp" && apt-get source -q --download-only --only-source "$pkg" >/dev/null) ||
		die "apt-get source $pkg failed (make deps adds the deb-src entry)"
	(cd "$dir/src.tmp" && dpkg-source -x --skip-patches "$pkg"_*.dsc >/dev/null) ||
		die "dpkg-source -x failed"
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
export QUILT_PATCHES=debian/patches
quilt push -a -q >"$dir/quilt.log" 2>&1 || { tail -20 "$dir/quilt.log" >&2; die "the series does not apply"; }
quilt pop -a -q >/dev/null
echo "deb-source-build.sh: $(grep -c . debian/patches/series) patches apply to $(dpkg-parsechangelog -S Source) $(dpkg-parsechangelog -S Version)"
[ "${3:-}" = --prepare-only ] && exit 0

# 3. Debian's build, without the upstream test suite
start=$(date +%s)
DEB_BUILD_OPTIONS="nocheck parallel=2" nice -n 10 dpkg-buildpackage -us -uc -b >"$dir/build.log" 2>&1 ||
	{ tail -30 "$dir/build.log" >&2; die "dpkg-buildpackage failed (log: $dir/build.log)"; }
echo "deb-source-build.sh: built in $(($(date +%s) - start)) s: $(ls "$dir"/src/*.deb | wc -l) packages in $dir/src"
