"""vmsim.sweep: the grid, its columns and its errors. The referee of the
numbers is the CLI: a sweep's DataFrame must hold what `vmsim sweep -o
x.csv` writes for the same points (docs/cli.md: a CLI row is a single run
of the same options, and tests/test_sweep.c checks that column by column),
read back with pandas."""
import json
import math
import subprocess

import pandas as pd
import pytest

import vmsim

TIMING = {"elapsed_s", "cpu_s"}


def cli_sweep(vmsim_bin, tmp_path, args):
    out = tmp_path / "x.csv"
    r = subprocess.run([vmsim_bin, "sweep", *args, "-o", str(out), "--quiet", "-j", "2"],
                       capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr  # 1: a point failed, on purpose
    # round_trip: the CSV's ratios have the fewest digits that read back as
    # the same double; pandas' fast parser may miss the last bit
    return pd.read_csv(out, float_precision="round_trip", keep_default_na=False)


def norm(v):
    """A cell as the CSV would hold it: missing as "", booleans as true/false,
    numbers as floats (exact: CLI integers are below 2^53), text as text."""
    if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def assert_same_rows(cli, df):
    assert list(df.columns[:len(cli.columns)]) == list(cli.columns)
    assert len(df) == len(cli)
    for col in cli.columns:
        if col in TIMING:
            continue
        want, got = cli[col].tolist(), df[col].tolist()
        if col == "run_config":
            want = [json.loads(x) if x else None for x in want]
            got = [json.loads(x) if x else None for x in got]
        else:
            want, got = [norm(v) for v in want], [norm(v) for v in got]
        assert got == want, col


def test_break_even_grid_matches_cli_csv(vmsim_bin, tmp_path):
    cli = cli_sweep(vmsim_bin, tmp_path, ["--workload", "sparse:n=20000",
                                          "--axis", "pt=radix,hashed,cuckoo",
                                          "--axis", "workload.regions=1,16,256"])
    df = vmsim.sweep({"workload": "sparse:n=20000"},
                     axes={"pt": ["radix", "hashed", "cuckoo"],
                           "workload.regions": [1, 16, 256]})
    assert_same_rows(cli, df)
    # first axis slowest: points 0-2 are radix with 1, 16, 256 regions
    assert df["pt"].tolist()[:3] == ["radix"] * 3
    assert df["workload.regions"].tolist()[:3] == [1, 16, 256]
    assert df["source"][1] == "workload sparse:n=20000,regions=16"


def test_placeholders_flags_and_failures_match_cli_csv(vmsim_bin, tmp_path):
    # {NAME} in an option and in the workload, a flag axis, an option axis
    # replacing the base's, and a point vmsim refuses (--mem below 1m)
    tlb = "l1d=16x4@4k/d,stlb={n}x8@4k/u:8"
    cli = cli_sweep(vmsim_bin, tmp_path, [
        "--workload", "random:n=4000,size={ws},write=0.5", "--tlb", tlb, "--mem", "64m",
        "--axis", "ws=4m,16m", "--axis", "n=64,512", "--axis", "no-asid=off,on",
        "--axis", "mem=512k,2m"])
    df = vmsim.sweep({"workload": "random:n=4000,size={ws},write=0.5", "tlb": tlb,
                      "mem": "64m"},
                     axes={"ws": ["4m", "16m"], "n": [64, 512], "no-asid": ["off", "on"],
                           "mem": ["512k", "2m"]})
    assert_same_rows(cli, df)
    assert df["status"].tolist() == ["failed", "ok"] * 8
    assert df["error"][0] == '--mem: expected a size of at least 1m such as 16g, found "512k"'
    assert df["config.tlb_entries"][1] == 16 + 64 and df["config.tlb_entries"][5] == 16 + 512
    # the row schema (docs/cli.md): sizes as bytes under KEY_bytes, numbers as numbers
    assert df["ws_bytes"].tolist()[::8] == [4 << 20, 16 << 20]
    assert df["mem_bytes"].tolist()[:2] == [512 << 10, 2 << 20]
    assert df["n"].tolist()[:8:4] == [64, 512] and "ws" not in df and "config" not in df
    assert (df["evictions"][1::2] > 0).any()  # 2m under about 6m of writes at 16m


def test_jobs_give_the_same_rows():
    args = dict(base_options={"workload": "sparse:n=5000"},
                axes={"pt": ["radix", "hashed"], "workload.regions": [1, 64]})
    a = vmsim.sweep(jobs=1, **args).drop(columns=list(TIMING))
    b = vmsim.sweep(jobs=2, **args).drop(columns=list(TIMING))
    pd.testing.assert_frame_equal(a, b)


def test_flat_statistics_follow_the_cli_columns():
    df = vmsim.sweep({"workload": "seq:n=2000", "tlb": "l1d=8x8@4k/d"},
                     axes={"pwc": ["none", "unified=16x4"]})
    # every statistic of the run's JSON under its flat name, as Machine.stats(flat=True)
    m = vmsim.Machine(tlb="l1d=8x8@4k/d", pwc="none")
    m.run_workload("seq:n=2000")
    flat = m.stats(flat=True)
    row = df.iloc[0]
    for k, v in flat.items():
        if k.startswith("config.") or k in ("source", "complete") or k.startswith("warnings"):
            continue
        assert row[k] == v, k
    assert row["tlb.l1d.misses"] == row["tlb_misses"]
    assert row["page_table_bytes"] == row["page_tables.bytes"] + row["page_tables.root_bytes"]


def test_trace_axis(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("R 1 0x1000 8\n")
    b.write_text("R 1 0x1000 8\nW 1 0x5000 8\nW 1 0x9000 8\n")
    df = vmsim.sweep(axes={"trace": ["text:%s" % a, str(b)]})
    assert df["accesses"].tolist() == [1, 3]
    assert df["source"].tolist() == ["trace text:%s" % a, "trace %s" % b]


@pytest.mark.parametrize("kw, message", [
    (dict(axes={"colour": [1]}), "expected a `vmsim run` option name"),
    (dict(axes={"strict": ["yes"]}), "--strict is a flag: expected on or off"),
    (dict(base_options={"tlb": "l1d={n}x4"}, axes={"pt": ["radix"]}),
     "expected {n} to name an axis"),
    (dict(trace="x.txt", axes={"workload.n": [1]}), "a trace has no parameters"),
    (dict(base_options={"tlb": "l1d={faults}x4"}, axes={"faults": [4]}),
     "not also a result column"),
    (dict(axes={"pt": []}), "expected a non-empty list"),
    (dict(workload="seq", trace="x.txt"), "not both"),
    (dict(axes={"pt": ["radix"]}, jobs=0), "jobs: expected a whole number"),
])
def test_bad_grids(kw, message):
    with pytest.raises(vmsim.Error, match=message.replace("{", r"\{").replace("}", r"\}")):
        vmsim.sweep(**kw)
