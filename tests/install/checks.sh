# shellcheck shell=bash
# Helpers of the install checks that run inside a throw-away root
# (tests/install/deb-checks.sh in overlay-root.sh, suite 81;
# tests/install/systemd-checks.sh in the systemd test host, suite 85), and
# checks_tap for the suite that reads their output.  Source it from bash.
#
#   pass WHAT / fail WHAT       print "PASS WHAT" / "FAIL WHAT"
#   check WHAT CMD...           PASS or FAIL (then false) by CMD's exit status
#   logged CMD...               CMD's output as comments when it fails
#   poll DEADLINE_S CMD...      true as soon as CMD is, false after DEADLINE_S
#   deploy_block NAME           run a marked docs/deploy.md block verbatim
#   checks_tap <FILE            PASS/FAIL lines as TAP ("ok N"), other lines
#                               as comments; uses and updates $n and $failed
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
check() { # check WHAT CMD...
	local w=$1
	shift
	if "$@"; then pass "$w"; else fail "$w" && return 1; fi
}
logged() { # logged CMD...: output as comments when it fails
	local out
	out=$("$@" 2>&1) && return 0
	echo "$out" | tail -15 | sed 's/^/#   /'
	return 1
}
# poll DEADLINE_S CMD...: true as soon as CMD is
poll() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
_checks_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# deploy_block NAME: runs the ```sh block of docs/deploy.md that follows
# "<!-- deploy-test: NAME -->", verbatim, in $DEPLOY_DIR (default /mnt,
# where the .debs are), stopping at the first failing command; apt-get
# answers yes (as the operator would).  `systemctl` lines are left out
# (no systemd runs in overlay-root.sh) unless DEPLOY_SYSTEMCTL=run.
deploy_block() {
	local cmds conf
	cmds=$(awk -v m="<!-- deploy-test: $1 -->" '$0 == m { f = 1; next }
		f == 1 && /^```sh$/ { f = 2; next } f == 2 && /^```$/ { exit } f == 2' "$_checks_top/docs/deploy.md")
	[ -n "$cmds" ] || { echo "#   no block $1 in docs/deploy.md"; return 1; }
	[ "${DEPLOY_SYSTEMCTL:-}" = run ] || cmds=$(grep -v '^systemctl ' <<<"$cmds")
	echo "$cmds" | sed "s/^/# deploy.md $1: /"
	conf=$(mktemp /tmp/xpv-apt.XXXXXX)
	printf 'APT::Get::Assume-Yes "true";\n' >"$conf"
	(cd "${DEPLOY_DIR:-/mnt}" && APT_CONFIG=$conf bash -e -c "$cmds")
	local rc=$?
	rm -f "$conf"
	return $rc
}
checks_tap() {
	local l
	while IFS= read -r l; do
		case $l in
		"PASS "*) n=$((n + 1)) && echo "ok $n - ${l#PASS }" ;;
		"FAIL "*) n=$((n + 1)) failed=$((failed + 1)) && echo "not ok $n - ${l#FAIL }" ;;
		"#"*) echo "$l" ;;
		*) echo "#   $l" ;;
		esac
	done
}
