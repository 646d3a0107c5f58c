"""Shared pieces of the vmsim package's tests: where the repository and the
`vmsim` command are (the CLI is the referee of the round-trip tests)."""
import os
import pathlib

import pytest

REPO = pathlib.Path(os.environ.get("VMSIM_SOURCE_DIR",
                                   pathlib.Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="session")
def vmsim_bin():
    """The vmsim command of the release build (VMSIM_BIN overrides): its
    absence is a failure, not a skip, as in every stage of make test."""
    path = pathlib.Path(os.environ.get("VMSIM_BIN", REPO / "build" / "release" / "vmsim"))
    assert path.is_file() and os.access(path, os.X_OK), \
        "expected the vmsim command at %s (cmake --build build/release), found none" % path
    return str(path)


def pytest_report_header(config):
    import vmsim
    return "vmsim package: %s" % vmsim.__file__
