#!/usr/bin/env bash
# vhost workers and guest page placement, run INSIDE the 2-node test host
# (tests/testhost/run.sh, Debian 12's 6.1 kernel: the worker is a kernel
# thread vhost-<pid>) by tests/suites/49-kvm-vhost-testhost.  Prints TAP;
# exit 77 when the kernel has no vhost_net.
#
# The "VM" is kvm/build/vhost-rx in a plain cgroup: 32 MiB of guest RAM it
# never touches, an RX vring on the real /dev/vhost-net with a tap backend;
# each `fill 256` makes the worker copy frames into 256 fresh pages, and the
# pages are counted per node with move_pages (independently of xpvd).  Its
# own thread runs on CPU 0 (node 0, the VM's home).
#   1. worker pinned (by the test) to CPU 1: the pages land on node 1;
#   2. xpvd (policy off, home node 0) pins the worker to node 0: pages home;
#      the audit names the kthread; status and metrics count it;
#   3. a device reset (new worker): pinned again;
#   4. an outside change of its affinity: adopted, pinned again;
#   5. xpvd exits: the adopted affinity is back;
#   6. vhost_affinity keep, threshold policy: MADV_DONTNEED (a balloon
#      discard) and a refill by the remote worker put the pages on node 1
#      again, a threshold pass brings them home, the worker is left alone.
# Every wait is a poll with a deadline.  XPVD_BUILD=kvm/build/asan runs the
# sanitized xpvd.
set -u
export XPVD_TEST_MODE=1
here=$(cd "$(dirname "$0")" && pwd)
b=${XPVD_BUILD:-$here/../build}
R=$here/../build/vhost-rx
X=$b/xpvctl
d=$(mktemp -d /tmp/xpv-49.XXXXXX)
cg=/sys/fs/cgroup/xpv49vm$$
xpvd_pid='' R_pid=''
tag=${XPVD_TAG:+$XPVD_TAG: }

# shellcheck source=tap.sh
. "$here/tap.sh"
cleanup() {
	[ -n "$xpvd_pid" ] && kill -9 "$xpvd_pid" 2>/dev/null
	[ -n "$R_pid" ] && kill -9 "$R_pid" 2>/dev/null
	wait 2>/dev/null
	[ -d "$cg" ] && rmdir "$cg" 2>/dev/null
	rm -rf "$d"
}
trap cleanup EXIT

# --- vhost-rx: fds 7 (commands) and 8 (replies) ---
rcmd() { # rcmd CMD... ; reply in $reply
	echo "$*" >&7
	read -r -t 150 -u 8 reply
}
fill_nodes() { # fill_nodes N [FIRST]: "NODE0 NODE1 ABSENT" of the filled pages
	rcmd fill "$@" || return 1
	local a=($reply)
	[ "${a[0]}" = filled ] || { echo "$reply"; return 1; }
	echo "${a[3]} ${a[4]} ${a[5]}"
}
count_nodes() { # count_nodes FIRST N
	rcmd count "$@" || return 1
	local a=($reply)
	[ "${a[0]}" = count ] || { echo "$reply"; return 1; }
	echo "${a[1]} ${a[2]} ${a[3]}"
}
# The worker, found here independently of xpvd: a kernel thread (PF_KTHREAD
# in the flags of /proc/PID/stat) of kthreadd named vhost-<pid>.
worker() {
	local p s
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = "vhost-$R_pid" ] || continue
		s=($(sed 's/.*) //' "$p/stat" 2>/dev/null))
		[ "${s[1]:-}" = 2 ] && [ $((${s[6]:-0} & 0x200000)) != 0 ] && echo "${p#/proc/}"
	done
}
allowed() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
allowed_is() { [ "$(allowed "$1")" = "$2" ]; }

