"""Machine: options, runs from numpy arrays, trace files and workloads, and
statistics. Expected numbers are derived by hand (each test says how) or
from the textbook; the CLI's JSON is the referee where a test says
"as vmsim run"."""
import json
import subprocess

import numpy as np
import pytest

import vmsim

PAGE = 4096


def test_error_is_a_value_error():
    assert issubclass(vmsim.Error, ValueError)


def test_pages_touched_once_then_again():
    # 8 consecutive pages written once, then the last 4 read again, through
    # one fully associative 4-entry LRU TLB level and no page-walk caches:
    # the first 8 accesses miss (8 misses, 8 demand-zero write faults); the
    # TLB then holds pages 4..7, so the 4 reads hit. The 8 pages share one
    # leaf table, so the process has one table at each of levels 1, 2, 3
    # (3 x 4 KiB, the VmPTE rule) and a root (4 KiB).
    m = vmsim.Machine(tlb="l1d=4x4@4k/d", pwc="none")
    m.run_arrays(np.arange(8, dtype=np.uint64) * PAGE, kinds="w")
    m.run_arrays(np.arange(4, 8, dtype=np.uint64) * PAGE, kinds="r")
    s = m.stats()
    assert s["accesses"] == 12
    assert s["translations"] == 12
    assert s["tlb"]["l1d"] == {"hits": 4, "misses": 8, "reach_bytes": 4 * PAGE}
    assert s["faults"]["total"] == 8
    assert s["faults"]["demand_zero_write"] == 8
    assert s["page_tables"]["bytes"] == 3 * PAGE
    assert s["page_tables"]["root_bytes"] == PAGE
    assert s["processes"] == 1
    flat = m.stats(flat=True)
    assert flat["tlb.l1d.hits"] == 4
    assert flat["faults.demand_zero_write"] == 8
    assert flat["source"] == "arrays"


def test_kinds_as_letters_and_numbers():
    # A read of a new page maps the shared zero frame (demand_zero_read);
    # a write to it then copies it to a frame of its own (cow_zero);
    # a fetch of a third page is a read of a new page (demand_zero_read).
    for kinds in (["r", "w", "x"], np.array([0, 1, 2]), ["R", "W", "X"], "rwx",
                  np.array([b"r", b"w", b"x"]), np.array(["r", "w", "x"], dtype=object)):
        m = vmsim.Machine()
        m.run_arrays([0x10000, 0x10000, 0x20000], kinds=kinds)
        f = m.stats()["faults"]
        assert (f["demand_zero_read"], f["cow_zero"], f["demand_zero_write"]) == (2, 1, 0)


def test_processes_and_sizes():
    # Two processes touch the same address: two address spaces, each with
    # three tables and a root. An access of 2 bytes at the last byte of a
    # page touches two pages: two translations for one access.
    m = vmsim.Machine()
    m.run_arrays([PAGE, PAGE, 2 * PAGE - 1], pids=[1, 2, 1], sizes=[1, 1, 2])
    s = m.stats()
    assert s["processes"] == 2
    assert s["accesses"] == 3
    assert s["translations"] == 4
    assert s["page_tables"]["bytes"] == 2 * 3 * PAGE


# 1 MiB of memory is 256 frames; a process whose pages lie in one 2 MiB
# region takes 4 of them for its tables (root and one table at each of
# levels 1-3), so F = 252 frames hold data. Pages 0..F-1 fill them.
FRAMES = 256 - 4
REGION = 1 << 32  # 2 MiB-aligned: every page below is in one leaf table


def faults_of(refs, policy):
    m = vmsim.Machine(mem="1m", swap="1m", replace=policy)
    m.run_arrays(np.array(refs, dtype=np.uint64) * PAGE + REGION, kinds="w")
    f = m.stats()["faults"]
    # every fault loads a page: a first touch or a swap-in
    assert f["total"] == f["demand_zero_write"] + f["swap_in"]
    return f["total"], f["swap_in"]


