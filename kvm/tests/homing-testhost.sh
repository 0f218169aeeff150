#!/usr/bin/env bash
# xpvd's homing controller, run INSIDE the 2-node test host
# (tests/testhost/run.sh) by tests/suites/47-kvm-homing.  Prints TAP.
#
# The "VM" is a plain cgroup (discovery.cgroups) holding memhome-victim: 64
# MiB of "guest RAM" first-touched on node 0, whose pages it re-faults from
# node 1 on command.  It also counts its own pages per node (move_pages),
# independently of xpvd.  A real xpvd runs the threshold policy (12 MiB,
# rate-limited so a pass lasts seconds); everything is read back through
# `xpvctl homing status`, the metrics socket and the time series log.
# Every wait is a poll with a deadline, never a bare sleep.
# XPVD_BUILD=kvm/build/asan runs the sanitized xpvd (a sanitizer report makes
# its exit status non-zero, which the SIGTERM check sees); XPVD_TAG prefixes
# the test names.
set -u
# the configs below use test-only counter sources (synthetic/software)
export XPVD_TEST_MODE=1
here=$(cd "$(dirname "$0")" && pwd)
b=${XPVD_BUILD:-$here/../build}
V=${MEMHOME_VICTIM:-$here/../memhome/build/tests/memhome-victim}
X=$b/xpvctl
d=$(mktemp -d /tmp/xpv-47.XXXXXX)
MiB=1048576
cg=/sys/fs/cgroup/xpv47vm
xpvd_pid='' A_pid=''

tag=${XPVD_TAG:+$XPVD_TAG: }
# shellcheck source=tap.sh
. "$here/tap.sh"
cleanup() {
	[ -n "$xpvd_pid" ] && kill -9 "$xpvd_pid" 2>/dev/null
	[ -n "$A_pid" ] && kill -9 "$A_pid" 2>/dev/null
	wait 2>/dev/null
	[ -d "$cg" ] && rmdir "$cg" 2>/dev/null
	rm -rf "$d"
}
trap cleanup EXIT

# --- the victim: fds 7 (commands) and 8 (replies) ---
vread() { read -r -t 120 -u 8 "$1"; }
vcmd() { # vcmd CMD... ; reply in $reply
	echo "$*" >&7
	vread reply
}
vnode() { # vnode NODE: the victim's pages on NODE, by its own count
	vcmd count || return 1
	local a=($reply)
	[ "${a[0]}" = count ] || return 1
	echo "${a[$(($1 + 1))]:-0}"
}

# --- xpvd ---
st() { # st FIELD: a field of vm1 in `xpvctl homing status vm1`
	"$X" -s "$d/ctl.sock" -j homing status vm1 2>/dev/null |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["result"]["vms"][0]; f=v.get(sys.argv[1]); print(json.dumps(f) if isinstance(f,(dict,list)) else f)' "$1" 2>/dev/null
}
st_is() { [ "$(st "$1")" = "$2" ]; }
samples() { grep -c '"event":"sample"' "$d/homing.jsonl" 2>/dev/null || echo 0; }
more_samples() { [ "$(samples)" -ge "$1" ]; }
victim_home() { [ "$(vnode 1)" = 0 ]; }

nodes=$(numactl -H 2>/dev/null | sed -n 's/^available: \([0-9]*\) nodes.*/\1/p')
for f in "$b/xpvd" "$X" "$V"; do
	[ -x "$f" ] || { no "setup: $f missing (make -C kvm)"; finish; }
