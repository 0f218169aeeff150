#!/usr/bin/env bash
# The memhome scenarios, run INSIDE the 2-node test host (tests/testhost/run.sh)
# by tests/suites/46-memhome-testhost. Prints TAP. Every wait is a poll with a
# deadline on an observable condition, never a bare sleep.
#
# The workload is memhome-victim: "guest RAM" with the default policy whose
# pages it first-touches from a thread on a given node, and which re-faults
# ranges from node 1 on command (MADV_DONTNEED + touch: balloon-style).  It
# also counts its own pages per node with move_pages(), independently of
# xpv-memhome.  And a QEMU (paused, -S) with a bound and an unbound
# memory backend.
set -u
here=$(cd "$(dirname "$0")" && pwd)
b=${MEMHOME_BUILD:-$here/../build}
M=$b/xpv-memhome
V=$b/tests/memhome-victim
top=$(cd "$here/../../.." && pwd)
d=$(mktemp -d /tmp/memhome-th.XXXXXX)
n=0 failed=0
MiB=1048576

ok() { n=$((n + 1)); echo "ok $n - $*"; }
no() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
check() { # check DESC CMD... : ok if CMD succeeds
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else no "$desc"; fi
}
now_ms() { date +%s%3N; }
# poll DEADLINE_S CMD... : until CMD succeeds or the deadline passes
poll() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
jget() { # jget FILE-or-JSON KEY: numeric field of a one-line JSON object
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# --- victim control: fds 7/8 for victim A, 5/6 for victim B ---
vstart() { # vstart A|B SIZE_MiB TOUCH_NODE
	local tag=$1 line
	mkfifo "$d/$tag.in" "$d/$tag.out"
	"$V" "$2" "$3" <"$d/$tag.in" >"$d/$tag.out" 2>"$d/$tag.err" &
	eval "${tag}_pid=$!"
	if [ "$tag" = A ]; then exec 7>"$d/A.in" 8<"$d/A.out"; else exec 5>"$d/B.in" 6<"$d/B.out"; fi
	vread "$tag" line || return 1
	set -- $line
	[ "$1" = ready ] || return 1
	eval "${tag}_start=$2 ${tag}_end=$3"
}
vread() { # vread TAG VAR
	local fd=8
	[ "$1" = B ] && fd=6
	read -r -t 120 -u "$fd" "$2"
}
vcmd() { # vcmd TAG CMD... ; reply in $reply
	local fd=7
	[ "$1" = B ] && fd=5
	echo "${*:2}" >&"$fd"
	vread "$1" reply
}
vnode() { # vnode TAG NODE: pages of the victim on NODE (its own count)
	vcmd "$1" count || return 1
	local a=($reply)
	[ "${a[0]}" = count ] || return 1
	echo "${a[$(($2 + 1))]:-0}"
}

cleanup() {
	for p in ${A_pid:-} ${B_pid:-} ${R_pid:-} ${Q_pid:-}; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$d"
}
trap cleanup EXIT

nodes=$(numactl -H | sed -n 's/^available: \([0-9]*\) nodes.*/\1/p')
if [ "${nodes:-0}" -lt 2 ] || [ ! -x "$M" ] || [ ! -x "$V" ]; then
	echo "1..1"
	no "setup: need 2 NUMA nodes (have ${nodes:-?}) and $M, $V"
	exit 1
fi

# 1. displacement is seen by both passes, and matches the victim's own count
vstart A 64 0 || { no "victim A did not start: $(cat "$d/A.err")"; exit 1; }
region=$(printf '%s-%s:0' "$A_start" "$A_end")
vcmd A displace 0 16 1
check "victim: 16 MiB displaced to node 1 (own count)" test "$(vnode A 1)" = 4096
s=$("$M" status --pid "$A_pid" --region "$region" --json)
check "status (numa_maps) reports 16 MiB remote" test "$(jget "$s" remote_bytes)" = $((16 * MiB))
s=$("$M" status --pid "$A_pid" --region "$region" --exact --json)
check "status --exact (move_pages) reports 16 MiB remote" test "$(jget "$s" remote_bytes)" = $((16 * MiB))
s=$("$M" status --pid "$A_pid" --region "$region" --exact --stride 16 --json)
r=$(jget "$s" remote_bytes)
check "status --exact --stride 16 estimates 16 MiB remote (got $r)" test "$r" = $((16 * MiB))
"$M" status --pid "$A_pid" --region "$region" | sed 's/^/# /'

# 2. periodic: nothing before the period, everything home after it
log=$d/periodic.jsonl
t0=$(now_ms)
"$M" repatriate --pid "$A_pid" --region "$region" --policy periodic --period 4 \
	--scan-interval 1 --duration 120 --log "$log" &
R_pid=$!
a_all_home() { test "$(vnode A 1)" = 0; }
if poll 90 a_all_home; then
	ok "periodic: all pages back on node 0 after $(($(now_ms) - t0)) ms"
else
	no "periodic: $(vnode A 1) pages still on node 1"
fi
# the pass ends (and re-measures) after the last window, even if all is home by then
check "periodic: the pass ended" poll 60 grep -q '"pass-end"' "$log"
kill -TERM "$R_pid"
wait "$R_pid"
check "periodic: repatriate ends cleanly on SIGTERM" test $? = 0
R_pid=
first_pass=$(grep -m1 '"pass-start"' "$log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["t"])')
check "periodic: first pass at t=${first_pass:-none} s, not before the 4 s period" \
	python3 -c "import sys; sys.exit(0 if 4.0 <= float('${first_pass:-0}') < 30 else 1)"
check "periodic: samples before the pass saw 16 MiB remote" \
	grep -q "\"event\":\"sample\".*\"remote_bytes\":$((16 * MiB))" "$log"
sum=$(grep '"summary"' "$log")
check "periodic: summary says 16 MiB moved, 0 remote" \
	test "$(jget "$sum" moved_bytes_total)/$(jget "$sum" remote_bytes)" = "$((16 * MiB))/0"

# 3. threshold: below it nothing moves, above it everything does
vcmd A displace 0 8 1
out=$("$M" repatriate --pid "$A_pid" --region "$region" --policy threshold --threshold 12M --once)
sum=$(grep '"summary"' <<<"$out")
check "threshold: 8 MiB remote < 12M: no pass" test "$(jget "$sum" passes)" = 0
check "threshold: 8 MiB still on node 1 (own count)" test "$(vnode A 1)" = 2048
vcmd A displace 32 8 1
out=$("$M" repatriate --pid "$A_pid" --region "$region" --policy threshold --threshold 12M --once)
sum=$(grep '"summary"' <<<"$out")
check "threshold: 16 MiB remote > 12M: one pass moved 16 MiB" \
	test "$(jget "$sum" passes)/$(jget "$sum" moved_bytes_total)" = "1/$((16 * MiB))"
check "threshold: nothing left on node 1 (own count)" test "$(vnode A 1)" = 0

# 4. unmovable pages (shared copy-on-write with a child) are counted, not moved
vcmd A displace 0 8 1
vcmd A share
out=$("$M" repatriate --pid "$A_pid" --region "$region" --policy periodic --once --max-fails 2)
sum=$(grep '"summary"' <<<"$out")
shared=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["unmovable_pages"]["shared"])' "$sum")
check "unmovable: 2048 shared pages reported (got $shared)" test "$shared" = 2048
check "unmovable: 4 ranges backing off" test "$(jget "$sum" backoff_ranges)" = 4
check "unmovable: they stayed on node 1" test "$(vnode A 1)" = 2048
vcmd A unshare
out=$("$M" repatriate --pid "$A_pid" --region "$region" --policy periodic --once)
check "unmovable: once exclusive again they move" test "$(vnode A 1)" = 0

# 5. the target exits in the middle of a rate-limited pass
vstart B 96 1 || no "victim B did not start"
log=$d/exit.jsonl
"$M" repatriate --pid "$B_pid" --region "$(printf '%s-%s:0' "$B_start" "$B_end")" \
	--policy periodic --once --rate 8M --log "$log" 2>"$d/exit.err" &
R_pid=$!
if poll 60 grep -q '"progress"' "$log"; then
	kill -9 "$B_pid"
	t1=$(now_ms)
	wait "$R_pid"
	rc=$?
	R_pid=
	sed 's/^/# stderr: /' "$d/exit.err"
	check "exit mid-pass: repatriate exits with 3 (target gone), got $rc" test "$rc" = 3
	check "exit mid-pass: noticed within 10 s ($(($(now_ms) - t1)) ms)" \
		test $(($(now_ms) - t1)) -lt 10000
	check "exit mid-pass: logged an exited event" grep -q '"exited"' "$log"
	check "exit mid-pass: the message names the process" grep -q "process $B_pid exited" "$d/exit.err"
	check "exit mid-pass: summary written" grep -q '"end":"exited"' "$log"
else
	no "exit mid-pass: no progress within 60 s"
fi
wait "$B_pid" 2>/dev/null
s=$("$M" status --pid "$B_pid" --region 1000-2000:0 2>&1)
check "status on a gone process exits 3 with a message" test $? = 3 -a -n "$s"

# 6. QEMU with a bound and an unbound memory backend, through QMP. QEMU runs
# paused (-S, no vCPU ever runs); two loader devices fill 62 MiB of each guest
# node at reset, from QEMU's main thread, which numactl keeps on host node 1.
qemu=${MEMHOME_QEMU:-}
[ -z "$qemu" ] && [ -f "$top/build/qemu-path" ] && qemu=$(cat "$top/build/qemu-path")/qemu-system-x86_64
[ -x "$qemu" ] || qemu=$(command -v qemu-system-x86_64 || true)
echo "# qemu: ${qemu:-none}"
fw=()
for a in /usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu; do
	[ -d "$a" ] && fw+=(-L "$a")
done
qargs=(--pid 0 --qmp "$d/qmp.sock" --region memdev=m1:0)
# RAM is mapped once query-memdev answers and both backends show up in the maps
qemu_ready() {
	kill -0 "$Q_pid" 2>/dev/null || return 0
	qs=$("$M" status "${qargs[@]}" --json 2>/dev/null)
}
if [ -z "$qemu" ]; then
	skip "qemu: no QEMU binary"
else
	head -c $((62 * MiB)) /dev/zero | tr '\0' Z >"$d/blob"
	numactl --cpunodebind=1 --membind=1 "$qemu" "${fw[@]}" -machine pc -accel tcg -S \
		-nodefaults -display none -m 128M \
		-object memory-backend-ram,id=m0,size=64M,host-nodes=0,policy=bind \
		-object memory-backend-ram,id=m1,size=64M \
		-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 \
		-device virtio-balloon-pci,free-page-reporting=on \
		-device loader,file="$d/blob",addr=0x100000,force-raw=on \
		-device loader,file="$d/blob",addr=0x4100000,force-raw=on \
		-qmp "unix:$d/qmp.sock,server=on,wait=off" >"$d/qemu.log" 2>&1 &
	Q_pid=$!
	qargs[1]=$Q_pid
	qs=
	poll 120 qemu_ready
	if kill -0 "$Q_pid" 2>/dev/null && [ -n "$qs" ]; then
		echo "# $qs"
		rem=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(" ".join("%s=%d/%d" % (r["name"], r["home"], r["remote_bytes"]) for r in j["regions"]))' "$qs")
		check "qemu: m0 (bind:0) is home, m1 (default, home 0 by config) is remote: $rem" \
			python3 -c 'import json,sys; r={x["name"]:x for x in json.loads(sys.argv[1])["regions"]}; sys.exit(0 if r["m0"]["remote_bytes"]==0 and r["m0"]["home_source"]=="memdev" and r["m1"]["remote_bytes"]>=60*2**20 else 1)' "$qs"
		"$M" repatriate "${qargs[@]}" --policy periodic --once >"$d/qemu-rep.jsonl"
		qs=$("$M" status "${qargs[@]}" --exact --json)
		check "qemu: after a periodic pass nothing is remote ($(jget "$qs" remote_bytes) bytes)" \
			test "$(jget "$qs" remote_bytes)" = 0
		au=$("$M" audit --pid "$Q_pid" --qmp "$d/qmp.sock")
		echo "$au" | sed 's/^/# /'
		check "qemu: audit warns about the unbound memdev m1" grep -q 'warn.*ram-unbound.*m1' <<<"$au"
		check "qemu: audit does not warn about bound m0" \
			bash -c '! grep -q "warn.*ram-unbound.*m0" <<<"$1"' _ "$au"
		check "qemu: audit warns about free page reporting" grep -q 'warn.*free-page-reporting' <<<"$au"
	else
		no "qemu: not ready: $(tail -3 "$d/qemu.log")"
	fi
fi

echo "1..$n"
[ "$failed" = 0 ]
