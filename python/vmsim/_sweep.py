"""vmsim.sweep: a grid of runs as a pandas DataFrame, one row per point.

The grid is `vmsim sweep`'s (docs/cli.md, "vmsim sweep"): axes in order, the
first varying slowest; an axis KEY is a `vmsim run` option name (its value
replaces the base's), `workload` or `trace` (the input), `workload.PARAM` (a
parameter set or replaced in the workload spec, last), or a NAME written
{NAME} in a base option or the input. Its columns are the CLI's, in its
order (point, status, the axes, source, config.*, the statistics columns,
error, elapsed_s, cpu_s, run_config), then every statistic of the run's JSON
document under its flat dotted name. An axis's column follows the CLI's row
schema (docs/cli.md, "The row schema"): sizes with a binary unit become
bytes in KEY_bytes, plain numbers numbers, anything else text. Points run in this process, on `jobs`
threads (the simulation releases the GIL).
"""
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import product

from . import _core
from ._core import Error

# The CLI's statistics columns (src/cli/sweep_output.c, docs/cli.md): name,
# how it is made from the run's JSON: ("copy", path), ("sum", a, b) or
# ("ratio", a, b) with 0 for a zero denominator.
STAT_COLUMNS = [
    ("accesses", "copy", "accesses"),
    ("translations", "copy", "translations"),
    ("tlb_misses", "copy", "tlb.misses_all_levels"),
    ("tlb_miss_rate", "ratio", "tlb.misses_all_levels", "translations"),
    ("walks", "copy", "walks.count"),
    ("walk_refs", "copy", "walks.refs"),
    ("refs_per_walk", "copy", "walks.refs_per_walk"),
    ("walk_cycles", "copy", "walks.cycles"),
    ("cycles_per_walk", "ratio", "walks.cycles", "walks.count"),
    ("pwc_hits", "copy", "pwc.hits"),
    ("pwc_misses", "copy", "pwc.misses"),
    ("faults", "copy", "faults.total"),
    ("evictions", "copy", "reclaim.evictions"),
    ("swap_writes", "copy", "swap.writes"),
    ("frames_peak", "copy", "memory.frames_peak"),
    ("page_table_bytes", "sum", "page_tables.bytes", "page_tables.root_bytes"),
    ("page_table_peak_bytes", "copy", "page_tables.peak_bytes_with_roots"),
    ("cycles", "copy", "cycles"),
    ("cycles_translation", "copy", "cycles_translation"),
    ("cycles_per_access", "copy", "cycles_per_access"),
    ("translation_share", "copy", "translation_share"),
]

# The CLI's configuration columns: name, dotted path in the document's config.
CONFIG_COLUMNS = [
    ("config.machine", "machine"),
    ("config.pt", "pt"),
    ("config.walker", "cost.walker"),
    ("config.geometry", "geometry.name"),
    ("config.page_size", "geometry.page_size"),
    ("config.levels", "geometry.levels"),
    ("config.tlb", None),
    ("config.tlb_entries", None),
    ("config.pwc", None),
    ("config.phys_bytes", "phys_bytes"),
    ("config.swap_bytes", "kernel.swap_bytes"),
    ("config.replace", "kernel.replace"),
    ("config.thp", "kernel.thp"),
    ("config.cpus", "cpus"),
    ("config.asids", "asids"),
    ("config.anon_page_size", "anon_page_size"),
    ("config.seed", "seed"),
]

RESULT_COLUMNS = {"point", "status", "source", "error", "config", "run_config", "elapsed_s",
                  "cpu_s"}

_SIZE = re.compile(r"^([0-9]+)([kmgtKMGT]?)$")
_PLAIN = re.compile(r"^[0-9]*\.?[0-9]*$")


def _axis_column(key, values):
    """The axis's column and its values as they go into rows, as the CLI's
    sweep_grid.c classifies them: all sizes (digits with an optional binary
    unit k, m, g, t), one with a unit, and not warmup (decimal units): bytes
    in KEY_bytes ('-' as '_'); all plain decimal numbers: numbers; else text."""
    texts = [str(v) for v in values]
    sizes = [_SIZE.match(t) for t in texts]
    if key != "warmup" and all(sizes) and any(m.group(2) for m in sizes):
        shift = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}
        return (key + "_bytes").replace("-", "_"), \
            [int(m.group(1)) << shift[m.group(2).lower()] for m in sizes]
    if all(_PLAIN.match(t) and any(c.isdigit() for c in t) and
           sum(c.isdigit() for c in t) <= 18 for t in texts):
        return key, [float(t) if "." in t else int(t) for t in texts]
    return key, texts


