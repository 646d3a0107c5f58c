#!/usr/bin/env bash
# The speedup of `vmsim sweep` on 1, 2 and 4 MPI ranks over 1 rank and over
# -j 1, and the cost of handing out a point (docs/performance.md, "Sweeps
# across ranks"). Prints one line per configuration: the wall time of each
# repetition and their median. About 2 minutes on 2 cores.
#   bench/sweep_ranks.sh [build/release/vmsim] [repetitions]
set -eu
V=${1:-build/release/vmsim}
REPS=${2:-3}
command -v mpirun >/dev/null || { echo "no mpirun: install openmpi-bin"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# 64 points of about 0.15 s each (1 M random accesses, two organizations)
BIG="--workload random:n=1000000,size=16m --axis pt=radix,hashed --axis workload.seed=1..32"
# 256 points that do next to nothing, and 1: the cost per point and the start-up
TINY="--workload seq:n=1 --axis workload.seed=1..256"
ONE="--workload seq:n=1 --axis workload.seed=1"
wall() { local s e; s=$(date +%s.%N); "$@" --quiet --fresh -o "$dir/out.csv" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # name command...
    local name=$1 t all=""
    shift
    for _ in $(seq "$REPS"); do t=$(wall "$@"); all="$all $t"; done
    printf '%-22s median %6.2f s  (%s )\n' "$name" "$(echo $all | median)" "$all"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
run "64 points -j 1" "$V" sweep $BIG -j 1
run "64 points -j 2" "$V" sweep $BIG -j 2
for np in 1 2 4; do run "64 points -np $np" mpirun --oversubscribe -np $np "$V" sweep $BIG; done
run "256 tiny -j 1" "$V" sweep $TINY -j 1
for np in 1 2; do
    run "1 tiny -np $np" mpirun --oversubscribe -np $np "$V" sweep $ONE
    run "256 tiny -np $np" mpirun --oversubscribe -np $np "$V" sweep $TINY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
