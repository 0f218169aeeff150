# gnuplot -e "out='DIR'" plot.gp : figures from DIR/simulate.csv
if (!exists("out")) out = "out"
set datafile separator ","
set terminal pngcairo size 900,420 font ",10" noenhanced
set key top left
set grid

# Figure 3 (a): the VM's memory layout under vanilla displacement
set output out."/fig3-layout-vanilla.png"
set title "Memory layout of a 16 GB VM, no repatriation (cf. paper fig. 3a)"
set xlabel "time (min)"
set ylabel "share of VM memory (%)"
set yrange [0:100]
set style fill solid 0.6 noborder
set label 1 "home node" at graph 0.5, 0.6 center front
set label 2 "remote node" at graph 0.85, 0.1 center front
plot out."/simulate.csv" using 1:2:(100) with filledcurves lc rgb "#4e79a7" notitle, \
     "" using 1:2 with filledcurves x1 lc rgb "#e15759" notitle
unset label 1
unset label 2

# Figure 7: remote share over time for vanilla, periodic and threshold
set output out."/fig7-remote.png"
set title "Remote memory of a 16 GB VM: vanilla vs. repatriation (cf. paper fig. 7)"
set ylabel "remote memory (%)"
set yrange [0:30]
plot out."/simulate.csv" using 1:2 with lines lw 2 lc rgb "#e15759" title "vanilla", \
     "" using 1:3 with lines lw 1.5 lc rgb "#59a14f" title "periodic (900 s)", \
     "" using 1:4 with lines lw 1.5 lc rgb "#4e79a7" title "threshold (500 MB)"

# Figure 7, zoomed on the two policies
set output out."/fig7-remote-zoom.png"
set title "Repatriation policies, zoomed"
set yrange [0:4]
plot out."/simulate.csv" using 1:3 with lines lw 1.5 lc rgb "#59a14f" title "periodic (900 s)", \
     "" using 1:4 with lines lw 1.5 lc rgb "#4e79a7" title "threshold (500 MB)"

# Figure 5 (as a time series): the page pool's size under Algorithm 1
set output out."/fig5-pool-size.png"
set title "Page pool under Algorithm 1 (start 500 MB, +10 % > 90 % used, -10 % < 20 %)"
set ylabel "MB"
set yrange [0:*]
plot out."/simulate.csv" using 1:9 with lines lw 2 lc rgb "#4e79a7" title "pool size", \
     "" using 1:10 with lines lw 1 lc rgb "#f28e2b" title "I/O buffers in use"

# Figure 7 with the guest-side fix: no fix, pool, periodic, threshold, pool + threshold
set output out."/fig7-remote-fixes.png"
set title "Remote memory of a 16 GB VM: every fix (model; cf. paper fig. 7)"
set ylabel "remote memory (%)"
set yrange [0:30]
plot out."/simulate.csv" using 1:2 with lines lw 2 lc rgb "#e15759" title "no fix", \
     "" using 1:7 with lines lw 1.5 lc rgb "#b07aa1" title "page pool", \
     "" using 1:3 with lines lw 1.5 lc rgb "#59a14f" title "periodic (900 s)", \
     "" using 1:4 with lines lw 1.5 lc rgb "#4e79a7" title "threshold (500 MB)", \
     "" using 1:8 with lines lw 1.5 lc rgb "#edc948" title "pool + threshold"

# Figure 8 (model): STREAM's second run relative to the first, from the remote
# share at 180 min, calibrated on the paper's 25 % remote -> 13 % loss
set output out."/fig8-stream-model.png"
set title "STREAM second run vs first (model: loss = 0.52 x remote share at 180 min; cf. fig. 8a)"
set style data histogram
set style histogram clustered
set style fill solid 0.7
set yrange [80:101]
set ylabel "% of the first run"
set xlabel ""
plot out."/fig8.csv" using 2:xtic(1) every ::1 notitle
set yrange [0:*]

# Detection cost per GiB
set output out."/detect-cost.png"
set title "Detection cost per GiB (this machine)"
set style data histogram
set style histogram clustered
set style fill solid 0.7
set yrange [0:*]
set ylabel "CPU ms per GiB"
set xlabel ""
set xtics rotate by -20
plot out."/detect-cost-4k.csv" using 4:xtic(stringcolumn(1)." /".stringcolumn(2)) every ::1 title "4 KiB pages", \
     out."/detect-cost-thp.csv" using 4 every ::1 title "THP"