done
if [ "${nodes:-0}" -lt 2 ] || [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
	no "setup: need 2 NUMA nodes (have ${nodes:-?}) and cgroup v2"
	finish
fi

# 1. the victim, in the cgroup that the config names as VM "vm1"
mkfifo "$d/in" "$d/out"
"$V" 64 0 <"$d/in" >"$d/out" 2>"$d/victim.err" &
A_pid=$!
exec 7>"$d/in" 8<"$d/out"
vread line || { no "victim did not start: $(cat "$d/victim.err")"; finish; }
set -- $line
[ "$1" = ready ] || { no "victim: unexpected '$line'"; finish; }
range=0x$2-0x$3
mkdir -p "$cg"
echo "$A_pid" >"$cg/cgroup.procs"
check "victim: 64 MiB on node 0 by its own count" test "$(vnode 0)" = 16384

cat >"$d/xpvd.json" <<EOF
{
  "period_ms": 100,
  "socket": "$d/ctl.sock",
  "state_file": "$d/state.json",
  "metrics": { "listen": "unix:$d/metrics.sock" },
  "discovery": { "libvirt": false, "cgroups": [ { "name": "vm1", "path": "xpv47vm" } ] },
  "kyoto": { "counters": { "source": "software" } },
  "homing": {
    "log": "$d/homing.jsonl",
    "scan_interval_s": 0.5,
    "vms": {
      "vm1": { "policy": "threshold", "threshold_bytes": "12M", "min_gap_s": 0,
               "rate_bytes_per_s": "2M", "home": { "$range": 0 } }
    }
  }
}
EOF
# a bad key stops startup, naming it
sed 's/"min_gap_s"/"min_gap"/' "$d/xpvd.json" >"$d/bad.json"
out=$("$b/xpvd" -t -c "$d/bad.json" 2>&1)
check "config: unknown key stops startup naming it ($out)" \
	grep -q 'homing.vms.vm1.min_gap: unknown key' <<<"$out"
"$b/xpvd" -c "$d/xpvd.json" 2>"$d/xpvd.log" &
xpvd_pid=$!
if ! poll 60 st_is state monitoring; then
	no "xpvd: vm1 not monitored within 60 s"
	sed 's/^/# xpvd: /' "$d/xpvd.log"
	finish
fi
ok "xpvd: vm1 found in its cgroup, pid $(st pid), policy $(st policy)"
check "status: pid is the victim's" test "$(st pid)" = "$A_pid"
poll 20 st_is resident_bytes $((64 * MiB))
check "status: 64 MiB resident, nothing remote" \
	test "$(st resident_bytes)/$(st remote_bytes)" = "$((64 * MiB))/0"

# 2. below the threshold: reported, not moved
vcmd displace 0 8 1
check "victim: 8 MiB displaced to node 1 (own count)" test "$(vnode 1)" = 2048
if poll 30 st_is remote_bytes $((8 * MiB)); then
	ok "status: 8 MiB remote reported"
else
	no "status: remote_bytes is $(st remote_bytes), not 8 MiB"
fi
s0=$(samples)
poll 30 more_samples $((s0 + 3))
check "threshold: 3 more measurements ($(samples) samples), still no pass" \
	test "$(st passes)/$(st remote_bytes)" = "0/$((8 * MiB))"
check "threshold: 8 MiB still on node 1 (own count)" test "$(vnode 1)" = 2048
"$X" -s "$d/ctl.sock" homing status | sed 's/^/# /'

# 3. above the threshold: repaired, at 2 MiB/s
vcmd displace 32 8 1
t0=$(now_ms)
if poll 30 st_is state repatriating; then
	ok "threshold: 16 MiB > 12M, a pass runs"
else
	no "threshold: no pass within 30 s (state $(st state), remote $(st remote_bytes))"
fi
if poll 90 victim_home; then
	ok "threshold: all pages back on node 0 (own count) after $(($(now_ms) - t0)) ms"
else
	no "threshold: $(vnode 1) pages still on node 1"
fi
poll 30 st_is remote_bytes 0
check "status: after the pass 0 remote, 16 MiB moved, 1 pass" \
	test "$(st remote_bytes)/$(st moved_bytes)/$(st passes)" = "0/$((16 * MiB))/1"
check "status: 4096 pages moved, last pass reported" \
	test "$(st moved_pages)" = 4096 -a "$(st last_pass_s)" != None
check "status: region home 0, bytes per node" \
	python3 -c 'import json,sys; r=json.loads(sys.argv[1])[0]; sys.exit(0 if r["home"]==0 and r["bytes_per_node"]["0"]==64<<20 else 1)' "$(st regions)"
"$X" -s "$d/ctl.sock" homing status | sed 's/^/# /'
txt=$("$X" -s "$d/ctl.sock" homing status vm1)
check "xpvctl homing status: a table with vm1 and its region" \
	grep -q "^vm1 .*threshold.*64.0MiB" <<<"$txt"

# 4. metrics, log, audit
m=$(curl -s --max-time 5 --unix-socket "$d/metrics.sock" http://x/metrics)
check "metrics: moved bytes of vm1" grep -q "^xpv_memhome_moved_bytes_total{vm=\"vm1\"} $((16 * MiB))\$" <<<"$m"
check "metrics: region bytes on node 0" \
	grep -q "^xpv_memhome_region_bytes{vm=\"vm1\",region=\"range@0x$2\",node=\"0\"} $((64 * MiB))\$" <<<"$m"
check "metrics: one HELP per family" test "$(grep -c '^# HELP xpv_memhome_remote_bytes ' <<<"$m")" = 1
check "log: every line is JSON, with a pass-start and a pass-end of vm1" \
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = {e["event"] for e in ev if e["vm"] == "vm1"}
sys.exit(0 if {"sample", "pass-start", "pass-end"} <= kinds else 1)' "$d/homing.jsonl"
au=$("$X" -s "$d/ctl.sock" audit vm1)
echo "$au" | sed 's/^/# /'
check "audit: findings for vm1 (unbound RAM is warned about)" grep -q 'warn.*ram-unbound' <<<"$au"

# 5. the process exits in the middle of a pass (as at the end of a migration)
vcmd displace 0 16 1
if poll 30 st_is state repatriating; then
	kill -9 "$A_pid"
	wait "$A_pid" 2>/dev/null
	t1=$(now_ms)
	if poll 20 st_is state exited; then
		ok "exit mid-pass: vm1 exited after $(($(now_ms) - t1)) ms"
	else
		no "exit mid-pass: state $(st state)"
	fi
else
	no "exit mid-pass: no pass started (state $(st state))"
	kill -9 "$A_pid"
	wait "$A_pid" 2>/dev/null
fi
A_pid=''
xpvd_ping() { "$X" -s "$d/ctl.sock" ping >/dev/null; }
check "exit mid-pass: xpvd still answers" xpvd_ping
check "exit mid-pass: logged" grep -q "vm vm1: process .* exited" "$d/xpvd.log"
rmdir "$cg"
gone() { ! "$X" -s "$d/ctl.sock" homing status vm1 >/dev/null 2>&1; }
check "vm1 dropped once its cgroup is gone" poll 20 gone

# 6. SIGTERM: a clean exit
kill -TERM "$xpvd_pid"
wait "$xpvd_pid"
rc=$?
xpvd_pid=''
check "SIGTERM: xpvd exits 0 (got $rc)" test "$rc" = 0
check "SIGTERM: socket removed" test ! -e "$d/ctl.sock"
grep -v '^$' "$d/xpvd.log" | sed 's/^/# xpvd: /'
finish