def test_replacement_policies_by_hand():
    fill = list(range(FRAMES))
    F = FRAMES
    # fill, touch 0 again, a new page F, then 0: FIFO evicts 0 (loaded
    # first) for F, so 0 comes back from swap: F + 2 faults, one swap-in.
    # LRU evicts 1 (0 was just used): 0 hits, F + 1 faults. OPT evicts a
    # page never used again (not 0): F + 1.
    refs = fill + [0, F, 0]
    assert faults_of(refs, "fifo") == (F + 2, 1)
    assert faults_of(refs, "lru") == (F + 1, 0)
    assert faults_of(refs, "opt") == (F + 1, 0)
    # fill, F, then 0: FIFO and LRU both evict 0 for F (oldest and least
    # recent): F + 2; OPT keeps 0, the only page used again: F + 1. OPT
    # plans the arrays before running them.
    refs = fill + [F, 0]
    assert faults_of(refs, "fifo") == (F + 2, 1)
    assert faults_of(refs, "lru") == (F + 2, 1)
    assert faults_of(refs, "opt") == (F + 1, 0)


def test_opt_takes_one_run():
    m = vmsim.Machine(replace="opt")
    m.run_arrays([0])
    with pytest.raises(vmsim.Error, match="one run_\\* call per machine"):
        m.run_arrays([0])


def test_options_as_tokens_keywords_and_dict_agree():
    a = vmsim.Machine(["--tlb", "l1d=16x4@4k/d", "--page-size=2m", "--no-asid"])
    b = vmsim.Machine(tlb="l1d=16x4@4k/d", page_size="2m", no_asid=True)
    c = vmsim.Machine({"tlb": "l1d=16x4@4k/d", "page-size": "2m", "no-asid": True})
    cfgs = [m.stats()["config"] for m in (a, b, c)]
    assert cfgs[0] == cfgs[1] == cfgs[2]
    assert cfgs[0]["anon_page_size"] == 2 << 20
    assert cfgs[0]["asids"] is False
    assert cfgs[0]["tlb"][0]["arrays"][0]["entries"] == 16


def test_machine_preset_applies_first():
    # as the CLI: --machine is applied before every other option, so a
    # --tlb given before it still wins
    m = vmsim.Machine(["--tlb", "l1d=8x8@4k/d", "--machine", "skylake"])
    assert [t["name"] for t in m.stats()["config"]["tlb"]] == ["l1d"]


@pytest.mark.parametrize("options, message", [
    ({"tlb": "l1d=3"}, "--tlb"),
    ({"mem": "lots"}, "--mem"),
    ({"replace": "sometimes"}, "--replace"),
    (["--tl", "l1d=4x4"], 'unknown option "--tl"'),
    (["--strict=yes"], "--strict: expected no value"),
    (["--mem"], "--mem: expected a value, found the end"),
    (["mem", "1g"], 'expected an option such as --tlb, found "mem"'),
])
def test_bad_options_raise_vmsims_message(options, message):
    with pytest.raises(vmsim.Error) as e:
        vmsim.Machine(options)
    assert message in str(e.value)


def test_bad_options_say_what_was_expected_and_found():
    with pytest.raises(vmsim.Error, match="expected .*found \"sometimes\""):
        vmsim.Machine(replace="sometimes")


def test_bad_arrays():
    m = vmsim.Machine(cpus=2)
    with pytest.raises(vmsim.Error, match="kinds: expected r, w, x or m .* found 'q' at index 1"):
        m.run_arrays([0, 1], kinds=["r", "q"])
    with pytest.raises(vmsim.Error, match="kinds: expected r, w, x or m .* found 'rw' at index 1"):
        m.run_arrays([0, 1], kinds=["r", "rw"])
    with pytest.raises(vmsim.Error, match="kinds: expected r, w, x or m .* found 'q'$"):
        m.run_arrays([0, 1], kinds="q")
    with pytest.raises(vmsim.Error, match="kinds: expected 0 .* found 7 at index 0"):
        m.run_arrays([0], kinds=[7])
    with pytest.raises(vmsim.Error, match="addrs: expected values from 0"):
        m.run_arrays([-1])
    with pytest.raises(vmsim.Error, match="addrs: expected integers"):
        m.run_arrays([1.5])
    with pytest.raises(vmsim.Error, match="pids: expected 2 values"):
        m.run_arrays([0, 1], pids=[1, 2, 3])
    with pytest.raises(vmsim.Error, match="sizes: expected at least 1 byte"):
        m.run_arrays([0], sizes=0)
    # event 1 of the call names CPU 5 of a 2-CPU machine; event 0 ran
    with pytest.raises(vmsim.Error, match="event 1: cpu 5, but the machine has 2 CPUs"):
        m.run_arrays([0, 4096], cpus=[0, 5])
    assert m.stats()["accesses"] == 1


