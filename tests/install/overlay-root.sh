#!/usr/bin/env bash
# Runs a command as root in a throw-away copy of this machine's root: an
# overlay of / (read-only below, changes into a tmpfs), in mount and network
# namespaces of its own, with fresh /run and /tmp, the host's /proc, /sys
# and /dev, DIR bound read-only at /mnt and the source tree read-only at its
# own path.  The Debian 12 of this machine,
# with every dependency xpv's packages need already installed, is the
# chroot: nothing is downloaded and nothing reaches the real root.  Kernel
# module trees are hidden (an empty /lib/modules): DKMS in a package's
# postinst then builds nothing (tests/suites/82-dkms builds the modules).
# Environment: XPV_OVERLAY_MODULES=keep leaves /lib/modules visible (and
# writable in the overlay); XPV_OVERLAY_OUT=DIR binds DIR writable at /srv;
# XPV_OVERLAY_CPU_CGROUP=NAME (cgroup v1) gives the root a cpu hierarchy of
# its own: the host's /sys/fs/cgroup/cpu/NAME, created here, bound over
# /sys/fs/cgroup/cpu, and removed afterwards with what was created in it
# (empty groups: a test's processes are gone by then).  Whatever scans
# that hierarchy in the root (xpvd) sees only what the root put there.
# Afterwards LISTING holds what changed, one "TYPE PATH" line per entry of
# the overlay's upper layer (f file, l link, d directory, w deleted, i.e. a
# whiteout), the test's own /run and /tmp excepted.
# The overlay is mounted on LISTING's directory/overlay (left empty).
#
# Usage: unshare --mount --net --fork --propagation private \
#            tests/install/overlay-root.sh DIR LISTING CMD [ARG]...
set -euo pipefail
dir=$1 listing=$2
shift 2
t=$(dirname "$listing")/overlay
mkdir "$t"
mount -t tmpfs -o mode=0755 xpv-overlay "$t"
mkdir "$t/upper" "$t/work" "$t/root"
mount -t overlay xpv-root -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
r=$t/root
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"
mount --rbind /dev "$r/dev"
mount -t tmpfs -o mode=0755 run "$r/run"
mount -t tmpfs -o mode=1777 tmp "$r/tmp"
[ "${XPV_OVERLAY_MODULES:-}" = keep ] || mount -t tmpfs -o mode=0755 modules "$r/lib/modules"
mount --bind -o ro "$dir" "$r/mnt"
# the source tree at its own path: the scripts run in the root come from it,
# and a clone under /tmp or /run would be hidden by the fresh ones
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$r$top"
mount --bind -o ro "$top" "$r$top"
[ -z "${XPV_OVERLAY_OUT:-}" ] || mount --bind "$XPV_OVERLAY_OUT" "$r/srv"
cg=
if [ -n "${XPV_OVERLAY_CPU_CGROUP:-}" ]; then
	cg=/sys/fs/cgroup/cpu/$XPV_OVERLAY_CPU_CGROUP
	[ -e /sys/fs/cgroup/cpu/cgroup.procs ] || { echo "no cgroup v1 cpu hierarchy" >&2; exit 1; }
	mkdir "$cg"
	mount --bind "$cg" "$r/sys/fs/cgroup/cpu"
fi
ip link set lo up
rc=0
chroot "$r" "$@" || rc=$?
(cd "$t/upper" && find . -mindepth 1 \( -type c -printf 'w %P\n' \) -o \( -type d -printf 'd %P\n' \) \
	-o \( -type l -printf 'l %P\n' \) -o -printf 'f %P\n') | LC_ALL=C sort >"$listing"
# depth first: a group can go only once its children have
[ -z "$cg" ] || find "$cg" -depth -type d -exec rmdir {} + || rc=1
exit "$rc"
