#!/usr/bin/env python3
"""The README's break-even figure (docs/img/sweep-break-even.png) from Python.

The README makes it with

    vmsim sweep --workload sparse:n=50000 --axis pt=radix,hashed,cuckoo \\
                --axis workload.regions=1..4096*4 -o sweep.csv --plot FIG.png

This runs the same grid with vmsim.sweep and draws page-table memory (roots
included) against the number of sparse regions, one line per organization,
log-log, with the first crossing of radix and hashed marked, as `vmsim plot
--kind memory` does. Usage:

    python3 break_even.py [-o FIG.png] [--n ACCESSES] [--max-regions R] [-j JOBS]
"""
import argparse
import math
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

import vmsim  # noqa: E402

ORGS = ["radix", "hashed", "cuckoo"]


def regions_axis(largest):
    """1, 4, 16, ... up to largest: the CLI's range 1..largest*4."""
    out, r = [], 1
    while r <= largest:
        out.append(r)
        r *= 4
    return out


def break_even(df, a="radix", b="hashed"):
    """The first two neighbouring region counts between which a - b changes
    sign (page-table bytes), or None: where the plot's dashed line goes."""
    xa = df[df["pt"] == a].set_index("workload.regions")["page_table_bytes"]
    xb = df[df["pt"] == b].set_index("workload.regions")["page_table_bytes"]
    prev = None
    for x in xa.index:
        d = xa[x] - xb[x]
        if prev is not None and ((prev[1] < 0 <= d) or (prev[1] > 0 >= d)):
            return prev[0], x
        prev = (x, d)
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default="sweep-break-even.png", help="the PNG to write")
    p.add_argument("--n", type=int, default=50000, help="accesses of the sparse workload")
    p.add_argument("--max-regions", type=int, default=4096, help="largest region count")
    p.add_argument("-j", "--jobs", type=int, default=2, help="points run at once")
    args = p.parse_args(argv)

    df = vmsim.sweep({"workload": "sparse:n=%d" % args.n},
                     axes={"pt": ORGS, "workload.regions": regions_axis(args.max_regions)},
                     jobs=args.jobs)
    failed = df[df["status"] != "ok"]
    if len(failed):
        sys.exit("break_even: %d points failed: %s" % (len(failed), failed["error"].iloc[0]))

    fig, ax = plt.subplots(figsize=(8, 5))
    for org in ORGS:
        s = df[df["pt"] == org]
        ax.plot(s["workload.regions"], s["page_table_bytes"], marker="o", label=org)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(regions_axis(args.max_regions))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: "%g KiB" % (v / 1024) if v < 1 << 20 else "%g MiB" % (v / (1 << 20))))
    ax.set_xlabel("regions (sparsity)")
    ax.set_ylabel("page-table memory (roots included)")
    ax.set_title("page-table memory (roots included)")
    ax.grid(True, which="major", linestyle=":", color="0.8")
    be = break_even(df)
    if be:
        mid = math.sqrt(be[0] * be[1])  # the middle on a log axis
        ax.axvline(mid, linestyle="--", color="0.4")
        ax.text(0.02, 0.96, "break-even of radix and hashed: workload.regions between %g and %g"
                % be, transform=ax.transAxes, va="top")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print("%s: %d points; break-even of radix and hashed: %s" % (
        args.output, len(df), "between %g and %g regions" % be if be else "none"))
    return df, be


if __name__ == "__main__":
    main()
