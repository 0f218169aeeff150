#!/usr/bin/env bash
# Kyoto benchmark: how much of its solo performance does an LLC-sensitive
# workload keep next to a cache-polluting one?
#   A  sensitive alone
#   B  + disruptive, no control
#   C  + disruptive, governed by xpvd (permit = 1/4 of its measured pollution)
#   D  + disruptive under a fixed CFS quota giving it the same average CPU
#      it got in C (what operators do today)
# Interleaved A B C D per repetition (the host is shared and noisy), R
# repetitions of T seconds each.  Then the monitoring overhead of xpvd with
# N monitored threads at a 100 ms period.
#
#   bench/kyoto/run.sh [-r REPS] [-t SECONDS] [-n THREADS] [-s perf|synthetic]
# Needs root, 2+ CPUs, cgroup v1 or v2 with the cpu controller, make all.
set -u
# the configs below use test-only counter sources (synthetic/software)
export XPVD_TEST_MODE=1
top=$(cd "$(dirname "$0")/../.." && pwd)
b=$top/kvm/build
reps=3 secs=8 nthreads=100 src=auto
while getopts r:t:n:s: o; do
	case $o in r) reps=$OPTARG ;; t) secs=$OPTARG ;; n) nthreads=$OPTARG ;; s) src=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
work=$(mktemp -d /tmp/xpv-bench.XXXXXX)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cgv=2 mnt=/sys/fs/cgroup
	grep -qw cpu $mnt/cgroup.subtree_control || echo +cpu >$mnt/cgroup.subtree_control
else
	cgv=1 mnt=/sys/fs/cgroup/cpu
