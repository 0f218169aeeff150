#!/usr/bin/env bash
# Repair throughput of xpv-memhome against numactl's migratepages, both in the
# same 2-node test host run (TCG: only the ratio means something).
# Host side:   bench/memhome/repair-ratio.sh [SIZE_MiB] [ROUNDS]
#   (boots tests/testhost/run.sh and re-runs itself inside; results on stdout
#    and in bench/memhome/out/repair-ratio.csv)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
size=${1:-128} rounds=${2:-3}
if [ -z "${XPV_TESTHOST:-}" ]; then
	make -s -C "$top/kvm/memhome"
	mkdir -p "$here/out"
	"$top/tests/testhost/run.sh" --nodes 2 --mem 2G --timeout 900 -- \
		bash "$here/repair-ratio.sh" "$size" "$rounds" | tee "$here/out/repair-ratio.txt"
	grep -E '^(tool|[0-9])' "$here/out/repair-ratio.txt" >"$here/out/repair-ratio.csv" || true
	exit 0
fi
b=$top/kvm/memhome/build
d=$(mktemp -d)
mkfifo "$d/in" "$d/out"
"$b/tests/memhome-victim" "$size" 1 <"$d/in" >"$d/out" &
vp=$!
exec 7>"$d/in" 8<"$d/out"
read -r -t 300 -u 8 ready s e
[ "$ready" = ready ]
ms() { date +%s%3N; }
on1() { echo count >&7; read -r -t 300 -u 8 c n0 n1; echo "$n1"; }
# ms: the command's wall time (process start included); pass_ms: for
# xpv-memhome, the repatriation pass alone (pass-start to pass-end in its log)
echo "tool,round,mib,ms,mib_per_s,pass_ms,pass_mib_per_s"
for r in $(seq "$rounds"); do
	[ "$(on1)" -gt 0 ] || { echo "displacement failed" >&2; exit 1; }
	t=$(ms)
	"$b/xpv-memhome" repatriate --pid "$vp" --region "$s-$e:0" --policy periodic --once \
		--rate 0 --cpu-budget 0 --batch 4096 >"$d/log"
	dt=$(($(ms) - t))
	[ "$(on1)" = 0 ] || { echo "memhome left pages on node 1" >&2; exit 1; }
	pt=$(python3 -c 'import json,sys
ev = {}
for l in open(sys.argv[1]):
    j = json.loads(l); ev.setdefault(j["event"], j.get("t"))
print(round((ev["pass-end"] - ev["pass-start"]) * 1000))' "$d/log")
	echo "xpv-memhome,$r,$size,$dt,$(awk -v m="$size" -v t="$dt" 'BEGIN { printf "%.1f", m * 1000 / t }'),$pt,$(awk -v m="$size" -v t="$pt" 'BEGIN { printf "%.1f", m * 1000 / t }')"
	echo "displace 0 $size 1" >&7
	read -r -t 300 -u 8 ok
	t=$(ms)
	migratepages "$vp" 1 0
	dt=$(($(ms) - t))
	[ "$(on1)" = 0 ] || { echo "migratepages left pages on node 1" >&2; exit 1; }
	echo "migratepages,$r,$size,$dt,$(awk -v m="$size" -v t="$dt" 'BEGIN { printf "%.1f", m * 1000 / t }'),,"
	echo "displace 0 $size 1" >&7
	read -r -t 300 -u 8 ok
done
echo exit >&7
wait "$vp"
rm -rf "$d"
