#!/usr/bin/env bash
# What an install/purge cycle in tests/install/overlay-root.sh left behind:
# reads its LISTING (the overlay's upper layer, "TYPE PATH" lines) and prints
# every entry that is neither a record or cache of dpkg, apt, debconf,
# ldconfig or man-db (its index, rebuilt by the package trigger) nor a
# directory that exists on the real root (merely copied up by the overlay).
# Entries matching the extended regex EXPECTED (optional) are not counted
# either: what a test knowingly leaves, such as libvirt's own state in 84.
# Shared by tests/suites/81-deb-packages, 83-deb-nova and 84-deploy-vm.
# Exit status: 0 nothing left (and LISTING not empty: the cycle ran),
# 1 otherwise.
#
# Usage: tests/install/overlay-leftovers.sh LISTING [EXPECTED]
set -u
listing=$1 expected=${2:-'^$'}
[ -s "$listing" ] || { echo "$listing is empty: nothing was installed"; exit 1; }
left=$(grep -v -E '^d ' "$listing" | grep -v -E \
	'^[fw] var/lib/dpkg/|^f var/log/dpkg\.log$|^f var/cache/apt/[a-z]+\.bin$|^f var/lib/apt/extended_states$|^f var/log/apt/[a-z]+\.log(\.xz)?$|^f var/cache/apt/archives/lock$|^f var/cache/debconf/[a-z]+\.dat$|^f etc/ld\.so\.cache$|^f var/cache/ldconfig/aux-cache$|^f var/cache/man/' | grep -v -E "$expected")
newdirs=$(sed -n 's/^d //p' "$listing" | while read -r d; do [ -d "/$d" ] || echo "d $d"; done |
	grep -v -E "$expected")
[ -z "$left$newdirs" ] && exit 0
printf '%s\n' "$left" "$newdirs" | sed '/^$/d'
exit 1
