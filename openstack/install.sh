#!/bin/sh
# Install or remove xpv's Nova plugin (the Python package nova.virt.xpv) beside
# Debian's python3-nova.
#
#   openstack/install.sh install      copy the package, write its dist-info
#   openstack/install.sh uninstall    remove exactly the files its RECORD lists
#   openstack/install.sh files        print the installed paths (for packaging)
#
# Environment: DESTDIR (staging root for packaging, default none), SITEDIR
# (default /usr/lib/python3/dist-packages), PYTHON (default /usr/bin/python3),
# XPV_NOVA_INSTALLER (what the dist-info's INSTALLER file names, default
# xpv-install.sh; test suites name themselves so that they can tell their own
# leftovers from an operator's install).
#
# Why not pip: `nova` is a regular package, not a namespace package, so the
# plugin must live inside python3-nova's own directory tree
# (nova/virt/xpv/, as nova-lxd did), and Debian's Python is externally managed
# (PEP 668).  So this script copies the package and writes the
# xpv_nova-VERSION.dist-info that pip would have written (METADATA,
# entry_points.txt, INSTALLER, RECORD): importlib.metadata, and stevedore on
# top of it, find the `nova.api.extra_spec_validators` entry point there.
# RECORD lists every file installed; uninstall removes those (and the bytecode
# Python wrote beside them), and never a file outside nova/virt/xpv/ or the
# dist-info, so python3-nova's own files are untouched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$here/nova/virt/xpv
DESTDIR=${DESTDIR:-}
SITEDIR=${SITEDIR:-/usr/lib/python3/dist-packages}
PYTHON=${PYTHON:-/usr/bin/python3}
version=$(cat "$here/../VERSION") # xpv's one version (the top-level VERSION)
distinfo=xpv_nova-$version.dist-info
site=$DESTDIR$SITEDIR

die() {
	echo "install.sh: $*" >&2
	exit 1
}

case $version in
'' | *[!0-9.]* | .* | *.) die "${here%/*}/VERSION: '$version' is not a version like 1.2.3" ;;
esac
case $SITEDIR in
/*) ;;
*) die "SITEDIR must be an absolute path, not '$SITEDIR'" ;;
esac

# The plugin's source files, relative to $src: every .py module except tests.
sources() {
	(cd "$src" && find . -name tests -prune -o -name '*.py' -type f -print) |
		sed 's|^\./||' | LC_ALL=C sort
}

# Every dist-info of ours under $site (normally none or one).
installed_distinfo() {
	for d in "$site"/xpv_nova-*.dist-info; do
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

# A file in the live system (no DESTDIR) that dpkg owns belongs to a Debian
# package (xpv-nova): leave it to dpkg.
owned_by_dpkg() {
	[ -z "$DESTDIR" ] && command -v dpkg-query >/dev/null &&
		dpkg-query -S "$1" >/dev/null 2>&1
}

do_uninstall() {
	for d in $(installed_distinfo); do
		record=$d/RECORD
		[ -f "$record" ] || die "$d has no RECORD: remove it by hand"
		owned_by_dpkg "$record" && die "$d belongs to a Debian package: use apt-get remove"
		rec=$(cat "$record")
		# Check every line before removing anything: a RECORD naming a
		# file outside our two directories is refused whole.
		printf '%s\n' "$rec" | while IFS=, read -r path _; do
			case $path in
			*..* | /*) die "$record: refusing path '$path'" ;;
			nova/virt/xpv/* | "${d##*/}"/*) ;;
			*) die "$record: '$path' is outside nova/virt/xpv/ and ${d##*/}/" ;;
			esac
		done || exit 1
		printf '%s\n' "$rec" | while IFS=, read -r path _; do
			rm -f "$site/$path"
			case $path in
			*.py)
				# the bytecode Python wrote when the module was imported
				base=${path##*/}
				dir=${path%/*}
				rm -f "$site/$dir/__pycache__/${base%.py}".*.pyc
				rmdir "$site/$dir/__pycache__" 2>/dev/null || true
				;;
			esac
		done
		# the directories, deepest first, if they are empty now
		printf '%s\n' "$rec" | sed -n 's|^\(nova/virt/xpv/.*\)/[^/]*,.*|\1|p' | sort -ru |
			while read -r dir; do rmdir "$site/$dir" 2>/dev/null || true; done
		if [ -d "$site/nova/virt/xpv" ] && ! rmdir "$site/nova/virt/xpv" 2>/dev/null; then
			echo "install.sh: $site/nova/virt/xpv: left in place (files not installed by us)" >&2
		fi
		rmdir "$d" || die "$d: not empty after removing its RECORD"
		ver=${d##*/xpv_nova-}
		echo "removed xpv-nova ${ver%.dist-info} from $site"
	done
}

