# shellcheck shell=bash
# Shared by the Nova suites (tests/suites/70-nova-specs, 71-nova-provider):
# TAP helpers, the python3-nova skip, and the lock around the live
# python3-nova tree.  Source it from bash after setting $top.
#
#   nova_require [MODULE]   exit 77 unless /usr/bin/python3 imports MODULE
#   nova_lock               hold the lock of installs into python3-nova's tree
#   ok DESC / nok DESC / check DESC CMD...   numbered TAP lines
#   tap_py CMD...           run a check script printing "ok - " lines, number them
#   tap_end                 exit status: 0 when no check failed

PY=/usr/bin/python3
# shellcheck disable=SC2034 # used by the suites
SITE=/usr/lib/python3/dist-packages
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local t=$1; shift; if "$@"; then ok "$t"; else nok "$t"; fi; }

# Lines "ok - X" / "not ok - X" from a check script become numbered TAP; a
# script that dies (exit status other than 1 after a "not ok") is one failure
# more.
tap_py() {
	local line rc out bad=0
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) nok "${line#not ok - }"; bad=1 ;;
		*) echo "# $line" ;;
		esac
	done <"$out"
	rm -f "$out"
	# exit 1 goes with a "not ok" line; anything else (a traceback) is a
	# failure of its own
	[ "$rc" = "$bad" ] || nok "${2##*/} exited $rc"
	return 0
}

nova_require() {
	local mod=${1:-nova.api.validation.extra_specs.validators} why
	if [ ! -x "$PY" ]; then
		echo "1..0 # SKIP no $PY"
		exit 77
	fi
	if ! why=$(OS_NOVA_DISABLE_EVENTLET_PATCHING=1 "$PY" -c "import $mod" 2>&1); then
		echo "1..0 # SKIP python3-nova is not importable by $PY ($mod): $(echo "$why" | tail -1)"
		exit 77
	fi
}

# Suites that install nova.virt.xpv into /usr/lib/python3/dist-packages take
# this lock for their whole run, so two of them never install, test and
# remove the plugin under each other.
nova_lock() {
	exec 9>/run/lock/xpv-nova-plugin.lock
	if ! flock -w "${1:-600}" 9; then
		echo "Bail out! /run/lock/xpv-nova-plugin.lock held for ${1:-600} s"
		exit 1
	fi
}

tap_end() {
	echo "1..$n"
	[ "$failed" = 0 ]
}