def test_workload_as_vmsim_run(vmsim_bin):
    # the whole document equals `vmsim run --json` of the same options
    opts = ["--tlb", "l1d=32x4@4k/d,l2=256x8@4k+2m/u:7", "--mem", "32m", "--replace", "lru"]
    spec = "random:n=20000,size=128m,write=0.5"
    m = vmsim.Machine(opts)
    m.run_workload(spec)
    cli = subprocess.run([vmsim_bin, "run", *opts, "--workload", spec, "--json", "-", "--quiet"],
                         check=True, capture_output=True, text=True)
    doc = json.loads(cli.stdout)
    assert doc.pop("argv")[:2] == ["vmsim", "run"]  # the CLI's command line, not the package's
    assert m.stats() == doc
    assert m.stats()["reclaim"]["evictions"] > 0  # memory pressure was exercised


def test_trace_file_and_arrays_agree(tmp_path):
    # A text trace written by hand: three pages of pid 7, page 1 twice.
    # Expected by hand: 4 accesses, 3 faults (2 reads of new pages map the
    # zero frame, 1 first write), the second access to page 1 a TLB hit.
    trace = tmp_path / "t.txt"
    trace.write_text("R 7 0x1000 8\nW 7 0x2000 8\nR 7 0x3000 4\nR 7 0x1008 8\n")
    m = vmsim.Machine()
    m.run_trace(trace)
    s = m.stats()
    assert s["source"] == "trace %s" % trace
    assert s["accesses"] == 4
    assert s["faults"]["total"] == 3
    assert s["faults"]["demand_zero_read"] == 2
    assert s["faults"]["demand_zero_write"] == 1
    assert s["tlb"]["misses_all_levels"] == 3
    a = vmsim.Machine()
    a.run_arrays([0x1000, 0x2000, 0x3000, 0x1008], kinds="rwrr", pids=7, sizes=[8, 8, 4, 8])
    sa = a.stats()
    sa["source"] = s["source"]
    assert sa == s
    # the format named, as an argument or as the CLI's FORMAT: prefix
    for how in ({"format": "text"}, {}):
        b = vmsim.Machine()
        b.run_trace(("%s" if how else "text:%s") % trace, **how)
        assert b.stats()["accesses"] == 4


def test_bad_trace_names_the_line(tmp_path):
    trace = tmp_path / "bad.txt"
    trace.write_text("R 1 0x1000 8\nR 1 zzz 8\n")
    m = vmsim.Machine()
    with pytest.raises(vmsim.Error, match=r"bad.txt:2: expected .*found"):
        m.run_trace(trace, "text")
    # the events before it ran
    assert m.stats()["accesses"] == 1
    with pytest.raises(vmsim.Error, match="expected a readable trace file"):
        m.run_trace(tmp_path / "missing.txt")


def test_bad_workload_spec():
    with pytest.raises(vmsim.Error, match="expected .*found"):
        vmsim.Machine().run_workload("seq:n=lots")
    with pytest.raises(vmsim.Error, match="expected .*found"):
        vmsim.Machine().run_workload("nosuchworkload")


def test_reset_stats_keeps_state():
    # After the reset the 4 pages are mapped and in the TLB: reading them
    # again is 4 hits and no fault.
    m = vmsim.Machine(tlb="l1d=8x8@4k/d")
    pages = np.arange(4, dtype=np.uint64) * PAGE
    m.run_arrays(pages, kinds="w")
    m.reset_stats()
    m.run_arrays(pages)
    s = m.stats()
    assert (s["accesses"], s["faults"]["total"], s["tlb"]["l1d"]["hits"]) == (4, 0, 4)


