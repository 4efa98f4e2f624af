"""Repository-root pytest configuration: when the benchmark suite is collected.

``testpaths`` lists both tests/ and the benchmark suite (src/fastfib/benchmarks,
shipped in the package), so ``pytest --benchmark-only`` from the root runs the
benchmarks. A plain ``pytest`` stays quick: it leaves the suite out unless
benchmarks are asked for (``--benchmark-only``, ``--benchmark-enable``,
``--benchmark-disable``); naming paths on the command line (``pytest
src/fastfib/benchmarks``) collects exactly those.
"""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent / "src" / "fastfib" / "benchmarks"
ASKING_FOR_BENCHMARKS = ("benchmark_only", "benchmark_enable", "benchmark_disable")


def pytest_configure(config):
    # Only a run that came from testpaths (no paths given) is trimmed.
    if config.args_source != config.ArgsSource.TESTPATHS:
        return
    if any(config.getoption(name, default=False) for name in ASKING_FOR_BENCHMARKS):
        return
    config.args[:] = [arg for arg in config.args if Path(arg).resolve() != BENCHMARKS]
