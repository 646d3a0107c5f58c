"""examples/break_even.py runs, so that it cannot rot: it writes a PNG and
finds the README's break-even (README.md: radix and hashed cross between 64
and 256 sparse regions, the figure docs/img/sweep-break-even.png, made by
`vmsim sweep` and `vmsim plot`)."""
import importlib.util
import pathlib

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "break_even.py"


def load():
    spec = importlib.util.spec_from_file_location("break_even", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_break_even_figure(tmp_path, capsys):
    png = tmp_path / "be.png"
    df, be = load().main(["-o", str(png)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(df) == 3 * 7  # three organizations, 1..4096 by 4
    assert be == (64, 256)
    assert "between 64 and 256 regions" in capsys.readouterr().out


def test_break_even_rule():
    # the crossing rule by hand: radix - hashed = -1, -1, +2 at 1, 4, 16
    import pandas as pd
    df = pd.DataFrame({"pt": ["radix"] * 3 + ["hashed"] * 3,
                       "workload.regions": [1, 4, 16] * 2,
                       "page_table_bytes": [1, 2, 5, 2, 3, 3]})
    assert load().break_even(df) == (4, 16)
    df["page_table_bytes"] = [1, 2, 3, 2, 3, 4]
    assert load().break_even(df) is None
