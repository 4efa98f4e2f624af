"""``fastfib builds``: several interpreter builds in one run, ratios paired per round.

Real workers on this interpreter (two on a free-threaded build: GIL disabled and
PYTHON_GIL=1), tiny settings; what is checked is the shape of the answer and
that every result was verified, never a time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fastfib import gil
from fastfib.cli import main
from fastfib.measure import builds

pytestmark = pytest.mark.timeout(180)
TINY = ["--kernels", "python,cython-nogil", "--rounds", "2", "--tasks", "2", "--target-ms", "1", "--no-progress"]


def test_one_run_measures_every_build_and_pairs_every_ratio(tmp_path, capsys):
    path = tmp_path / "builds.json"
    assert main(["builds", sys.executable, *TINY, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    document = json.loads(path.read_text())
    assert document["schema"] == builds.SCHEMA and document["meta"]["rounds"] == 2
    labels = [b["label"] for b in document["builds"]]
    if gil.free_threaded_build():  # the same binary twice: the GIL A/B
        assert len(labels) == 2 and labels[1].endswith("t PYTHON_GIL=1")
        assert [b["meta"]["gil_enabled"] for b in document["builds"]] == [gil.gil_enabled(), True]
    else:
        assert len(labels) == 1 and not labels[0].endswith("t")
    assert [(r["kernel"], r["build"]) for r in document["rows"]] == [
        (k, i) for k in ("python", "cython-nogil") for i in range(len(labels))]
    for row in document["rows"]:
        assert row["error"] is None and len(row["sequential_s"]) == len(row["threads_s"]) == 2
        assert row["vs_first"]["min"] <= row["vs_first"]["median"] <= row["vs_first"]["max"]
        assert row["speedup"]["q1"] <= row["speedup"]["q3"]
    first = [r for r in document["rows"] if r["build"] == 0]
    assert all(r["vs_first"]["median"] == 1.0 for r in first)  # each round against itself
    assert "threads speedup" in out and f"build 1: {labels[0]}" in out and f"wrote {path}" in out


def test_a_wide_spread_is_called_too_noisy_not_quoted():
    assert builds.ratio_cell(builds.spread([1.9, 1.92, 1.95])) == "1.92× (1.91-1.94)"
    assert builds.ratio_cell(builds.spread([1.1, 1.3, 1.6, 1.9, 1.94])).startswith("too noisy (1.30-1.90×)")
    assert builds.spread([2.0]) == {"median": 2.0, "q1": 2.0, "q3": 2.0, "min": 2.0, "max": 2.0}


@pytest.mark.parametrize(("argv", "message"), [
    (["builds"], "the following arguments are required: PYTHON"),
    (["builds", "/no/such/python"], "/no/such/python is not an executable interpreter"),
    (["builds", sys.executable, "--kernels", "cobol"], "unknown kernel 'cobol'"),
    (["builds", sys.executable, "--rounds", "0"], "must be >= 1"),
    (["builds", sys.executable, "--target-ms", "nan"], "must be > 0"),
    (["builds", sys.executable, "--json", "/no/such/folder/b.json"], "folder /no/such/folder does not exist"),
])
def test_bad_arguments_end_in_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_interpreter_without_fastfib_is_one_line_and_status_1(capsys):
    bare = Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3"
    if not bare.exists():
        pytest.skip("no interpreter without fastfib at hand (pyenv's 3.12.1)")
    assert main(["builds", str(bare), *TINY]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fastfib: error: the worker on {bare} stopped: ") and err.count("\n") == 1
    assert "No module named 'fastfib'" in err