def test_one_run_at_a_time_per_machine(tmp_path):
    # A run reading a pipe waits for input without the GIL; meanwhile
    # another thread may not touch the machine (a struct vmsim is one
    # thread's at a time): it gets an error, not a crash. Then the run ends.
    import os
    import threading
    import time
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    w = os.open(fifo, os.O_RDWR)  # a writer, so the reader's open does not block
    try:
        os.write(w, b"R 1 0x1000 8\n")
        m = vmsim.Machine()
        t = threading.Thread(target=m.run_trace, args=(str(fifo), "text"))
        t.start()
        busy = None
        deadline = time.monotonic() + 20
        while busy is None and time.monotonic() < deadline:
            try:
                m.stats()
                time.sleep(0.01)
            except vmsim.Error as e:
                busy = str(e)
        assert busy is not None and "running in another thread" in busy
        with pytest.raises(vmsim.Error, match="running in another thread"):
            m.run_arrays([0])
        os.write(w, b"W 1 0x2000 8\n")
    finally:
        os.close(w)
    t.join(20)
    assert not t.is_alive()
    assert m.stats()["accesses"] == 2


def test_geometry_and_pwc_as_vmsim_run(vmsim_bin):
    # x86-32 has 2 levels: the preset's paging-structure caches of levels 3
    # and 4 go, l2 stays (Intel SDM 4.10.3: a PDE cache is all 32-bit
    # paging has); a --pwc level it lacks is refused with the CLI's words,
    # whatever the order of --pwc and --geometry
    pwc = vmsim.Machine(geometry="x86-32").stats()["config"]["pwc"]
    assert [k for k in pwc if isinstance(pwc[k], dict)] == ["l2"]
    args = ["--pwc", "l4=2x2,l3=4x4,l2=32x4", "--geometry", "x86-32"]
    with pytest.raises(vmsim.Error) as e:
        vmsim.Machine(args)
    cli = subprocess.run([vmsim_bin, "run", *args, "--quiet"], capture_output=True, text=True)
    assert cli.returncode == 2
    assert cli.stderr.strip() == "vmsim: " + str(e.value)


@pytest.mark.parametrize("text, options, stopped_by", [
    ("R 1 0x1000 8\nR 1 zzz 8\n", [], "trace error"),
    ("R 1 0x1000 8\nR 1 0x2000 8 5\n", ["--cpus", "2"], "event error"),
])
def test_stopped_run_as_vmsim_run(vmsim_bin, tmp_path, text, options, stopped_by):
    # a run that stops early says so as the CLI's JSON does: complete
    # false, stopped_by why; the statistics cover the events before it
    trace = tmp_path / "t.txt"
    trace.write_text(text)
    m = vmsim.Machine(options)
    with pytest.raises(vmsim.Error):
        m.run_trace(trace)
    assert m.stopped == stopped_by
    s = m.stats()
    assert (s["complete"], s["stopped_by"], s["accesses"]) == (False, stopped_by, 1)
    cli = subprocess.run([vmsim_bin, "run", *options, "--trace", str(trace), "--json", "-",
                          "--quiet"], capture_output=True, text=True)
    assert cli.returncode == 1
    doc = json.loads(cli.stdout)
    doc.pop("argv")  # the CLI's command line, which the package's document does not have
    assert list(s) == list(doc)
    assert s == doc


def test_config_file_option(vmsim_bin, tmp_path):
    # --config FILE through the library's options: the preset as a file
    # (vmsim presets --dump) is the preset (docs/cli.md, "Configurations as files")
    dump = subprocess.run([vmsim_bin, "presets", "--dump", "zen4"], check=True,
                          capture_output=True, text=True).stdout
    f = tmp_path / "zen4.json"
    f.write_text(dump)
    spec = "zipf:n=3000,size=64m"
    a, b = vmsim.Machine(["--config", str(f)]), vmsim.Machine(["--machine", "zen4"])
    a.run_workload(spec)
    b.run_workload(spec)
    assert a.stats() == b.stats()
    f.write_text('{"cpus": "x"}')
    with pytest.raises(vmsim.Error, match=r"config\.cpus: expected a number of CPUs"):
        vmsim.Machine(["--config", str(f)])