def _get(doc, path):
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _size_text(v):
    """Bytes with the largest binary unit that divides them, as --tlb writes them."""
    for u, letter in ((4, "t"), (3, "g"), (2, "m"), (1, "k")):
        if v and v % (1 << (10 * u)) == 0:
            return "%d%s" % (v >> (10 * u), letter)
    return str(v)


def _tlb_spec(levels):
    """config.tlb as a --tlb spec with every default written out; entries summed."""
    parts, entries = [], 0
    for lvl in levels or []:
        arrays = []
        for arr in lvl.get("arrays", []):
            entries += arr["entries"]
            arrays.append("%dx%d@%s" % (arr["entries"], arr["ways"],
                                        "+".join(_size_text(s) for s in arr["page_sizes"])))
        parts.append("%s=%s/%s:%d:%s" % (lvl["name"], "|".join(arrays), lvl.get("side", "u"),
                                         lvl.get("latency", 0), lvl.get("replacement", "lru")))
    return (",".join(parts) if parts else "none"), entries


def _pwc_spec(pwc):
    items = ["%s=%dx%d" % (k, v["entries"], v["ways"])
             for k, v in (pwc or {}).items() if isinstance(v, dict)]
    return ",".join(items) if items else "none"


def _stat_columns(doc):
    row = {}
    for name, how, *paths in STAT_COLUMNS:
        vals = [_get(doc, p) for p in paths]
        if any(v is None for v in vals):
            row[name] = None
        elif how == "copy":
            row[name] = vals[0]
        elif how == "sum":
            row[name] = vals[0] + vals[1]
        else:
            row[name] = vals[0] / vals[1] if vals[1] else 0
    return row


def _config_columns(cfg):
    row = {}
    tlb, entries = _tlb_spec(cfg.get("tlb"))
    for name, path in CONFIG_COLUMNS:
        if name == "config.tlb":
            row[name] = tlb
        elif name == "config.tlb_entries":
            row[name] = entries
        elif name == "config.pwc":
            row[name] = _pwc_spec(cfg.get("pwc"))
        else:
            row[name] = _get(cfg, path)
    return row


def _set_param(spec, key, value):
    """spec with key=value last and every other key=... dropped (the CLI's
    sweep_set_param)."""
    name, _, params = spec.partition(":")
    items = [t for t in params.split(",") if t and not t.startswith(key + "=")]
    return "%s:%s" % (name, ",".join(items + ["%s=%s" % (key, value)]))


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _flag_value(v):
    if v is True or v in ("on", 1):
        return True
    if v is False or v in ("off", 0):
        return False
    return None


def _base_pairs(base):
    """Base options as [(name, value or None)], from a dict or tokens."""
    from . import option_tokens
    takes = _core.option_names()
    tokens = option_tokens(base)
    pairs, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        name, eq, value = tok[2:].partition("=")
        if not tok.startswith("--") or name not in takes:
            raise Error("sweep: base options: expected a machine option of vmsim run, found "
                        "\"%s\"" % tok)
        if takes[name] and not eq:
            if i + 1 >= len(tokens):
                raise Error("--%s: expected a value, found the end of the options" % name)
            value = tokens[i + 1]
            i += 1
        pairs.append((name, value if takes[name] else None))
        i += 1
    return pairs


def _plan(base, axes, workload, trace):
    """Check the grid as `vmsim sweep` does; returns the kinds of the axes."""
    takes = _core.option_names()
    kinds = {}
    texts = [v for _, v in base if v is not None] + [x for x in (workload, trace) if x]
    used = {m for t in texts for m in _PLACEHOLDER.findall(t)}
    for key, values in axes.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise Error("axis %s: expected a non-empty list of values, found %r" % (key, values))
        if key == "workload":
            kinds[key] = "workload"
        elif key == "trace":
            kinds[key] = "trace"
        elif key.startswith("workload.") and len(key) > 9:
            kinds[key] = "param"
        elif key in takes:
            kinds[key] = "option" if takes[key] else "flag"
            for v in values:
                if kinds[key] == "flag" and _flag_value(v) is None:
                    raise Error("axis %s: --%s is a flag: expected on or off, found %r"
                                % (key, key, v))
        elif key in used:
            kinds[key] = "var"
        else:
            raise Error("axis %s: expected a `vmsim run` option name (e.g. tlb, pwc, pt, "
                        "geometry, mem, replace, thp, page-size), workload, trace, "
                        "workload.PARAM, or a NAME written {NAME} in another option, found "
                        "\"%s\"" % (key, key))
        column = _axis_column(key, values)[0]
        if any(c in RESULT_COLUMNS or c.startswith("config.") or
               any(c == s[0] for s in STAT_COLUMNS) for c in (key, column)):
            raise Error("axis %s: expected a KEY whose column is not also a result column "
                        "(point, status, source, error, run_config, config.*, the "
                        "statistics), found \"%s\"" % (key, column))
    has_trace = trace is not None or "trace" in axes
    has_workload = workload is not None or "workload" in axes
    if has_trace and has_workload:
        raise Error("sweep: give workload or trace (as arguments or axes), not both")
    if has_trace and any(k == "param" for k in kinds.values()):
        raise Error("axis %s: a trace has no parameters: expected a workload, found a trace"
                    % next(k for k, v in kinds.items() if v == "param"))
    for name in used:
        if kinds.get(name) != "var":
            raise Error("expected {%s} to name an axis, found no axis %s" % (name, name))
    return kinds


