# shellcheck shell=bash
# TAP helpers for the kvm/ test scripts that run inside the 2-node test host
# (homing-testhost.sh, vhost-testhost.sh).  The caller sets `tag` (a prefix
# for every test line, may be empty) and counts with n/failed.
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $tag$*"; }
no() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $tag$*"; }
check() { # check DESC CMD... : ok if CMD succeeds
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else no "$desc"; fi
}
now_ms() { date +%s%3N; }
poll() { # poll DEADLINE_S CMD... : until CMD succeeds or the deadline passes
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1 # polling interval of a deadline loop
	done
}
finish() {
	echo "1..$n"
	[ "$failed" = 0 ]
	exit
}