fi
base=xpvbench-$$ cg=$mnt/xpvbench-$$
mkdir -p "$cg/dis" "$cg/sen" "$cg/idle"
pids=() xpvd_pid=
cleanup() {
	[ -n "$xpvd_pid" ] && kill -TERM "$xpvd_pid" 2>/dev/null && wait "$xpvd_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rmdir "$cg"/* "$cg" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
poll() { local end=$(($(date +%s%N) + $1 * 1000000000)); shift
	while ! "$@"; do [ "$(date +%s%N)" -gt "$end" ] && return 1; sleep 0.05; done; }
set_quota() {
	if [ $cgv = 1 ]; then echo "$2" >"$cg/$1/cpu.cfs_quota_us"
	elif [ "$2" = -1 ]; then echo "max 100000" >"$cg/$1/cpu.max"
	else echo "$2 100000" >"$cg/$1/cpu.max"; fi
}
ctl() { "$b/xpvctl" -s "$work/ctl.sock" "$@"; }
field() { ctl -j status | python3 -c '
import json,sys
for v in json.load(sys.stdin)["result"]["controllers"]["kyoto"]["vms"]:
    if v["vm"]==sys.argv[1]: print(v[sys.argv[2]])' "$1" "$2"; }

if [ "$src" = auto ]; then
	printf '{"socket":"%s/p.sock","state_file":"%s/p.json","discovery":{"libvirt":false}}' "$work" "$work" >"$work/probe.json"
	if "$b/xpvd" -t -c "$work/probe.json" >/dev/null 2>&1; then src=perf; else src=synthetic; fi
fi
mkdir -p "$work/syn"; echo 20000 >"$work/syn/dis"; echo 200 >"$work/syn/sen"
cat >"$work/xpvd.json" <<EOC
{ "period_ms": 100, "socket": "$work/ctl.sock", "state_file": "$work/state.json",
  "discovery": { "libvirt": false, "cgroups": [ { "name": "dis", "path": "$base/dis" },
                                                { "name": "sen", "path": "$base/sen" } ] },
  "kyoto": { "counters": { "source": "$src", "synthetic_dir": "$work/syn" } } }
EOC

chase() { # run the sensitive workload in its cgroup on CPU 0; prints accesses/s
	sh -c "echo \$\$ >$cg/sen/cgroup.procs; exec taskset -c 0 $b/chase 8 $secs" | awk '/per_cpu_s/{print $2}'
}
start_dis() {
	sh -c "echo \$\$ >$cg/dis/cgroup.procs; exec taskset -c 1 $b/stream 512" >/dev/null &
	dis=$!; pids+=($dis)
	poll 5 grep -q . "$cg/dis/cgroup.procs"
}
stop_dis() { kill -KILL "$dis"; wait "$dis" 2>/dev/null; }
run_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

echo "# source=$src reps=$reps secs=$secs cgroup=v$cgv host: $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# metric: sensitive pointer-chase accesses per second of its own CPU time (8 MiB)"
results=()
for r in $(seq "$reps"); do
	a=$(chase)
	start_dis; bb=$(chase); stop_dis
	# C: xpvd governs the disruptive one
	start_dis
	"$b/xpvd" -c "$work/xpvd.json" 2>>"$work/xpvd.log" & xpvd_pid=$!
	poll 10 ctl ping >/dev/null 2>&1
	measured() { local v; v=$(field dis llc_cap_act 2>/dev/null || echo 0)
		python3 -c "import sys; sys.exit(0 if float(sys.argv[1])>0 else 1)" "$v" && pdis=$v; }
	poll 10 measured
	ctl permit set dis "$(python3 -c "print($pdis/4)")" >/dev/null
	over() { [ "$(field dis state)" = OVER ]; }
	poll 5 over
	n0=$(run_ns "$dis"); t0=$(date +%s%N)
	c=$(chase)
	share=$(python3 -c "print(($(run_ns "$dis")-$n0)/($(date +%s%N)-$t0))")
	kill -TERM "$xpvd_pid"; wait "$xpvd_pid"; xpvd_pid=
	stop_dis
	# D: fixed quota, same average CPU as under xpvd
	q=$(python3 -c "print(max(1000, int($share*100000)))")
	set_quota dis "$q"
	start_dis
	n0=$(run_ns "$dis"); t0=$(date +%s%N)
	d=$(chase)
	dshare=$(python3 -c "print(($(run_ns "$dis")-$n0)/($(date +%s%N)-$t0))")
	stop_dis
	set_quota dis -1
	results+=("$a $bb $c $d $share $dshare")
	echo "# rep $r: alone $a  nocontrol $bb  xpvd $c  fixedquota $d  (dis CPU share: xpvd $share, fixed $dshare)"
done

python3 - "${results[@]}" <<'EOF2'
import sys, statistics as st
rows = [list(map(float, r.split())) for r in sys.argv[1:]]
def ret(i): return [r[i] / r[0] for r in rows]
print()
print("| case | retained (mean) | min | max | disruptive CPU share |")
print("|---|---|---|---|---|")
print("| sensitive alone | 100 % | | | - |")
for name, i, sh in (("+ disruptive, no control", 1, None), ("+ disruptive, xpvd (Kyoto)", 2, 4), ("+ disruptive, fixed CFS quota", 3, 5)):
    v = ret(i)
    s = "%.2f" % st.mean(r[sh] for r in rows) if sh else "~1 (uncapped)"
    print("| %s | %.1f %% | %.1f %% | %.1f %% | %s |" % (name, 100*st.mean(v), 100*min(v), 100*max(v), s))
EOF2

# Monitoring overhead: N monitored threads (sleeping processes) in one group.
for i in $(seq "$nthreads"); do
	sh -c "echo \$\$ >$cg/idle/cgroup.procs; exec sleep 600" & pids+=($!)
done
poll 10 test "$(wc -l <"$cg/idle/cgroup.procs")" -ge "$nthreads"
for osrc in $src software; do
	cat >"$work/ovh.json" <<EOC
{ "period_ms": 100, "socket": "$work/ctl.sock", "state_file": "$work/state.json",
  "metrics": { "listen": "unix:$work/metrics.sock" },
  "discovery": { "libvirt": false, "cgroups": [ { "name": "idle", "path": "$base/idle" } ] },
  "kyoto": { "default_permit": 1000000, "counters": { "source": "$osrc", "synthetic_dir": "$work/syn" } } }
EOC
	"$b/xpvd" -c "$work/ovh.json" 2>>"$work/xpvd.log" & xpvd_pid=$!
	poll 10 ctl ping >/dev/null 2>&1 || { echo "# overhead: xpvd ($osrc) did not start"; kill $xpvd_pid; wait $xpvd_pid; xpvd_pid=; continue; }
	t0=$(date +%s%N); s0=$(awk '{print $14+$15}' /proc/$xpvd_pid/stat)
	sleep 20   # measuring a steady state over a fixed window, not synchronising
	s1=$(awk '{print $14+$15}' /proc/$xpvd_pid/stat); t1=$(date +%s%N)
	m=$(curl -s --unix-socket "$work/metrics.sock" http://x/metrics)
	thr=$(field idle threads)
	kill -TERM $xpvd_pid; wait $xpvd_pid; xpvd_pid=
	hz=$(getconf CLK_TCK)
	python3 - "$osrc" "$thr" "$s0" "$s1" "$t0" "$t1" "$hz" <<EOF3
import sys
src, thr, s0, s1, t0, t1, hz = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
m = """$m"""
v = {l.split()[0]: float(l.split()[1]) for l in m.splitlines() if l and not l.startswith("#")}
tick = v["xpvd_tick_seconds_total"] / v["xpvd_ticks_total"]
cpu = (s1 - s0) / hz / ((t1 - t0) / 1e9)
print("# overhead (%s): %d threads: %.1f us per period (%.2f us per vCPU), process CPU %.3f %% of a core = %.3f %% per 100 vCPUs"
      % (src, thr, tick * 1e6, tick * 1e6 / thr, 100 * cpu, 100 * cpu * 100 / thr))
EOF3
done
