"""vmsim from Python: machines, runs, statistics and sweeps (docs/python.md).

    import vmsim
    m = vmsim.Machine(tlb="l1d=64x4@4k/d", mem="1g")
    m.run_workload("seq:n=1000")
    m.stats()["tlb"]["l1d"]["hits"]          # the document of `vmsim run --json`
    m.stats(flat=True)["tlb.l1d.hits"]       # the same, dotted names

    df = vmsim.sweep({"workload": "sparse:n=50000"},
                     axes={"pt": ["radix", "hashed"], "workload.regions": [1, 16, 256]})

Options are those of `vmsim run` (docs/cli.md), as keywords (dashes written
as underscores, flags as True) or as the command line's tokens; what vmsim
refuses raises vmsim.Error with vmsim's own message.
"""
import json

from . import _core
from ._core import Error
from ._sweep import sweep

__all__ = ["Machine", "Error", "sweep", "option_tokens", "flatten", "KINDS"]

#: access kinds of run_arrays: enum vmsim_access_kind (include/vmsim/event.h)
KINDS = {"r": 0, "w": 1, "x": 2, "m": 3}

_ACCESS = 0  # VMSIM_EV_ACCESS


def option_tokens(options=None, **kwargs):
    """The `vmsim run` tokens of options given as a list of tokens
    (["--tlb", "l1d=64x4", "--strict"]), a dict or keywords ({"tlb": ...,
    "page_size": "2m", "strict": True}). A keyword False or None is left
    out (a flag off, an option at its default)."""
    tokens = []
    if options is None:
        options = {}
    if isinstance(options, str):
        raise TypeError("options: expected a list of tokens or a dict, found a str "
                        "(split it: %r)" % options.split())
    if isinstance(options, dict):
        items = list(options.items())
    else:
        tokens = [str(t) for t in options]
        items = []
    for name, value in items + list(kwargs.items()):
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        tokens.append(flag)
        if value is not True:
            tokens.append(str(value))
    return tokens


def flatten(doc, prefix=""):
    """A nested document as {"dotted.name": scalar}: objects by their keys,
    lists by their indices ("walks.refs_histogram.3")."""
    out = {}

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + "." + k if path else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, "%s.%d" % (path, i))
        else:
            out[path] = value

    walk(doc, prefix)
    return out


def _array(values, dtype, n, what):
    """values as a contiguous numpy array of dtype and length n (a scalar
    repeated), refusing values the type cannot hold."""
    import numpy as np
    a = np.asarray(values)
    if a.ndim == 0:
        a = np.full(n, a)
    if a.ndim != 1 or len(a) != n:
        raise Error("%s: expected %d values (one per address), found shape %s"
                    % (what, n, a.shape))
    if a.dtype.kind == "f":
        raise Error("%s: expected integers, found %s values" % (what, a.dtype))
    if a.dtype.kind in "iu" and len(a):
        info = np.iinfo(dtype)
        lo, hi = a.min(), a.max()
        if lo < 0 or int(hi) > info.max:
            raise Error("%s: expected values from 0 to %d, found %d"
                        % (what, info.max, lo if lo < 0 else hi))
    return np.ascontiguousarray(a, dtype=dtype)


def _letter_codes(letters):
    """Codes of an array of one-character strings (dtype U1 or S1), 255
    where the character is no kind: a table lookup, not a Python loop."""
    import numpy as np
    lut = np.full(128, 255, dtype=np.uint8)
    for letter, code in KINDS.items():
        lut[ord(letter)] = lut[ord(letter.upper())] = code
    points = letters.view(np.uint32 if letters.dtype.kind == "U" else np.uint8)
    return lut[np.minimum(points, 127)]


