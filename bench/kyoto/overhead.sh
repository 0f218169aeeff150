#!/usr/bin/env bash
# Kyoto monitoring overhead, per-thread counters against per-cgroup per-CPU
# counters, side by side in the SAME run: two xpvd (kyoto.counters.mode
# "thread" and "cgroup") watch the same N threads in G cgroups at a 100 ms
# period.  For each: xpvd's own CPU time (sum of /proc/PID/task/*/schedstat,
# ns), the periods it ran, and the events it charged (charged_events_total
# of xpvctl status), next to what the workload really did (minor faults of
# its processes, /proc/PID/stat).  A cheaper method must not charge less.
#
#   bench/kyoto/overhead.sh [-n THREADS] [-g GROUPS] [-t SECONDS] [-s software|perf]
#
# -s software (the default here: no PMU) counts page faults as the "LLC
# misses" and task-clock as the time base; the workload (kvm/build/faulter)
# makes each thread fault in 1 fresh page every 100 ms (a small load, so
# that the 2-CPU machine is not saturated by the workload itself).
# Needs root, cgroup v2 or v1 (on a hybrid v1 host the groups are also made
# in the unified hierarchy, where perf_event is), make -C kvm.
set -u
# software counters are a test-only source (issue 9 item 6: XPVD_TEST_MODE)
export XPVD_TEST_MODE=1
top=$(cd "$(dirname "$0")/../.." && pwd)
b=$top/kvm/build
nthreads=100 ngroups=4 secs=20 src=software
while getopts n:g:t:s: o; do
	case $o in n) nthreads=$OPTARG ;; g) ngroups=$OPTARG ;; t) secs=$OPTARG ;; s) src=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for p in xpvd xpvctl faulter; do [ -x "$b/$p" ] || { echo "$b/$p missing (make -C kvm)" >&2; exit 1; }; done
work=$(mktemp -d /tmp/xpv-ovh.XXXXXX)
uni=
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	mnt=/sys/fs/cgroup
else
	mnt=/sys/fs/cgroup/cpu
	[ -f /sys/fs/cgroup/unified/cgroup.procs ] && uni=/sys/fs/cgroup/unified
