#!/usr/bin/env bash
# The figure of docs/concurrency.md ("Scaling"): host throughput of
# `--threads` (wall-clock accesses per second) against threads, 1 to 8,
# for each lock design, on the four streams of bench/threads.c, as the
# speedup over one thread measured in the same run (docs/img/threads.png,
# the table in docs/img/threads.csv).
# Usage: bench/threads.sh [VMSIM_BENCH [OUTDIR]]; defaults
# build/release/vmsim_bench and docs/img. Needs gnuplot. About a minute.
set -euo pipefail
BENCH=${1:-build/release/vmsim_bench}
OUT=${2:-docs/img}
command -v gnuplot >/dev/null || { echo "threads.sh: expected gnuplot on PATH, found none" >&2; exit 1; }
"$BENCH" threads > "$OUT/threads.csv"
gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 1000,700 font "sans,10" noenhanced
set output "$OUT/threads.png"
set multiplot layout 2,2 title "vmsim --threads on this machine (2 cores): speedup over one thread, wall clock, 8 simulated CPUs"
set grid
set logscale x 2
set xrange [0.8:10]
set yrange [0:*]
set xtics ("1" 1, "2" 2, "4" 4, "8" 8)
set xlabel "host threads"
set ylabel "speedup over 1 thread"
set key bottom right
do for [s in "procs threads cow fork"] {
  set title s
  plot for [l in "table global seqcount"] \
       sprintf("< grep '^%s,%s,' $OUT/threads.csv", s, l) using 3:5 with linespoints title l, \
       1 with lines dashtype 2 lc "gray" notitle
}
unset multiplot
GP
echo "wrote $OUT/threads.png and $OUT/threads.csv"