def _kinds(kinds, n):
    """kinds as uint8 enum values: ints 0..3 or the letters r, w, x, m."""
    import numpy as np
    if kinds is None:
        return np.zeros(n, dtype=np.uint8)
    if isinstance(kinds, str) and len(kinds) > 1:
        kinds = list(kinds)  # "rwr": one letter per access
    a = np.asarray(kinds)
    if a.dtype.kind in "USO":
        scalar = a.ndim == 0
        a = np.atleast_1d(a)
        if a.dtype.kind == "O" or a.dtype.itemsize > (4 if a.dtype.kind == "U" else 1):
            a = a.astype("U")  # objects, or strings longer than a letter
        if a.dtype.itemsize > 4:
            codes = np.where(np.char.str_len(a) == 1, _letter_codes(a.astype("U1")), 255)
        else:
            codes = _letter_codes(np.ascontiguousarray(a))
        if (codes == 255).any():
            i = int(np.argmax(codes == 255))
            raise Error("kinds: expected r, w, x or m (or 0..3), found %r%s"
                        % (str(a[i]), "" if scalar else " at index %d" % i))
        kinds = codes[0] if scalar else codes
    k = _array(kinds, np.uint8, n, "kinds")
    if len(k) and k.max() > 3:
        i = int(np.argmax(k > 3))
        raise Error("kinds: expected 0 (read), 1 (write), 2 (fetch) or 3 (modify), "
                    "found %d at index %d" % (k[i], i))
    return k


class Machine(_core.Machine):
    """A simulated machine: Machine(tlb="l1d=64x4", mem="1g") or
    Machine(["--tlb", "l1d=64x4", "--mem", "1g"]): the options of `vmsim run`.

    Run it with run_workload, run_trace or run_arrays (several runs add up,
    as one longer input would); read it with stats()."""

    def __init__(self, options=None, **kwargs):
        super().__init__(option_tokens(options, **kwargs))

    def run_trace(self, path, format=None):
        """Run a trace file to its end. format: one of trace_formats, or
        None to detect it; "FORMAT:PATH" as the CLI's --trace works too."""
        path = str(path)
        name = path
        if format is None and ":" in path:
            prefix, rest = path.split(":", 1)
            if prefix in _core.trace_formats or prefix == "auto":
                format, path = (None if prefix == "auto" else prefix), rest
        if format == "auto":
            format = None
        return super().run_trace(path, format, name)

    def run_workload(self, spec):
        """Run a synthetic workload, "NAME[:k=v,...]" (docs/workloads.md)."""
        return super().run_workload(str(spec))

    def run_arrays(self, addrs, kinds=None, pids=None, sizes=None, cpus=None):
        """Run one access per element of addrs (virtual addresses, uint64).

        kinds: 'r', 'w', 'x', 'm' or 0..3 (read, write, fetch, modify), one
        for all or one per address (a list, an array or a string such as
        "rwr"; default read); pids: process ids (default
        1); sizes: bytes per access (default 1: one translation each); cpus:
        the CPU of each access (default 0). Processes need no spawn: a
        touched address with no mapping is anonymous memory (DESIGN.md)."""
        import numpy as np
        a = np.asarray(addrs)
        if a.ndim != 1:
            raise Error("addrs: expected a one-dimensional array, found shape %s" % (a.shape,))
        n = len(a)
        addr = _array(a, np.uint64, n, "addrs")
        kind = _kinds(kinds, n)
        pid = _array(1 if pids is None else pids, np.uint32, n, "pids")
        size = _array(1 if sizes is None else sizes, np.uint64, n, "sizes")
        if len(size) and size.min() == 0:
            raise Error("sizes: expected at least 1 byte per access, found 0 at index %d"
                        % int(np.argmin(size)))
        cpu = _array(0 if cpus is None else cpus, np.uint16, n, "cpus")
        types = np.full(n, _ACCESS, dtype=np.uint8)
        return self.run_events(types, kind, cpu, pid, addr, size, "arrays")

    def stats(self, flat=False):
        """The statistics and configuration: the document of `vmsim run
        --json` (docs/stats.md) as a nested dict, or flat={"a.b.c": value}.
        After a run that raised, complete is False and stopped_by says why
        ("trace error", "event error", "SIGINT"), as in the CLI's."""
        doc = json.loads(self.json())
        if self.stopped:  # as `vmsim run --json` of a run that stopped early
            items = list(doc.items())
            at = [k for k, _ in items].index("complete") + 1
            doc = dict(items[:at] + [("stopped_by", self.stopped)] + items[at:])
            doc["complete"] = False
        return flatten(doc) if flat else doc


trace_formats = _core.trace_formats
workload_names = _core.workload_names
machine_names = _core.machine_names
pt_names = _core.pt_names
