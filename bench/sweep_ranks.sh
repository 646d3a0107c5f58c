#!/usr/bin/env bash
# The speedup of `vmsim sweep` on 1, 2 and 4 MPI ranks over 1 rank and over
# -j 1, and the cost of handing out a point (docs/performance.md, "Sweeps
# across ranks"). The configurations take turns within each repetition, so
# a change in the machine's load falls on all of them alike; each line gives
# the median wall time and every repetition's. About 2 minutes on 2 cores.
#   bench/sweep_ranks.sh [build/release/vmsim] [repetitions]
set -eu
V=${1:-build/release/vmsim}
REPS=${2:-5}
command -v mpirun >/dev/null || { echo "no mpirun: install openmpi-bin"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# 64 points of about 0.08 s each (500 k random accesses, two organizations)
BIG="--workload random:n=500000,size=16m --axis pt=radix,hashed --axis workload.seed=1..32"
# 256 points that do next to nothing, and 1: the cost per point and the start-up
TINY="--workload seq:n=1 --axis workload.seed=1..256"
ONE="--workload seq:n=1 --axis workload.seed=1"
MPI="mpirun --oversubscribe -np"
names=("64 points -j 1" "64 points -j 2" "64 points -np 1" "64 points -np 2" "64 points -np 4"
       "256 tiny -j 1" "1 tiny -np 1" "256 tiny -np 1" "1 tiny -np 2" "256 tiny -np 2")
cmds=("$V sweep $BIG -j 1" "$V sweep $BIG -j 2" "$MPI 1 $V sweep $BIG" "$MPI 2 $V sweep $BIG"
      "$MPI 4 $V sweep $BIG" "$V sweep $TINY -j 1" "$MPI 1 $V sweep $ONE" "$MPI 1 $V sweep $TINY"
      "$MPI 2 $V sweep $ONE" "$MPI 2 $V sweep $TINY")
declare -a times
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
for _ in $(seq "$REPS"); do
    for i in "${!cmds[@]}"; do
        s=$(date +%s.%N)
        ${cmds[$i]} --quiet --fresh -o "$dir/out.csv" >/dev/null
        e=$(date +%s.%N)
        times[$i]="${times[$i]:-} $(echo "$e - $s" | bc)"
    done
done
for i in "${!cmds[@]}"; do
    med=$(echo ${times[$i]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-18s median %6.2f s  (%s )\n' "${names[$i]}" "$med" "${times[$i]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
