#!/usr/bin/env bash
# The figure docs/img/walk-latency.png (docs/caches.md, "Walk latency against
# the working set"): the average walk latency, walks.cycles / walks.count,
# against the working-set size, for 4 KiB and 2 MiB pages, native and
# nested, on a Skylake-like data-cache hierarchy.
#
# Workload: uniform random writes over the working set (docs/workloads.md,
# `random`): writes, so that every page has a frame of its own (a read of an
# untouched page maps the one zero frame, whose line and host entry would
# stay in L1 and hide the data's share of the caches). No TLB (every access
# walks: a TLB decides which accesses walk, not what a walk finds in the
# caches), the preset's page-walk caches in both dimensions, no nested TLB,
# host pages the size of the guest's. Not a pointer chase: a chase visits
# the pages again in the order its first traversal faulted them in, which is
# the order of their guest frames, so every later host walk would read the
# nested table in order and find it in L1.
#
# Steady state: each point is two runs of the same seeded stream, the second
# longer by M accesses; the figure plots the difference of walks.cycles over
# the difference of walks.count. The first run makes max(4 x pages, 2^20)
# accesses, so the caches are warm and all but e^-4 (1.8 %) of the pages are
# mapped; the CSV's `faults` column counts the faults left in the measured
# part, and `--cost vmexit=0` keeps the backing of a guest page (a VM exit,
# 1000 cycles) out of the walks.
#
# Usage: bench/walk_latency.sh [VMSIM [OUT.png|OUT.svg]]
#   defaults: build/release/vmsim, docs/img/walk-latency.png; the table goes
#   next to OUT with .csv. Needs jq and gnuplot. About 12 minutes of CPU in 2
#   jobs (JOBS=N), most of it for 64 GiB of 4 KiB pages, whose warm-up is 2^26
#   accesses; WALK_LATENCY_SIZES="1m 64m 1g" picks the sizes.
set -euo pipefail
VMSIM=${1:-build/release/vmsim}
OUT=${2:-docs/img/walk-latency.png}
CSV=${OUT%.*}.csv
CACHE=${WALK_LATENCY_CACHE:-l1d=64x8x64/d:5,l1i=64x8x64/i:5,l2=1024x16x64:14,l3=16384x16x64/shared:50,dram=250}
SIZES=${WALK_LATENCY_SIZES:-1m 4m 16m 64m 256m 1g 4g 8g 16g 64g}
M=$((1 << 20))
JOBS=${JOBS:-2}
command -v jq >/dev/null || { echo "walk_latency.sh: expected jq on PATH, found none" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

bytes() { # 1m -> 1048576
    local v=${1%[kmgt]} u=${1: -1}
    case $u in k) echo $((v << 10)) ;; m) echo $((v << 20)) ;; g) echo $((v << 30)) ;;
               t) echo $((v << 40)) ;; *) echo "$1" ;; esac
}

# One point: PAGE (4k|2m), MODE (native|nested), WS; prints a CSV row
# (PAGE, MODE, WS in bytes, WS, walks, walk cycles, cycles per walk,
# references per walk with the host's, faults), all over the last M accesses.
point() {
    local page=$1 mode=$2 ws=$3
    local pages=$(($(bytes "$ws") / $(bytes "$page")))
    local n1=$((4 * pages > (1 << 20) ? 4 * pages : (1 << 20)))
    local spec="random:size=$ws,write=1,seed=1"
    local args=(run --quiet --cpus 1 --tlb none --cache "$CACHE" --cost vmexit=0
                --page-size "$page" --thp always)
    [ "$mode" = nested ] && args+=(--nested x86-64 --host-page "$page")
    local f=$TMP/$page-$mode-$ws
    "$VMSIM" "${args[@]}" --workload "$spec,n=$n1" --json "$f.1" 2>"$f.err" &&
        "$VMSIM" "${args[@]}" --workload "$spec,n=$((n1 + M))" --json "$f.2" 2>>"$f.err" ||
        { echo "walk_latency.sh: $page $mode $ws failed: $(cat "$f.err")" >&2; return 1; }
    jq -rn --slurpfile a "$f.1" --slurpfile b "$f.2" --arg page "$page" --arg mode "$mode" \
        --arg ws "$ws" --arg bytes "$(bytes "$ws")" \
        '($b[0].walks.count - $a[0].walks.count) as $w | ($b[0].walks.cycles - $a[0].walks.cycles) as $c |
         ($b[0].walks.refs - $a[0].walks.refs) as $r | ($b[0].nested.host_refs - $a[0].nested.host_refs) as $h |
         [$page, $mode, ($bytes | tonumber), $ws, $w, $c, $c / $w, ($r + $h) / $w,
          $b[0].faults.total - $a[0].faults.total] | map(tostring) | join(",")'
}
export -f point bytes
export VMSIM CACHE M TMP

for page in 4k 2m; do for mode in native nested; do for ws in $SIZES; do
    echo "$page $mode $ws"
done; done; done | xargs -P "$JOBS" -L 1 bash -c 'point "$@"' _ > "$TMP/rows"

# the table as a sweep's CSV (docs/cli.md): axes between status and source
{
    echo 'point,status,pages,mode,ws,source,walks,walk_cycles,cycles_per_walk,refs_per_walk,faults'
    sort -t, -k1,1r -k2,2 -k3,3n "$TMP/rows" |
        awk -F, -v OFS=, '{ print NR - 1, "ok", ($1 == "4k" ? "4 KiB" : "2 MiB"), $2, $4,
                            "workload random", $5, $6, $7, $8, $9 }'
} > "$CSV"
"$VMSIM" plot -x ws -y cycles_per_walk --series pages,mode \
    --title "Average walk latency, Skylake-like caches (uniform random writes, no TLB)" -o "$OUT" "$CSV"
echo "wrote $OUT and $CSV"
