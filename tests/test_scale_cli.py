"""``fastfib scale`` and ``compare`` from the command line (``crossover``: test_lab_cli.py).

Small plans only (1 ms tasks, one repeat): these check behaviour, never speed.
"""

from __future__ import annotations

import json
import signal
import sys

import pytest

from fastfib import report
from fastfib.cli import main
from helpers import forks_beside_threads, interrupt_when

pytestmark = pytest.mark.timeout(90)

SMALL = ["-k", "python,cython-nogil", "-w", "1,2", "--target-ms", "1", "--repeats", "1"]


def _fails_cleanly(capsys, argv, message):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastfib: error: "), err
    assert message in lines[0]
    assert "calibrating" not in err  # refused before any work


@pytest.mark.parametrize("argv, message", [
    (["scale", "-k", "python,turbo"], "unknown kernel 'turbo'; valid kernels: python"),
    (["scale", "-r", "threads,fibers"], "unknown runner 'fibers'; valid runners: sequential"),
    (["scale", "-w", "0"], "--workers must all be > 0, got 0"),
    (["scale", "-w", "1,-2"], "--workers must all be > 0"),
    (["scale", "-w", "two"], "comma-separated list of numbers"),
    (["scale", "--target-ms", "0"], "--target-ms must be > 0"),
    (["scale", "--target-ms", "-3"], "--target-ms must be > 0"),
    (["scale", "--target-ms", "nan"], "--target-ms must be > 0"),
    (["scale", "--start-method", "vfork"], "invalid choice: 'vfork'"),
    (["scale", "--json", "/no/such/dir/x.json"], "folder /no/such/dir does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    _fails_cleanly(capsys, argv, message)


def test_unwritable_plot_writes_nothing(capsys, tmp_path):
    _fails_cleanly(capsys, ["scale", "--json", str(tmp_path / "x.json"), "--plot", str(tmp_path)], "is a directory")
    assert list(tmp_path.iterdir()) == []


def test_help_teaches_with_examples(capsys):
    for command in ("scale", "compare"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "examples:" in capsys.readouterr().out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two small real runs written as JSON (and one plot), shared by the tests below."""
    folder = tmp_path_factory.mktemp("runs")
    outputs = []
    for name, runner in (("a", "threads"), ("b", "threads,processes")):
        path = folder / f"{name}.json"
        argv = ["scale", *SMALL, "-r", runner, "--json", str(path), "--no-progress"]
        if name == "b":
            argv += ["--plot", str(folder / "b.png"), "--start-method", "fork"]
        assert main(argv) == 0
        outputs.append(path)
    return folder, outputs


@forks_beside_threads  # two_runs' second run starts its processes by fork
def test_scale_writes_json_and_plot(two_runs, capsys):
    folder, (a, b) = two_runs
    meta, rows = report.load(b)
    assert meta["complete"] is True and meta["interrupted"] is False
    assert meta["start_method"] == "fork" and meta["usable_cores"] >= 1
    for key in ("fastfib_version", "python_version", "python_implementation", "free_threaded_build",
                "gil_enabled", "cpu_model", "cython_version", "cflags", "numpy_version", "timestamp"):
        assert key in meta
    assert len(rows) == 2 * (1 + 2 * 2)
    assert all(row.error is None for row in rows)
    assert (folder / "b.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "b.json", "b.png"]  # no temp files


@forks_beside_threads  # two_runs' second run starts its processes by fork
def test_compare_prints_side_by_side(two_runs, capsys):
    _, (a, b) = two_runs
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "A = a.json" in out and "B = b.json" in out and "speedup B/A" in out
    assert "cython-nogil  threads" in out
    assert "only in b.json" in out  # b also ran processes


@forks_beside_threads  # two_runs' second run starts its processes by fork
def test_compare_refuses_other_schema_versions(two_runs, tmp_path, capsys):
    _, (a, _) = two_runs
    data = json.loads(a.read_text())
    data["schema_version"] = 99
    future = tmp_path / "future.json"
    future.write_text(json.dumps(data))
    _fails_cleanly(capsys, ["compare", str(a), str(future)], "uses schema version 99")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child's processes through /proc")
@pytest.mark.parametrize(("signum", "status", "said"), [(signal.SIGINT, 130, "fastfib: interrupted"),
                                                       (signal.SIGTERM, 143, "fastfib: terminated")])
def test_sigint_and_sigterm_exit_130_143_keep_rows_and_leave_no_process(tmp_path, signum, status, said):
    path = tmp_path / "partial.json"
    # Signalled once the second kernel is at work on the process pools (the first one's rows are done).
    got = interrupt_when([sys.executable, "-m", "fastfib", "scale", "-k", "python,cython-gil", "-r", "processes",
                          "-w", "1,2", "--target-ms", "20", "--repeats", "5", "--json", str(path)],
                         "cython-gil: repeat 1/", signum, wait_s=30)
    assert got.status == status, got.rest
    assert said in got.rest
    assert got.survivors(10) == [], "processes outlived fastfib scale"
    meta, rows = report.load(path)
    assert meta["interrupted"] is True and meta["complete"] is False
    assert [(r.kernel, r.runner, r.workers) for r in rows] == [
        ("python", "sequential", 1), ("python", "processes", 1), ("python", "processes", 2)]
