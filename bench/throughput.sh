#!/usr/bin/env bash
# The figures of docs/performance.md: vmsim's throughput (accesses per
# second of user CPU time, best of 3) against
#   - the events handed to each vmsim_run call (docs/img/throughput-batch.png):
#     the random stream over 64 GiB on the default machine (walks: the
#     prefetch pipeline looks ahead within a call) and the sequential stream
#     through a 64x4 TLB (memo hits: runs end at a call's end);
#   - the working set of the random stream, 1 to 256 GiB
#     (docs/img/throughput-ws.png), beside the serial floor on the same
#     events (bench/bench.c, baseline_walks), the lean minimal simulator of
#     the same machine (baseline_lean) and the same walks done independently
#     (baseline_parallel: what the host's memory allows).
# Usage: bench/throughput.sh [VMSIM_BENCH [OUTDIR]]; defaults
# build/release/vmsim_bench and docs/img; the table goes to OUTDIR/throughput.csv.
# Needs gnuplot. About 5 minutes of CPU.
set -euo pipefail
BENCH=${1:-build/release/vmsim_bench}
OUT=${2:-docs/img}
command -v gnuplot >/dev/null || { echo "throughput.sh: expected gnuplot on PATH, found none" >&2; exit 1; }
"$BENCH" figures > "$OUT/throughput.csv"
gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 800,520 font "sans,11" noenhanced
set grid
set logscale x 2
set logscale y 10
set format y "%.0e"
set ylabel "accesses per second (user CPU)"

set output "$OUT/throughput-batch.png"
set title "vmsim throughput against events per vmsim_run call"
set xlabel "events per vmsim_run call"
set key center right
set xtics ("1" 1, "16" 16, "256" 256, "4 K" 4096, "64 K" 65536, "1 M" 1048576)
plot "< grep ^batch_random, $OUT/throughput.csv" using 2:3 with linespoints title "random over 64 GiB, default machine (walks)", \
     "< grep ^batch_seq, $OUT/throughput.csv" using 2:3 with linespoints title "sequential 8 B, 64x4 TLB (hits)"

set output "$OUT/throughput-ws.png"
set title "vmsim throughput against the working set (random 8 B loads)"
set xlabel "working set (GiB)"
set key below
set xtics auto
plot "< grep ^ws_random, $OUT/throughput.csv" using 2:3 with linespoints title "vmsim, default machine", \
     "< grep ^ws_random, $OUT/throughput.csv" using 2:4 with linespoints title "serial floor: dependent 4-level walks", \
     "< grep ^ws_random, $OUT/throughput.csv" using 2:5 with linespoints title "lean minimal simulator of the same machine", \
     "< grep ^ws_random, $OUT/throughput.csv" using 2:6 with linespoints title "the walks alone, independent (the host's memory)", \
     "< grep ^ws_random, $OUT/throughput.csv" using 2:(3*\$4) with lines dashtype 2 title "3 x the serial floor (issue 15's target)", \
     30e6 with lines dashtype 3 title "30 M/s (issue 15's target)"
GP
echo "throughput.sh: wrote $OUT/throughput-batch.png, $OUT/throughput-ws.png, $OUT/throughput.csv"
