#!/usr/bin/env bash
# The layering check (make test, CTest "layering"): every #include "..." in
# src/ must go to the same folder or to a layer below, in the order that
# docs/architecture.md ("Layers") writes down. The doc is the one place the
# order lives: this script reads it, so the two cannot drift.
#
# docs/architecture.md, section "## Layers", carries two lists:
#   numbered lines "N. `folder`, `folder` ..."   the layers, bottom first;
#                                                 folders on one line are
#                                                 peers and may include
#                                                 each other
#   lines "- `from -> to`: why"                   includes that still go up
#                                                 (layering debt)
# An upward include not in the debt list fails, and so does a debt entry
# that no longer occurs, so the list can only shrink.
# Usage: check_layers.sh [SOURCE_DIR]
set -u
root=${1:-$(dirname "$0")/..}
doc="$root/docs/architecture.md"
[ -r "$doc" ] || { echo "check_layers: cannot read $doc"; exit 1; }

# The "## Layers" section only.
section=$(awk '/^## /{on = ($0 ~ /^## Layers/)} on' "$doc")
declare -A rank=() debt=() used=()
n=0
while IFS= read -r line; do
    n=$((n + 1))
    for f in $(grep -oE '`[^`]+`' <<<"$line" | tr -d '`'); do
        f=${f#include/}
        f=${f%/}
        f=${f#src/}
        rank[$f]=$n
    done
done < <(grep -E '^[0-9]+\. ' <<<"$section")
while IFS= read -r pair; do
    debt[$pair]=1
done < <(grep -oE '^- `[a-z_]+ -> [a-z_]+`' <<<"$section" | sed -E 's/^- `(.*)`/\1/')
if [ "$n" -lt 2 ]; then
    echo "check_layers: $doc: no numbered list of layers under \"## Layers\""
    exit 1
fi

fail=0
while IFS= read -r hit; do
    file=${hit%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${hit#*:*:}")
    rel=${file#"$root"/src/}
    from=${rel%%/*}
    [[ $inc == */* ]] || continue # a header of its own folder
    to=${inc%%/*}
    [ "$from" = "$to" ] && continue
    if [ -z "${rank[$from]:-}" ] || [ -z "${rank[$to]:-}" ]; then
        echo "$file: includes \"$inc\": folder $from or $to is not in the layers of docs/architecture.md"
        fail=1
        continue
    fi
    if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
        if [ -n "${debt["$from -> $to"]:-}" ]; then
            used["$from -> $to"]=1
        else
            echo "$file: includes \"$inc\": $from (layer ${rank[$from]}) may not include $to (layer ${rank[$to]}, above it)"
            fail=1
        fi
    fi
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$root/src" --include='*.c' --include='*.h')

for pair in "${!debt[@]}"; do
    if [ -z "${used[$pair]:-}" ]; then
        echo "docs/architecture.md: the debt \"$pair\" no longer occurs: remove it from the list"
        fail=1
    fi
done
[ "$fail" = 0 ] && echo "check_layers: every include goes down ($n layers, ${#debt[@]} listed debts)"
exit "$fail"
