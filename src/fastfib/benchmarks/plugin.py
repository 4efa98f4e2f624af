"""fastfib's pytest plugin: the scaling story in pytest-benchmark's own output.

Registered as a ``pytest11`` entry point, so it is found wherever fastfib is
installed -- a wheel as much as a clone -- with no conftest. It is a good
neighbour: in another project's pytest run it only adds its ``--fastfib-*``
options to ``--help``; its summary, plot and JSON figures appear only when
fastfib's own benchmarks (:mod:`fastfib.benchmarks`) ran. It imports nothing of
fastfib until then. The fixtures those benchmarks use live in the package's
``conftest.py``, so they reach no other test suite.

pytest-benchmark has no speedup column. Each parallel benchmark in the suite
therefore times its sequential baseline too, in alternation with itself (see
:mod:`fastfib.measure.paired`), and records the paired speedup in ``extra_info``. This
plugin prints those after pytest-benchmark's tables, adds them to the
``--benchmark-json`` file under ``"fastfib"``, and draws them with
``--fastfib-plot``.

Examples::

    pytest --pyargs fastfib.benchmarks --benchmark-only              # from a wheel, any folder (~2-3 min)
    fastfib bench                                                    # the same
    pytest --benchmark-only                                          # from the repository root
    fastfib bench --fastfib-long                                     # workers up to 2 x cores, bigger tasks
    fastfib bench --benchmark-json=bench.json                        # figures + "fastfib" summary in JSON
    fastfib bench --fastfib-plot=scaling.png                         # speedup vs workers, with intervals
    fastfib bench --benchmark-save=base; fastfib bench --benchmark-compare   # compare with a saved run
    fastfib bench -k scaling                                         # one question only
    pytest --pyargs fastfib.benchmarks --benchmark-disable           # every benchmark once, untimed (CI)
"""

from __future__ import annotations

from typing import Any

import pytest

# (benchmark fixture, extra_info) of every fastfib benchmark that ran; filled by conftest's `record`.
RECORDED: list[tuple[Any, dict[str, Any]]] = []

START_METHODS = ("fork", "forkserver", "spawn")  # executors.START_METHODS, without importing fastfib here


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fastfib", "fastfib benchmarks (only where fastfib.benchmarks run)")
    group.addoption(
        "--fastfib-long", action="store_true", default=False,
        help="the long suite: workers 1, 2, 4, ... up to 2 x usable cores, 50 ms tasks and a longer "
             "pairing budget (default: workers 1 and 2, 20 ms tasks). Example: fastfib bench --fastfib-long",
    )
    group.addoption(
        "--fastfib-plot", metavar="PATH", default=None,
        help="write a PNG of speedup vs workers per kernel and runner, with each speedup's 95%% interval. "
             "Example: fastfib bench --fastfib-plot=scaling.png",
    )
    group.addoption(
        "--fastfib-start-method", default="forkserver", choices=START_METHODS,
        help="how the process pool starts its workers (default: forkserver). "
             "Example: fastfib bench --fastfib-start-method=spawn",
    )
    group.addoption(
        "--fastfib-pair-budget", metavar="SECONDS", type=float, default=None,
        help="time one paired speedup may take to narrow its interval: at least 10 pairs, then more "
             "until the 95%% interval is within 10%% of the median or the budget is spent "
             "(default: 4; --fastfib-long: 10). Example: fastfib bench --fastfib-pair-budget=8",
    )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the scaling summary after pytest-benchmark's own tables (fastfib's benchmarks only)."""
    if not RECORDED:
        return
    from fastfib import environment, report

    from . import _summary

    summary = _summary.from_recorded(RECORDED)
    if not summary["rows"] and not summary["ratios"]:
        return
    terminalreporter.section("fastfib scaling summary")
    for line in _summary.format_summary(summary).splitlines():
        terminalreporter.write_line(line)
    path = config.getoption("fastfib_plot")
    if path:
        rows = _summary.rows(summary)
        if rows:
            report.write_plot(path, rows, environment.usable_cores(), title="pytest --benchmark-only")
            terminalreporter.write_line(f"plot written to {path}")
        else:
            terminalreporter.write_line(f"no scaling figures to plot: {path} not written")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-benchmark's: absent when it is not installed
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Add the scaling summary to --benchmark-json output, under "fastfib", and each
    benchmark's own speedup and efficiency to its extra_info (fastfib's benchmarks only).

    Example: ``fastfib bench --benchmark-json=out.json`` then
    ``python -c "import json; print(json.load(open('out.json'))['fastfib']['rows'][0])"``.
    """
    entries = output_json.get("benchmarks", [])
    if not any(_summary_marker in (entry.get("extra_info") or {}) for entry in entries):
        return
    from . import _summary

    summary = _summary.from_json(entries)
    output_json["fastfib"] = summary
    _summary.annotate(entries, summary)


_summary_marker = "fastfib_version"  # every fastfib benchmark's extra_info carries it (conftest's `record`)