# sha256=<urlsafe base64, no padding>,size: the RECORD line format (PEP 376,
# the wheel spec)
record_line() {
	"$PYTHON" - "$site" "$1" <<'PY'
import base64, hashlib, os, sys
site, rel = sys.argv[1], sys.argv[2]
with open(os.path.join(site, rel), 'rb') as f:
    data = f.read()
digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=')
print('%s,sha256=%s,%d' % (rel, digest.decode(), len(data)))
PY
}

undo_partial() {
	for rel in $rels; do rm -f "$site/$rel"; done
	rm -rf "$di"
	find "$site/nova/virt/xpv" -depth -type d -empty -delete 2>/dev/null
	echo "install.sh: install failed; removed what it had written" >&2
}

do_install() {
	[ -f "$src/__init__.py" ] || die "$src/__init__.py missing"
	[ -f "$src/extra_specs.py" ] || die "$src/extra_specs.py missing"
	if [ -z "$DESTDIR" ] && [ ! -f "$SITEDIR/nova/virt/__init__.py" ]; then
		die "$SITEDIR/nova/virt is not there: install python3-nova first"
	fi
	if [ -e "$site/nova/virt/xpv" ] && [ -z "$(installed_distinfo)" ]; then
		die "$site/nova/virt/xpv exists and was not installed by this script"
	fi
	do_uninstall # an upgrade replaces the previous version whole
	di=$site/$distinfo
	rels=
	# a failure half-way takes back what was written, so that the next
	# install is not refused over a directory without a RECORD
	trap undo_partial EXIT
	mkdir -p "$di"
	for f in $(sources); do
		install -D -m 0644 "$src/$f" "$site/nova/virt/xpv/$f"
		rels="$rels nova/virt/xpv/$f"
	done
	cat >"$di/METADATA" <<EOM
Metadata-Version: 2.1
Name: xpv-nova
Version: $version
Summary: xpv for OpenStack Nova: xpv: flavor extra-spec validators, the XpvLibvirtDriver compute driver, provider config
License: Apache-2.0
Requires-Dist: nova
EOM
	cat >"$di/entry_points.txt" <<EOM
[nova.api.extra_spec_validators]
xpv = nova.virt.xpv.extra_specs
EOM
	echo "${XPV_NOVA_INSTALLER:-xpv-install.sh}" >"$di/INSTALLER"
	chmod 0644 "$di/METADATA" "$di/entry_points.txt" "$di/INSTALLER"
	{
		for rel in $rels $distinfo/METADATA $distinfo/entry_points.txt $distinfo/INSTALLER; do
			record_line "$rel"
		done
		echo "$distinfo/RECORD,,"
	} >"$di/RECORD.tmp"
	mv "$di/RECORD.tmp" "$di/RECORD"
	chmod 0644 "$di/RECORD"
	trap - EXIT
	echo "installed xpv-nova $version into $site"
}

case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
files)
	for f in $(sources); do echo "$SITEDIR/nova/virt/xpv/$f"; done
	for f in METADATA entry_points.txt INSTALLER RECORD; do echo "$SITEDIR/$distinfo/$f"; done
	;;
*)
	echo "usage: $0 install|uninstall|files  (env DESTDIR, SITEDIR, PYTHON)" >&2
	exit 2
	;;
esac