# --- xpvd ---
vh() { # vh EXPR: a Python expression over v = vm1's status "vhost" object
	"$X" -s "$d/ctl.sock" -j homing status vm1 2>/dev/null |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["result"]["vms"][0]["vhost"]; print(eval(sys.argv[1]))' "$1" 2>/dev/null
}
vh_is() { [ "$(vh "$1")" = "$2" ]; }
pinned() { vh_is "[(w['tid'],w['kind'],w['pinned']) for w in v['workers']]" "[($1, 'kthread', True)]"; }
metric() { # metric LINE: the metrics endpoint has exactly that line
	curl -s --max-time 5 --unix-socket "$d/metrics.sock" http://x/metrics | grep -qx "$1"
}
start_xpvd() { # start_xpvd VM_JSON
	cat >"$d/xpvd.json" <<EOF2
{
  "period_ms": 100,
  "socket": "$d/ctl.sock",
  "state_file": "$d/state.json",
  "metrics": { "listen": "unix:$d/metrics.sock" },
  "discovery": { "libvirt": false, "cgroups": [ { "name": "vm1", "path": "${cg#/sys/fs/cgroup/}" } ] },
  "kyoto": { "counters": { "source": "software" } },
  "homing": { "scan_interval_s": 0.5, "vms": { "vm1": $1 } }
}
EOF2
	"$b/xpvd" -c "$d/xpvd.json" 2>>"$d/xpvd.log" &
	xpvd_pid=$!
}
stop_xpvd() {
	kill -TERM "$xpvd_pid"
	wait "$xpvd_pid"
	local rc=$?
	xpvd_pid=''
	return $rc
}

for f in "$b/xpvd" "$X" "$R"; do
	[ -x "$f" ] || { no "setup: $f missing (make -C kvm)"; finish; }
