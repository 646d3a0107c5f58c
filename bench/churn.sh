#!/usr/bin/env bash
# The figure of docs/kernel.md ("Compaction"): huge-page coverage of
# resident anonymous memory over a long churn (the churn workload, 6 M
# writes, at most 56 MiB mapped at once in 64 MiB of memory, 2 MiB pages
# where advised), without and with --compact, sampled every 100,000
# accesses (docs/img/churn.png, the samples in docs/img/churn.csv).
# Usage: bench/churn.sh [VMSIM_BENCH [OUTDIR]]; defaults
# build/release/vmsim_bench and docs/img. Needs gnuplot. About 10 seconds.
set -euo pipefail
BENCH=${1:-build/release/vmsim_bench}
OUT=${2:-docs/img}
command -v gnuplot >/dev/null || { echo "churn.sh: expected gnuplot on PATH, found none" >&2; exit 1; }
"$BENCH" churn > "$OUT/churn.csv"
gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 1000,420 font "sans,10" noenhanced
set output "$OUT/churn.png"
set multiplot layout 1,2 title "churn:n=6000000,size=56m,seed=1 in 64 MiB, 2 MiB pages where advised (vmsim_bench churn)"
set grid
set key bottom left
set xlabel "accesses (millions)"
set title "huge-page coverage of resident anonymous memory"
set ylabel "thp coverage"
set yrange [0:1]
plot "< grep '^off,' $OUT/churn.csv" using (\$2/1e6):3 with lines lw 2 title "--compact off", \
     "< grep '^on,' $OUT/churn.csv" using (\$2/1e6):3 with lines lw 2 title "--compact on", \
     0.75 with lines dashtype 2 lc "gray" title "bytes in regions of 2 MiB or more (0.75)"
set title "huge-page faults that fell back to base pages (cumulative)"
set ylabel "thp.fallbacks (thousands)"
set yrange [0:*]
set key top left
plot "< grep '^off,' $OUT/churn.csv" using (\$2/1e6):(\$4/1e3) with lines lw 2 title "--compact off", \
     "< grep '^on,' $OUT/churn.csv" using (\$2/1e6):(\$4/1e3) with lines lw 2 title "--compact on"
unset multiplot
GP
echo "wrote $OUT/churn.png and $OUT/churn.csv"
