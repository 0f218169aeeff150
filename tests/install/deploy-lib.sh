# shellcheck shell=bash
# Shared by the install suites that follow docs/deploy.md in a throw-away
# root (tests/install/overlay-root.sh): 81-deb-packages
# (tests/install/deb-checks.sh), 82-dkms (dkms-build.sh, dkms-upgrade.sh)
# and 84-deploy-vm (deploy-vm-checks.sh); and by 85-systemd-testhost
# (systemd-checks.sh, in the test host booted with systemd).
#
# Inside the root (sourced by the check scripts):
#   pass/fail WHAT, skip WHAT: one result line ("PASS ...", "FAIL ...",
#   "SKIP ..."); check WHAT CMD...; logged CMD... (output as comments when
#   it fails); poll DEADLINE_S CMD...;
#   deploy_text NAME: the fenced block of docs/deploy.md that follows
#   "<!-- deploy-test: NAME -->" (any language: sh, xml...);
#   deploy_block NAME [DIR]: runs that ```sh block verbatim in DIR
#   (default $DEPLOY_DIR, else /mnt, where the .debs are), stopping at the
#   first failing command; apt-get answers yes (as the operator would);
#   `systemctl` lines are left out, as no systemd runs in overlay-root.sh
#   (each suite starts what the unit would start, as the unit would),
#   unless DEPLOY_SYSTEMCTL=run (the systemd test host).
# Outside (sourced by the suite, ok/notok/$n/$failed as in the suites):
#   overlay_tap FILE: the result lines of FILE as TAP;

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
skip() { echo "SKIP $*"; }
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
		sleep 0.1 # polling interval of a deadline loop
	done
}

_deploy_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy_text() {
	awk -v m="<!-- deploy-test: $1 -->" '$0 == m { f = 1; next }
		f == 1 && /^```[a-z]+$/ { f = 2; next } f == 2 && /^```$/ { exit } f == 2' "$_deploy_top/docs/deploy.md"
}

deploy_block() {
	local cmds
	cmds=$(deploy_text "$1")
	[ -n "$cmds" ] || { echo "#   no block $1 in docs/deploy.md"; return 1; }
	[ "${DEPLOY_SYSTEMCTL:-}" = run ] || cmds=$(grep -v '^systemctl ' <<<"$cmds")
	echo "$cmds" | sed "s/^/# deploy.md $1: /"
	[ -e /tmp/apt.conf ] || printf 'APT::Get::Assume-Yes "true";\n' >/tmp/apt.conf
	(cd "${2:-${DEPLOY_DIR:-/mnt}}" && APT_CONFIG=/tmp/apt.conf bash -e -c "$cmds")
}

overlay_tap() {
	local l
	while IFS= read -r l; do
		case $l in
		"PASS "*) ok "${l#PASS }" ;;
		"FAIL "*) notok "${l#FAIL }" ;;
		"SKIP "*) ok "${l#SKIP } # SKIP" ;;
		"#"*) echo "$l" ;;
		*) echo "#   $l" ;;
		esac
	done <"$1"
}