done
nodes=$(numactl -H 2>/dev/null | sed -n 's/^available: \([0-9]*\) nodes.*/\1/p')
if [ "${nodes:-0}" -lt 2 ] || [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
	no "setup: need 2 NUMA nodes (have ${nodes:-?}) and cgroup v2"
	finish
fi
if ! modprobe vhost_net 2>"$d/modprobe.err" || [ ! -c /dev/vhost-net ]; then
	echo "SKIP: the test host kernel $(uname -r) has no vhost_net ($(cat "$d/modprobe.err"))"
	exit 77
fi
echo "# kernel $(uname -r), CPU 0 on node $(cat /sys/devices/system/cpu/cpu0/topology/../node*/cpulist 2>/dev/null | head -1)"

# the "VM", started inside its cgroup (so its kthread joins it, as QEMU's does)
mkdir -p "$cg"
mkfifo "$d/in" "$d/out"
sh -c 'echo $$ >"$1/cgroup.procs" && exec taskset -c 0 "$2" -m 32' _ "$cg" "$R" \
	<"$d/in" >"$d/out" 2>"$d/rx.err" &
R_pid=$!
exec 7>"$d/in" 8<"$d/out"
read -r -t 120 -u 8 line || { no "vhost-rx did not start: $(cat "$d/rx.err")"; finish; }
set -- $line
[ "$1" = ready ] || { no "vhost-rx: $line"; finish; }
range=$3-$4
w=$(worker)
if [ -z "$w" ]; then
	no "setup: no kernel thread vhost-$R_pid"
	finish
fi
ok "setup: vhost-rx $R_pid, guest RAM $range, tap $5, worker kthread $w"

# 1. the worker on the remote node writes untouched buffers: pages remote
taskset -p -c 1 "$w" >/dev/null
p=$(fill_nodes 256 0)
echo "# worker on CPU 1 (node 1): pages node0 node1 absent = $p"
check "remote worker: 256 of 256 RX pages on node 1 ($p)" test "$p" = "0 256 0"

# 2. xpvd homes the worker: new pages land home
start_xpvd '{ "policy": "off", "home": { "'"$range"'": 0 } }'
if poll 60 pinned "$w"; then
	ok "xpvd: kthread worker $w found and pinned"
else
	no "xpvd: worker $w not pinned within 60 s ($(vh v))"
	sed 's/^/# xpvd: /' "$d/xpvd.log"
	finish
fi
check "xpvd: worker $w allowed on CPU 0 only (node 0) ($(allowed "$w"))" allowed_is "$w" 0
p=$(fill_nodes 256 256)
echo "# worker homed by xpvd: pages node0 node1 absent = $p"
check "homed worker: 256 of 256 RX pages on node 0 ($p)" test "$p" = "256 0 0"
au=$("$X" -s "$d/ctl.sock" audit vm1)
echo "$au" | grep vhost | sed 's/^/# /'
check "audit: finds the kthread worker" \
	grep -q "^ok .*vhost-placement .*vhost worker $w (kthread vhost-$R_pid) runs on nodes 0x1 " <<<"$au"
check "audit: no 'no vhost worker' finding" test -z "$(grep 'no vhost worker' <<<"$au")"
check "status: 1 pin, 0 re-pins" vh_is "(v['pins'], v['repins'])" "(1, 0)"
check "metrics: 1 pin" metric 'xpvd_homing_vhost_pins_total{vm="vm1"} 1'
check "metrics: the worker counted on node 0" \
	poll 10 metric 'xpvd_homing_vhost_workers{vm="vm1",node="0"} 1'

# 3. a device reset: a new worker, pinned again
rcmd reset
w2=$(worker)
check "reset: a new worker kthread ($w -> $w2)" test -n "$w2" -a "$w2" != "$w"
if poll 30 pinned "$w2"; then ok "reset: new worker $w2 pinned"; else no "reset: $w2 not pinned ($(vh v))"; fi
check "reset: $w2 on CPU 0 ($(allowed "$w2"))" allowed_is "$w2" 0
check "status: 2 pins" vh_is "v['pins']" 2
p=$(fill_nodes 256 512)
check "reset: 256 of 256 RX pages on node 0 ($p)" test "$p" = "256 0 0"

# 4. an outside change: adopted as the original, pinned again
taskset -p -c 1 "$w2" >/dev/null
if poll 30 vh_is "(v['repins'], v['adopted'])" "(1, 1)"; then
	ok "outside change: adopted and re-pinned"
else
	no "outside change: $(vh v)"
fi
check "outside change: $w2 back on CPU 0 ($(allowed "$w2"))" poll 10 allowed_is "$w2" 0

# 5. xpvd exits: what it changed is put back (the adopted value)
stop_xpvd
rc=$?
check "SIGTERM: xpvd exits 0 (got $rc)" test "$rc" = 0
check "SIGTERM: worker $w2 back on CPU 1, the adopted original ($(allowed "$w2"))" \
	allowed_is "$w2" 1

# 6. DONTNEED re-arms the first touch (no xpvd running: the kernel's doing);
#    then a threshold pass repairs, and vhost_affinity keep leaves the worker
rcmd dontneed 512 256
check "dontneed: the 256 pages discarded ($(count_nodes 512 256))" \
	test "$(count_nodes 512 256)" = "0 0 256"
p=$(fill_nodes 256 512)
echo "# after DONTNEED, refilled by the worker on node 1: pages node0 node1 absent = $p"
check "dontneed: the refill by the remote worker lands on node 1 ($p)" test "$p" = "0 256 0"
start_xpvd '{ "policy": "threshold", "threshold_bytes": "1M", "min_gap_s": 0,
	"vhost_affinity": "keep", "home": { "'"$range"'": 0 } }'
home_again() { [ "$(count_nodes 0 768)" = "768 0 0" ]; }
t0=$(now_ms)
if poll 120 home_again; then
	ok "threshold: 768 of 768 pages home after $(($(now_ms) - t0)) ms (TCG)"
else
	no "threshold: pages node0 node1 absent = $(count_nodes 0 768)"
fi
if poll 20 vh_is "[(w['tid'],w['pinned']) for w in v['workers']], v['pins']" "([($w2, False)], 0)"; then
	ok "keep: status lists the worker, not pinned"
else
	no "keep: status: $(vh v)"
fi
check "keep: the worker is left on CPU 1 ($(allowed "$w2"))" allowed_is "$w2" 1
stop_xpvd
rc=$?
check "keep: xpvd exits 0 ($rc), the worker still on CPU 1" test "$rc/$(allowed "$w2")" = 0/1
grep -v '^$' "$d/xpvd.log" | sed 's/^/# xpvd: /'
finish