fi
base=xpvovh-$$
pids=() xpvd_pids=()
cleanup() {
	for p in "${xpvd_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for m in $mnt $uni; do rmdir "$m/$base"/* "$m/$base" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
poll() { local end=$(($(date +%s%N) + $1 * 1000000000)); shift
	while ! "$@"; do [ "$(date +%s%N)" -gt "$end" ] && return 1; sleep 0.1; done; }

per=$((nthreads / ngroups)) sleep_ms=100
groups_json=
for g in $(seq "$ngroups"); do
	for m in $mnt $uni; do mkdir -p "$m/$base/g$g"; done
	sh -c "for m in $mnt $uni; do echo \$\$ >\$m/$base/g$g/cgroup.procs; done; exec $b/faulter $per 1 $sleep_ms" \
		>"$work/f$g.out" & pids+=($!)
	groups_json+="${groups_json:+,}{\"name\":\"g$g\",\"path\":\"$base/g$g\"}"
done
ready() { for g in $(seq "$ngroups"); do grep -q ready "$work/f$g.out" || return 1; done; }
poll 60 ready || { echo "workload did not start" >&2; exit 1; }

# Thread mode needs several fds per thread (issue 9: EMFILE near 256 vCPUs).
ulimit -n "$(ulimit -Hn)"
for mode in thread cgroup; do
	cat >"$work/$mode.json" <<EOC
{ "period_ms": 100, "socket": "$work/$mode.sock", "state_file": "$work/$mode.state",
  "cgroup_root": "$(dirname $mnt)",
  "discovery": { "libvirt": false, "cgroups": [ $groups_json ] },
  "kyoto": { "libvirt_metadata": false, "counters": { "source": "$src", "mode": "$mode" } } }
EOC
	"$b/xpvd" -c "$work/$mode.json" 2>>"$work/$mode.log" & xpvd_pids+=($!)
done
ctl() { "$b/xpvctl" -s "$work/$1.sock" -j status 2>/dev/null; }
# every group discovered and charged something, in both
charging() {
	for mode in thread cgroup; do
		ctl $mode | python3 -c '
import json,sys
v=json.load(sys.stdin)["result"]["controllers"]["kyoto"]["vms"]
sys.exit(0 if len(v)==int(sys.argv[1]) and all(x["charged_events_total"]>0 for x in v) else 1)' "$ngroups" 2>/dev/null || return 1
	done
}
poll 60 charging || { echo "xpvd did not charge every group:" >&2; cat "$work"/*.log >&2; exit 1; }

# (%.0f: mawk's %d stops at 2^31 ns)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s+=$1} END {printf "%.0f", s}'; }
events() { ctl "$1" | python3 -c '
import json,sys
r=json.load(sys.stdin)["result"]
k=r["controllers"]["kyoto"]
print(r["ticks"], sum(x["charged_events_total"] for x in k["vms"]), int(k["tick_cpu_seconds"]*1e9))'; }
faults() { local s=0; for p in "${pids[@]}"; do s=$((s + $(awk '{print $10}' /proc/"$p"/stat))); done; echo $s; }
sample() { # sample TAG: one line per mode "mode cpu_ns ticks events", then faults
	for i in 0 1; do
		mode=$([ $i = 0 ] && echo thread || echo cgroup)
		echo "$mode $(cpu_ns "${xpvd_pids[$i]}") $(events $mode)"
	done
	echo "faults $(faults)"
}
# The window's ends are taken with the workload stopped and both xpvd two
# periods past the stop, so both have charged everything that happened and
# the workload's own count is exact at the same instants.
ticks() { ctl "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["ticks"])' 2>/dev/null || echo 0; }
past() { [ "$(ticks thread)" -ge "$1" ] && [ "$(ticks cgroup)" -ge "$2" ]; }
freeze() {
	kill -STOP "${pids[@]}"
	poll 30 past $(($(ticks thread) + 2)) $(($(ticks cgroup) + 2)) || echo "# xpvd stalled" >&2
}
thaw() { kill -CONT "${pids[@]}"; }
freeze; t0=$(date +%s%N); sample >"$work/s0"; thaw
sleep "$secs" # a benchmark's measuring window, not synchronisation
freeze; t1=$(date +%s%N); sample >"$work/s1"; thaw
fds() { ls /proc/"$1"/fd | wc -l; }
echo "# $nthreads threads in $ngroups cgroups, ${secs}s, source=$src, $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
python3 - "$work/s0" "$work/s1" "$t0" "$t1" "$nthreads" "$(fds "${xpvd_pids[0]}")" "$(fds "${xpvd_pids[1]}")" <<'EOP'
import sys
def load(p):
    d = {}
    for l in open(p):
        f = l.split()
        d[f[0]] = [float(x) for x in f[1:]]
    return d
s0, s1 = load(sys.argv[1]), load(sys.argv[2])
wall = (int(sys.argv[4]) - int(sys.argv[3])) / 1e9
n = int(sys.argv[5]); fds = {"thread": sys.argv[6], "cgroup": sys.argv[7]}
truth = s1["faults"][0] - s0["faults"][0]
print("| mode | fds | xpvd CPU | per period | Kyoto tick CPU per period | xpvd CPU per 100 threads | Kyoto tick CPU per 100 threads | events charged | workload's own count | charged / own |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in ("thread", "cgroup"):
    cpu = (s1[m][0] - s0[m][0]) / 1e9
    ticks = s1[m][1] - s0[m][1]
    ev = s1[m][2] - s0[m][2]
    intick = (s1[m][3] - s0[m][3]) / 1e9
    pct = 100 * cpu / wall
    kpct = 100 * intick / wall
    print("| %s | %s | %.3f %% of a core | %.0f us | %.0f us | %.3f %% | %.4f %% | %.0f | %.0f | %.3f |" % (
        m, fds[m], pct, 1e6 * cpu / max(ticks, 1), 1e6 * intick / max(ticks, 1), pct * 100 / n,
        kpct * 100 / n, ev, truth, ev / truth if truth else 0))
EOP
