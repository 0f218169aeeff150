#!/usr/bin/env bash
# memhome benchmarks: detection cost per GiB on this machine, and the
# simulation of the paper's figures 3, 5, 7 and 8 (repatriation and the guest
# page pool, guest-driver/rxpool). Results and plots go to out/
# (generated, not committed). Usage: bench/memhome/run.sh [--gib N]
# The repair-throughput ratio against migratepages needs the 2-node test
# host: bench/memhome/repair-ratio.sh (see README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$here/out
gib=1
[ "${1:-}" = --gib ] && gib=$2
mkdir -p "$out"
make -s -C "$top/kvm/memhome"
lib=$top/kvm/memhome/build/libmemhome.a
cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/kvm/memhome/src" -o "$out/detect-cost" \
	"$here/detect-cost.c" "$lib" -lnuma -ljansson
cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/kvm/memhome/src" -I"$top/guest-driver/rxpool" -o "$out/simulate" \
	"$here/simulate.c" "$lib" -lm
"$out/detect-cost" --gib "$gib" --reps 10 >"$out/detect-cost-4k.csv"
"$out/detect-cost" --gib "$gib" --reps 10 --thp >"$out/detect-cost-thp.csv"
"$out/simulate" >"$out/simulate.csv"
# fig. 8 model: the remote share at the end of the run costs STREAM 0.52 x that share
awk -F, 'NR > 1 { last = $0 } END { split(last, v, ","); print "fix,stream_pct_of_first_run"
	printf "no fix,%.1f\npool,%.1f\nperiodic,%.1f\nthreshold,%.1f\npool+threshold,%.1f\n",
		100 - 0.52 * v[2], 100 - 0.52 * v[7], 100 - 0.52 * v[3], 100 - 0.52 * v[4], 100 - 0.52 * v[8] }' \
	"$out/simulate.csv" >"$out/fig8.csv"
gnuplot -e "out='$out'" "$here/plot.gp"
echo "== detection cost (4 KiB pages) =="
column -s, -t "$out/detect-cost-4k.csv"
echo "== detection cost (THP) =="
column -s, -t "$out/detect-cost-thp.csv"
echo "== simulation: remote % at 60/120/180 min, mean and peak =="
awk -F, 'NR > 1 && ($1 == 60 || $1 == 120 || $1 == 180) { print "t=" $1 " min: vanilla " $2 " %, periodic " $3 " %, threshold " $4 " %" }
	NR > 1 { n++; sv += $2; sp += $3; st += $4; if ($3 > p) p = $3; if ($4 > q) q = $4 }
	END { printf "mean over the run: vanilla %.2f %%, periodic %.2f %%, threshold %.2f %%\n", sv / n, sp / n, st / n
	      print "peak: periodic " p " %, threshold " q " %" }' "$out/simulate.csv"
echo "== the guest page pool (model): remote % at 60/120/180 min =="
awk -F, 'NR > 1 && ($1 == 60 || $1 == 120 || $1 == 180) { print "t=" $1 " min: pool " $7 " %, pool+threshold " $8 " %, pool size " $9 " MB" }' "$out/simulate.csv"
echo "== fig. 8 model: STREAM second run, % of the first =="
column -s, -t "$out/fig8.csv"
echo "plots: $out/fig3-layout-vanilla.png $out/fig5-pool-size.png $out/fig7-remote.png $out/fig7-remote-zoom.png $out/fig7-remote-fixes.png $out/fig8-stream-model.png $out/detect-cost.png"
