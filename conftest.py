"""Repository-root pytest configuration: when the benchmark suite is collected, and which copy.

``testpaths`` is tests/ only, so a plain ``pytest`` stays quick. When benchmarks
are asked for (``--benchmark-only``, ``--benchmark-enable``,
``--benchmark-disable``) and no paths were named, the benchmark suite is added
(``--benchmark-only``: it alone, so ``pip install '.[bench]'`` is enough):
the one of the fastfib this run imports. After ``make install`` (editable) that
is src/fastfib/benchmarks; after a plain ``pip install .`` it is the installed
copy, which tests/ test as well -- collecting src/ then would import
``fastfib.benchmarks.conftest`` from two places (pytest's ImportPathMismatchError).
Naming paths on the command line (``pytest src/fastfib/benchmarks``) collects
exactly those.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ASKING_FOR_BENCHMARKS = ("benchmark_only", "benchmark_enable", "benchmark_disable")


def benchmark_suite() -> Path | None:
    """The folder of the ``fastfib.benchmarks`` this interpreter imports; None without fastfib."""
    try:
        spec = importlib.util.find_spec("fastfib.benchmarks")
    except ImportError:
        return None
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def pytest_configure(config):
    # Only a run that came from testpaths (no paths given) gets the suite.
    if config.args_source != config.ArgsSource.TESTPATHS:
        return
    if not any(config.getoption(name, default=False) for name in ASKING_FOR_BENCHMARKS):
        return
    suite = benchmark_suite()
    if suite is None:
        return
    if config.getoption("benchmark_only", default=False):
        # tests/ holds no benchmarks: under --benchmark-only it would only be skipped, and
        # collecting it needs the `test` extra (hypothesis, ...), which `fastfib[bench]` lacks.
        config.args[:] = [str(suite)]
    else:
        config.args.append(str(suite))
