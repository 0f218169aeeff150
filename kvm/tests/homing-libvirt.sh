#!/usr/bin/env bash
# xpvd's homing controller with a real libvirt QEMU domain (TCG; run on this
# machine by tests/suites/47-kvm-homing): the QEMU pid comes from libvirt's
# pid file, the policy from <xpvh:homing> metadata, the home node of memory
# backend ram-node0 from <numatune><memnode>; a bad metadata value is
# reported naming the attribute and fixing it takes effect; a destroyed
# domain is noticed.  Prints TAP; exits 77 (SKIP) without root, libvirtd,
# virsh or QEMU, like tests/suites/42-kvm-libvirt.
set -u
# the configs below use test-only counter sources (synthetic/software)
export XPVD_TEST_MODE=1
here=$(cd "$(dirname "$0")" && pwd)
b=${XPVD_BUILD:-$here/../build}
NS=http://xpv.invalid/xmlns/xpv/homing/1.0
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 77; }
for c in libvirtd virtlogd virsh qemu-system-x86_64; do
	command -v $c >/dev/null || { echo "1..0 # SKIP no $c"; exit 77; }
done
work=$(mktemp -d /tmp/xpv-47l.XXXXXX)
chmod 755 "$work"
name=xpvhoming$$
n=0 failed=0 xpvd_pid='' started_libvirtd='' started_virtlogd=''
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local t=$1; shift; if "$@"; then ok "$t"; else nok "$t"; fi; }
poll() { local end=$(($(date +%s%N) + $1 * 1000000000)); shift
	while ! "$@"; do [ "$(date +%s%N)" -gt "$end" ] && return 1; sleep 0.1; done; }
cleanup() {
	[ -n "$xpvd_pid" ] && kill -TERM "$xpvd_pid" 2>/dev/null && wait "$xpvd_pid" 2>/dev/null
	virsh -q destroy "$name" >/dev/null 2>&1
	virsh -q undefine "$name" >/dev/null 2>&1
	[ -n "$started_libvirtd" ] && kill -TERM "$started_libvirtd" 2>/dev/null
	[ -n "$started_virtlogd" ] && kill -TERM "$started_virtlogd" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if ! virsh -q -c qemu:///system version >/dev/null 2>&1; then
	# the system virtlogd's socket, not its name: other suites may run
	# private virtlogd binaries from a libvirt build tree
	if [ ! -S /run/libvirt/virtlogd-sock ]; then
		virtlogd -d && started_virtlogd=$(cat /run/virtlogd.pid 2>/dev/null)
	fi
	libvirtd -d && started_libvirtd=$(cat /run/libvirtd.pid 2>/dev/null)
	poll 20 virsh -q -c qemu:///system version >/dev/null 2>&1 ||
		{ echo "1..0 # SKIP libvirtd does not answer"; exit 77; }
fi

python3 -c "import sys; sys.stdout.buffer.write(b'\xeb\xfe' + bytes(508) + b'\x55\xaa')" >"$work/boot.img"
cat >"$work/dom.xml" <<EOX
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <metadata>
    <xpvh:homing xmlns:xpvh="$NS" policy="threshold" threshold="lots"/>
  </metadata>
  <numatune><memnode cellid='0' mode='strict' nodeset='0'/></numatune>
  <cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='fd'/></os>
  <devices>
    <disk type='file' device='floppy'><source file='$work/boot.img'/><target dev='fda' bus='fdc'/></disk>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
EOX
if ! virsh -q define "$work/dom.xml" >"$work/virsh.log" 2>&1 || ! virsh -q start "$name" >>"$work/virsh.log" 2>&1; then
	echo "1..0 # SKIP cannot start a TCG domain: $(tr '\n' ' ' <"$work/virsh.log" | cut -c1-200)"
	exit 77
fi
ok "TCG domain $name with <numatune> and a bad threshold in its metadata started"
qpid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null)

cat >"$work/xpvd.json" <<EOC
{ "period_ms": 100, "socket": "$work/ctl.sock", "state_file": "$work/state.json",
  "discovery": { "libvirt": true },
  "kyoto": { "counters": { "source": "software" } },
  "homing": { "policy": "off", "retry_s": 0.5, "scan_interval_s": 0.5 } }
EOC
"$b/xpvd" -c "$work/xpvd.json" 2>"$work/xpvd.log" &
xpvd_pid=$!
st() { # st FIELD [region field]
	"$b/xpvctl" -s "$work/ctl.sock" -j homing status "$name" 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)["result"]["vms"][0]
if len(sys.argv) > 2:
    v = {r["region"]: r for r in v["regions"]}[sys.argv[1]]
    print(v[sys.argv[2]])
else:
    print(v.get(sys.argv[1]))' "$@" 2>/dev/null
}
st_is() { [ "$(st "$1")" = "$2" ]; }
degraded_names() { st degraded | grep -q "threshold: .lots."; }
if poll 30 st_is state monitoring; then
	ok "domain monitored"
else
	nok "domain not monitored within 30 s (state $(st state), $(st degraded))"
	sed 's/^/# xpvd: /' "$work/xpvd.log"
fi
check "pid from /run/libvirt/qemu ($qpid)" test -n "$qpid" -a "$(st pid)" = "$qpid"
check "bad metadata: degraded, naming the attribute ($(st degraded))" degraded_names
check "bad metadata: the config's policy applies ($(st policy), $(st policy_source))" \
	test "$(st policy)/$(st policy_source)" = off/default
check "home from <numatune>: ram-node0 home $(st ram-node0 home) ($(st ram-node0 home_source), $(st ram-node0 policy))" \
	test "$(st ram-node0 home)/$(st ram-node0 home_source)/$(st home_source)" = 0/memdev/numatune
virsh -q metadata "$name" --uri "$NS" --key xpvh \
	--set '<homing policy="threshold" threshold="500M" period="15m"/>' --live >/dev/null
from_meta() { [ "$(st policy)/$(st policy_source)/$(st threshold_bytes)" = "threshold/libvirt/$((500 << 20))" ]; }
check "virsh metadata fixed: policy threshold 500M from libvirt" poll 30 from_meta
check "and no longer degraded" test "$(st degraded)" = None
check "nothing remote on a bound backend" poll 10 st_is remote_bytes 0
au=$("$b/xpvctl" -s "$work/ctl.sock" audit "$name")
echo "$au" | sed 's/^/# /'
# "N warning(s)" is printed whatever the audit found: require the check that
# needs the QEMU process (its threads' vhost placement), and a count that
# matches the warnings listed.
check "audit: the domain's QEMU process was examined (vhost-placement)" grep -q "^[a-z]* *vhost-placement " <<<"$au"
check "audit: the warning count matches the warnings listed" \
	test "$(grep -c '^warn ' <<<"$au")" = "$(sed -n 's/^\([0-9]*\) warning(s)$/\1/p' <<<"$au")"
virsh -q destroy "$name" >/dev/null
gone() { ! "$b/xpvctl" -s "$work/ctl.sock" homing status "$name" >/dev/null 2>&1; }
check "destroyed domain disappears from homing status" poll 15 gone
kill -TERM "$xpvd_pid"
wait "$xpvd_pid"
rc=$?
xpvd_pid=''
check "xpvd exits cleanly (rc $rc)" test $rc = 0
grep homing "$work/xpvd.log" | sed 's/^/# xpvd: /'
echo "1..$n"
[ $failed = 0 ]