def _point(base, kinds, values, workload, trace):
    """The options and input of one point: (tokens, workload, trace)."""
    var = {k: str(v) for k, v in values.items() if kinds[k] == "var"}

    def expand(text):
        return _PLACEHOLDER.sub(lambda m: var.get(m.group(1), m.group(0)), text)

    set_here = {k for k in values if kinds[k] in ("option", "flag")}
    tokens = []
    for name, value in base:
        if name in set_here:
            continue
        tokens.append("--" + name)
        if value is not None:
            tokens.append(expand(value))
    for key, v in values.items():
        if kinds[key] == "option":
            tokens += ["--" + key, expand(str(v))]
        elif kinds[key] == "flag" and _flag_value(v):
            tokens.append("--" + key)
        elif kinds[key] == "workload":
            workload = str(v)
        elif kinds[key] == "trace":
            trace = str(v)
    if trace is not None:
        return tokens, None, expand(trace)
    spec = expand(workload if workload is not None else "default")
    for key, v in values.items():
        if kinds[key] == "param":
            spec = _set_param(spec, key[9:], expand(str(v)))
    return tokens, spec, None


def _run_point(index, values, tokens, workload, trace, columns=None):
    from . import Machine, flatten
    row = {"point": index, "status": "ok"}
    row.update(columns if columns is not None else values)
    start, cpu = time.monotonic(), time.thread_time()
    doc, error = None, ""
    try:
        m = Machine(tokens)
        if trace is not None:
            m.run_trace(trace)
        else:
            m.run_workload(workload)
        doc = m.stats()
    except Error as e:
        error = str(e)
    elapsed, cpu = time.monotonic() - start, time.thread_time() - cpu
    if doc is None:
        row["status"] = "failed"
        row["source"] = None
        row.update({name: None for name, _ in CONFIG_COLUMNS})
        row.update({c[0]: None for c in STAT_COLUMNS})
    else:
        row["source"] = doc.get("source")
        row.update(_config_columns(doc["config"]))
        row.update(_stat_columns(doc))
    row["error"] = error
    row["elapsed_s"] = elapsed
    row["cpu_s"] = cpu
    row["run_config"] = json.dumps(doc["config"], separators=(",", ":")) if doc else None
    if doc is not None:
        stats = {k: v for k, v in doc.items() if k not in ("config", "source", "complete",
                                                           "warnings")}
        for k, v in flatten(stats).items():
            row.setdefault(k, v)
    return row


def sweep(base_options=None, axes=None, workload=None, trace=None, jobs=1):
    """Run every point of the grid and return a pandas DataFrame, one row per
    point in grid order (the first axis varies slowest).

    base_options: the options of every point (a dict of keywords or a list
    of tokens, as Machine takes them); a "workload" or "trace" key there is
    the input. axes: {KEY: [values]} in order (docs/cli.md, "vmsim sweep",
    says what a KEY may be). jobs: points run at once, on threads. A point
    vmsim refuses gets status "failed" and its error; the others run on.
    """
    import pandas as pd
    axes = dict(axes or {})
    if isinstance(base_options, dict):
        base_options = dict(base_options)
        workload = base_options.pop("workload", workload)
        trace = base_options.pop("trace", trace)
    if workload is not None and trace is not None:
        raise Error("sweep: give workload or trace, not both")
    base = _base_pairs(base_options)
    kinds = _plan(base, axes, workload, trace)
    if not isinstance(jobs, int) or jobs < 1:
        raise Error("sweep: jobs: expected a whole number of at least 1, found %r" % (jobs,))
    keys = list(axes)
    typed = {k: _axis_column(k, axes[k]) for k in keys}
    points = []
    for index, combo in enumerate(product(*(range(len(axes[k])) for k in keys))):
        values = {k: axes[k][i] for k, i in zip(keys, combo)}
        columns = {typed[k][0]: typed[k][1][i] for k, i in zip(keys, combo)}
        points.append((index, values) + _point(base, kinds, values, workload, trace) +
                      (columns,))
    if jobs == 1:
        rows = [_run_point(*p) for p in points]
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(lambda p: _run_point(*p), points))
    return pd.DataFrame(rows)
