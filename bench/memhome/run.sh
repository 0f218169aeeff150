#!/usr/bin/env bash
# memhome benchmarks: detection cost per GiB on this machine, and the
# simulation of the paper's figures 3 and 7. Results and plots go to out/
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
cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/kvm/memhome/src" -o "$out/simulate" \
	"$here/simulate.c" "$lib" -lm
"$out/detect-cost" --gib "$gib" --reps 10 >"$out/detect-cost-4k.csv"
"$out/detect-cost" --gib "$gib" --reps 10 --thp >"$out/detect-cost-thp.csv"
"$out/simulate" >"$out/simulate.csv"
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
echo "plots: $out/fig3-layout-vanilla.png $out/fig7-remote.png $out/fig7-remote-zoom.png $out/detect-cost.png"
