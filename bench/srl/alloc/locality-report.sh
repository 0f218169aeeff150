#!/usr/bin/env bash
# Tables and plot from run-locality.sh's raw samples (RES/wl-RUNTIME).
# usage: bench/srl/alloc/locality-report.sh RES MOVE_S MOVES
#   RES/locality.dat    t_s, local fraction, node, version per runtime (one gnuplot index each)
#   RES/after-moves.txt local fraction in the last sample before each move (the thread's
#                       node changes) and at the end: "after N moves"
#   RES/locality.png    the fractions over time (gnuplot)
set -eu
res=$1 move_s=$2 moves=$3
runtimes="glibc jemalloc jemalloc-xpv mimalloc"
for r in $runtimes; do
	echo "# $r: t_s local_fraction node version"
	awk '$1 == "sample" && $5 > 0 { printf "%.2f %.4f %d %d\n", $2 / 1000, $4 / $5, $3, $6 }' "$res/wl-$r"
	printf '\n\n'
done >"$res/locality.dat"
{
	printf '%-14s' runtime
	for k in $(seq 0 "$moves"); do printf ' %7s' "after$k"; done
	echo "   (pages of the live objects on the thread's current node)"
	for r in $runtimes; do
		printf '%-14s' "$r"
		awk '$1 == "sample" && $5 > 0 {
				if (seen && $3 != node) printf " %7.3f", f
				f = $4 / $5; node = $3; seen = 1
			}
			END { printf " %7.3f\n", f }' "$res/wl-$r"
	done
} >"$res/after-moves.txt"
cat "$res/after-moves.txt"
if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 1000,500
set output "$res/locality.png"
set xlabel "guest time (s), TCG"
set ylabel "live pages on the thread's current node"
set yrange [0:1.05]
set key outside right
set title "vCPU 1 moved between host nodes every $move_s s ($moves moves)"
plot for [i=0:3] "$res/locality.dat" index i using 1:2 with points pt 7 ps 0.5 \
	title word("glibc jemalloc jemalloc+xpv mimalloc", i + 1)
GP
	echo "plot: $res/locality.png"
fi
