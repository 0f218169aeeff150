#!/usr/bin/env bash
# Builds xpv's Debian packages (debian/, dpkg-buildpackage -us -uc -b) from a
# copy of the files that go into them, runs lintian on them, and keeps both
# in the cache outside the clone: $XPV_CACHE/debs-<key>, where the key hashes
# those files (tracked and untracked-not-ignored: the tree as it is), the
# patched QEMU's and libnuma's cache keys and the toolchain, so that a warm
# make check reuses them.  Never builds QEMU: debian/rules refuses when the
# patched QEMU is not in the cache (make qemu first).
# On success prints the directory holding the .debs, lintian.txt (lintian's
# output) and build.log.
#
# Usage: scripts/build-debs.sh [--print-key]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prog=scripts/build-debs.sh
# shellcheck source=build-cache.sh
. "$top/scripts/build-cache.sh"

# what goes into the packages (tests/, docs/, bench/ and the Nova suites'
# checks in openstack/tests/ do not)
inputs=(VERSION Makefile configure debian scripts include srl kvm guest-driver libvirt-hooks qemu openstack
	':!openstack/tests')
files=$(cd "$top" && git ls-files -co --exclude-standard -- "${inputs[@]}" | LC_ALL=C sort)
key=$( {
	(cd "$top" && tr '\n' '\0' <<<"$files" | xargs -0 sha256sum)
	"$top/qemu/build.sh" --print-key
	"$top/srl/numactl/build.sh" --print-key
	gcc --version | head -1
	dpkg-query -W debhelper dh-dkms dh-python lintian
} | sha256sum | cut -c1-16)
if [ "${1:-}" = --print-key ]; then
	echo "$key"
	exit 0
fi
out=$cache/debs-$key

cache_lock debs
if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
mkdir -p "$top/build"
work=$(mktemp -d "$top/build/debs-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/xpv"
(cd "$top" && tr '\n' '\0' <<<"$files" | tar -c --null -T - -f -) | tar -x -C "$work/xpv"
echo "$prog: building the packages in $work (about 3 minutes)" >&2
if ! (cd "$work/xpv" && nice -n 10 dpkg-buildpackage -us -uc -b -j2) >"$out/build.log" 2>&1 </dev/null; then
	grep -E 'error|No such' "$out/build.log" | head -20 >&2
	cache_die "dpkg-buildpackage failed (log: $out/build.log)"
fi
cp "$work"/*.deb "$work"/*.changes "$out/"
# --fail-on is not used here: the suites read lintian.txt and say what is wrong
nice -n 10 lintian --tag-display-limit 0 -I "$work"/*.changes >"$out/lintian.txt" 2>&1 || true
touch "$out/.complete"
echo "$out"

# Keep the cache bounded: drop package builds older than two days.
find "$cache" -maxdepth 1 -name 'debs-????????????????' -type d -mtime +2 \
	! -path "$out" -exec rm -rf {} + 2>/dev/null || true
