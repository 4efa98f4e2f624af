"""The benchmark suite's measuring and reporting: paired speedups, their intervals, the
summary that says "too noisy to tell", and a plugin that keeps out of other projects' runs.

Figures here are made up or only checked for shape: no test asserts a time.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastfib import registry
from fastfib.lab import granularity
from fastfib.measure.paired import Alternation, PairedRatio, median_interval

pytest.importorskip("pytest_benchmark")

from fastfib.benchmarks import _summary  # noqa: E402  (after the skip: it needs pytest-benchmark's world)

FASTFIB = [sys.executable, "-m", "fastfib"]


# --- the interval of a median ------------------------------------------------------------------

def test_the_median_interval_covers_at_least_95_percent_once_there_are_enough_values():
    for n in range(6, 60):
        low, high, coverage = median_interval(list(range(n)))
        assert coverage >= 0.95
        assert low <= (n - 1) / 2 <= high
        # and it is the narrowest such interval: one rank in from each end covers less
        if low + 1 <= high - 1:
            j = low + 1  # values are their own 0-based ranks
            narrower = 1 - 2 * sum(math.comb(n, i) for i in range(j + 1)) / 2**n
            assert narrower < 0.95


def test_too_few_values_give_the_whole_range_and_say_how_little_it_covers():
    low, high, coverage = median_interval([3.0, 1.0, 2.0])
    assert (low, high) == (1.0, 3.0)
    assert coverage == pytest.approx(0.75)


# --- alternation -------------------------------------------------------------------------------

def test_each_parallel_run_is_divided_into_the_mean_of_the_baselines_beside_it():
    alternation = Alternation()
    for a, b in [(100.0, 50.0), (120.0, 55.0)]:
        alternation.add_a(a)
        alternation.add_b(b)
    alternation.add_a(80.0)
    assert alternation.ratios() == [pytest.approx(110 / 50), pytest.approx(100 / 55)]
    paired = alternation.ratio()
    assert paired.pairs == 2 and paired.speedup == pytest.approx((110 / 50 + 100 / 55) / 2)


def test_a_and_b_must_alternate_starting_and_ending_with_the_baseline():
    alternation = Alternation()
    with pytest.raises(ValueError):
        alternation.add_b(1.0)
    alternation.add_a(1.0)
    with pytest.raises(ValueError):
        alternation.add_a(1.0)
    alternation.add_b(1.0)
    with pytest.raises(ValueError, match="A B A"):
        alternation.ratio()  # the last B has no baseline after it yet


def _paired(ratios: list[float]) -> PairedRatio:
    alternation = Alternation()
    alternation.add_a(1.0)
    for ratio in ratios:
        alternation.add_b(1.0 / ratio)
        alternation.add_a(1.0)
    return alternation.ratio()


def test_a_wide_interval_is_too_noisy_to_tell_and_gives_no_figure():
    steady = _paired([1.86, 1.88, 1.90, 1.87, 1.89, 1.88, 1.91, 1.85, 1.88, 1.89])
    assert steady.precise and not steady.too_noisy
    assert steady.describe().startswith("1.88x (")
    noisy = _paired([1.1, 1.9, 1.2, 1.8, 1.3, 1.7, 1.15, 1.85, 1.25, 1.6])
    assert noisy.too_noisy
    assert noisy.describe().startswith("too noisy to tell: 1.1")
    assert PairedRatio.from_dict(noisy.to_dict()) == noisy


# --- the summary -------------------------------------------------------------------------------

def _entry(kernel: str, runner: str, workers: int, ratios: list[float], **extra) -> tuple[dict, dict]:
    info = {"question": "scaling", "kernel": kernel, "runner": runner, "workers": workers, "tasks": 4,
            "n": 25, "fastfib_version": "x", "paired": _paired(ratios).to_dict(), **extra}
    return info, {"median": 0.05, "q1": 0.049, "q3": 0.051}


def test_the_summary_gives_every_speedup_with_its_interval_and_its_verdict():
    summary = _summary.summarise([
        ({"question": "scaling", "kernel": "python", "runner": "sequential", "workers": 1}, {"median": 0.1}),
        _entry("cython-nogil", "threads", 2, [1.9, 1.88, 1.87, 1.9, 1.91, 1.86, 1.89, 1.88, 1.9, 1.87]),
        _entry("cython-gil", "threads", 2, [1.0, 0.99, 1.01, 1.0, 0.98, 1.02, 1.0, 1.01, 0.99, 1.0]),
        _entry("python", "threads", 2, [1.1, 1.9, 1.2, 1.8, 1.3, 1.7, 1.15, 1.85, 1.25, 1.6]),
        _entry("python", "processes", 2, [1.8, 1.82, 1.79, 1.85, 1.81, 1.8, 1.83, 1.84, 1.8, 1.82],
               pool_startup_s=0.03),
    ])
    assert summary["schema"] == "fastfib.bench-summary" and summary["schema_version"] == 4
    verdicts = {(row["kernel"], row["runner"]): _summary.verdict(row) for row in summary["rows"]}
    assert verdicts == {("cython-nogil", "threads"): "scales", ("cython-gil", "threads"): "flat",
                        ("python", "threads"): "too noisy to tell", ("python", "processes"): "scales"}
    text = _summary.format_summary(summary)
    noisy_line = next(line for line in text.splitlines() if line.startswith("scaling") and " python " in line
                      and "threads" in line)
    assert "too noisy to tell" in noisy_line and "1.45×" not in noisy_line  # its median, not printed
    assert "python on 2 threads: too noisy to tell: " in text
    assert "cython-nogil on 2 threads: 1.8" in text and "- scales" in text
    assert "start-up (30 ms for a pool of 2" in text


def test_time_ratios_come_with_their_range_and_say_they_are_not_paired():
    summary = _summary.summarise([
        ({"question": "big-n", "case": "F(10)", "kernel": "gmp"}, {"median": 1.0, "q1": 0.9, "q3": 1.2}),
        ({"question": "big-n", "case": "F(10)", "kernel": "gmpy2"}, {"median": 2.0, "q1": 1.8, "q3": 2.4}),
    ])
    (ratio,) = summary["ratios"]
    assert ratio["time_ratio"] == pytest.approx(0.5)
    assert (ratio["low"], ratio["high"]) == (pytest.approx(0.9 / 2.4), pytest.approx(1.2 / 1.8))
    assert "not paired" in _summary.format_summary(summary)


def test_an_interleaved_time_ratio_is_read_from_its_pairs_not_from_medians():
    pairs = {"speedup": 0.97, "low": 0.95, "high": 0.99, "coverage": 0.95, "q1": 0.96, "q3": 0.98, "pairs": 20}
    summary = _summary.summarise([
        ({"question": "big-n", "case": "F(10)", "kernel": "gmp", "interleaved_with": "gmpy2", "time_ratio": pairs},
         {"median": 5.0, "q1": 5.0, "q3": 5.0}),
        ({"question": "big-n", "case": "F(10)", "kernel": "gmpy2"}, {"median": 2.0, "q1": 1.8, "q3": 2.4}),
    ])
    (ratio,) = summary["ratios"]  # not also gmp's whole-benchmark median over gmpy2's
    assert (ratio["time_ratio"], ratio["low"], ratio["high"], ratio["paired"]) == (0.97, 0.95, 0.99, True)
    assert "interleaved        0.97  0.95-0.99" in _summary.format_summary(summary)


# --- the suite, run for real -------------------------------------------------------------------

def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
def test_fastfib_bench_pairs_a_configuration_and_writes_the_summary_to_json(tmp_path):
    # From a folder that is not the checkout: the suite comes from the installed package.
    done = _run([*FASTFIB, "bench", "-q", "-p", "no:cacheprovider", "-k", "scaling and cython-nogil-threads-2",
                 "--fastfib-pair-budget=0", "--benchmark-json=bench.json"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "fastfib scaling summary" in done.stdout and "pairs" in done.stdout
    data = json.loads((tmp_path / "bench.json").read_text())
    (row,) = data["fastfib"]["rows"]
    assert (row["kernel"], row["runner"], row["workers"]) == ("cython-nogil", "threads", 2)
    assert row["pairs"] == len(row["ratios"]) >= 10  # the budget of 0 still takes the first ten pairs
    assert row["low"] <= row["speedup"] <= row["high"]
    (bench,) = [b for b in data["benchmarks"] if b["extra_info"].get("runner") == "threads"]
    assert bench["stats"]["rounds"] == 10  # pytest-benchmark timed the parallel runs of those pairs
    assert bench["extra_info"]["speedup_low"] == row["low"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json"]  # asked for; no .benchmarks/


def test_a_run_of_the_suite_leaves_no_storage_folder_unless_it_saved(tmp_path):
    argv = [*FASTFIB, "bench", "-q", "-p", "no:cacheprovider", "-k", "batching and per_item"]
    done = _run([*argv, "--benchmark-disable"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
    done = _run([*argv, "--benchmark-save=base", "--benchmark-min-rounds=1", "--benchmark-max-time=0.01"],
                cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert [path.name for path in (tmp_path / ".benchmarks").rglob("*.json")] == ["0001_base.json"]


def test_from_the_checkout_the_suite_is_the_one_of_the_fastfib_imported():
    # `pytest --benchmark-only` at the root adds the suite of the fastfib this interpreter imports: src/ after
    # an editable install, the installed copy after `pip install .` (else pytest imports
    # fastfib.benchmarks.conftest from two places and stops with ImportPathMismatchError).
    root = Path(__file__).resolve().parents[1]
    if not (root / "conftest.py").is_file():
        pytest.skip("needs the checkout's root conftest.py")
    import fastfib.benchmarks

    spec = importlib.util.spec_from_file_location("root_conftest", root / "conftest.py")  # beside pyproject.toml
    assert spec is not None and spec.loader is not None
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    assert root_conftest.benchmark_suite() == Path(fastfib.benchmarks.__file__).parent
    asked = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--benchmark-disable", "--co", "-q"],
                 cwd=root)
    assert asked.returncode == 0, asked.stdout[-3000:]
    assert "test_big_n.py::" in asked.stdout and "tests/test_kernels.py::" in asked.stdout
    plain = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q"], cwd=root)
    assert "tests/test_kernels.py::" in plain.stdout and "test_big_n.py::" not in plain.stdout
    only = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--benchmark-only", "--co", "-q"], cwd=root)
    assert "test_big_n.py::" in only.stdout and "tests/test_kernels.py::" not in only.stdout, only.stdout[-3000:]


def test_fastfib_bench_disabled_runs_each_benchmark_once_and_prints_no_figures(tmp_path):
    done = _run([*FASTFIB, "bench", "--benchmark-disable", "-q", "-p", "no:cacheprovider",
                 "-k", "granularity and 1000"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout and "fastfib scaling summary" not in done.stdout


def test_the_suite_sweeps_the_granularity_experiments_sizes(tmp_path):
    # The suite's sweep is `fastfib lab granularity --quick`'s, not a copy: each size collected
    # once sequentially and once on 2 threads.
    done = _run([sys.executable, "-m", "pytest", "--pyargs", "fastfib.benchmarks", "--collect-only", "-q",
                 "-p", "no:cacheprovider", "-k", "test_granularity"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    collected = [line.split("::", 1)[1] for line in done.stdout.splitlines() if "::test_granularity[" in line]
    assert collected == [f"test_granularity[{work_us}-{runner}]" for work_us in granularity.QUICK_WORK_US
                         for runner in ("sequential-1", "threads-2")]


def test_fastfib_bench_without_pytest_benchmark_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['pytest_benchmark'] = None; from fastfib.cli import main; "
            "raise SystemExit(main(['bench']))")
    done = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("fastfib: error: fastfib bench needs pytest_benchmark: "
                                   "pip install 'fastfib[bench]'")


def test_other_commands_still_refuse_arguments_they_do_not_know(tmp_path):
    done = _run([*FASTFIB, "fib", "10", "--benchmark-only"], cwd=tmp_path)
    assert done.returncode == 2
    assert "unrecognized arguments: --benchmark-only" in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_plugin_leaves_another_projects_benchmarks_alone(tmp_path):
    # A project of someone else's, in the same environment: pytest loads fastfib's plugin from
    # its entry point, but nothing of fastfib's shows in the run, its JSON or its fixtures.
    (tmp_path / "test_theirs.py").write_text(textwrap.dedent("""
        def test_sum(benchmark):
            assert benchmark(sum, range(100)) == 4950
    """))
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--benchmark-json=theirs.json",
                 "--benchmark-min-rounds=1", "--benchmark-max-time=0.01"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "fastfib scaling summary" not in done.stdout
    data = json.loads((tmp_path / "theirs.json").read_text())
    assert "fastfib" not in data
    assert "--fastfib-long" in _run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path).stdout  # options only
    # No fixture of fastfib's is registered there: judged by the modules that define the fixtures and by the
    # suite's fixture names, never by whether "fastfib" shows in a path (the venv's may well contain it).
    theirs = _fixtures_by_module(_run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures"],
                                      cwd=tmp_path).stdout)
    assert "benchmark" in theirs.get("pytest_benchmark.plugin", set()), theirs
    assert [module for module in theirs if module.split(".")[0] == "fastfib"] == []
    suite = _fixtures_by_module(_run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures",
                                      "--pyargs", "fastfib.benchmarks"], cwd=tmp_path).stdout)
    ours = set().union(*(names for module, names in suite.items() if module.split(".")[0] == "fastfib"))
    assert {"paired", "pool", "record"} <= ours  # the parse found the suite's own fixtures
    assert ours.isdisjoint(set().union(*theirs.values()))


def _fixtures_by_module(listing: str) -> dict[str, set[str]]:
    """``pytest --fixtures`` output as {defining module: fixture names}; pytest's built-ins under "<builtin>"."""
    found: dict[str, set[str]] = {}
    module = None
    for line in listing.splitlines():
        header = re.fullmatch(r"-+ fixtures defined from (\S+) -+", line.strip())
        if header:
            module = header.group(1)
        elif line.startswith("collected"):
            module = "<builtin>"
        elif module and re.match(r"[A-Za-z_]\w* ", line + " ") and not line.startswith(("=", "-")):
            found.setdefault(module, set()).add(line.split()[0])
    return found
