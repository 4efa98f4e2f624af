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

from pathlib import Path
from typing import Any

import pytest

# (benchmark fixture, extra_info) of every fastfib benchmark that ran; filled by conftest's `record`.
RECORDED: list[tuple[Any, dict[str, Any]]] = []

START_METHODS = ("fork", "forkserver", "spawn")  # executors.START_METHODS, without importing fastfib here

# pytest-benchmark makes its storage folder (./.benchmarks by default) at the start of every run, saving or not.
_FRESH_STORAGE = pytest.StashKey["Path | None"]()  # that folder, when it did not exist before this run
_FASTFIBS_RUN = pytest.StashKey[bool]()  # fastfib's benchmarks (or its own tests) are in this run


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fastfib", "fastfib benchmarks (only where fastfib.benchmarks run)")
    group.addoption(
        "--fastfib-long", action="store_true", default=False,
        help="the long suite: workers 1, 2, 4, ... up to 2 x usable cores, 12.5 ms tasks and a longer "
             "pairing budget (default: workers 1 and 2, 8 tasks of 5 ms per worker). "
             "Example: fastfib bench --fastfib-long",
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


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's configure makes the folder
def pytest_configure(config: pytest.Config) -> None:
    """Note whether pytest-benchmark's storage folder is new, so that a run of fastfib's that saved
    nothing leaves no empty ``.benchmarks/`` in the user's folder (``--benchmark-save`` keeps it).

    Example: ``cd /tmp && fastfib bench -k batching && ls -a`` shows no ``.benchmarks``.
    """
    storage = config.getoption("benchmark_storage", default=None)  # None: pytest-benchmark absent
    fresh = None
    if isinstance(storage, str) and "://" not in storage.removeprefix("file://"):
        folder = Path(storage.removeprefix("file://")).absolute()
        fresh = None if folder.exists() else folder
    config.stash[_FRESH_STORAGE] = fresh


def claim_run(config: pytest.Config) -> None:
    """Count this run as fastfib's, as a run of its benchmarks is (fastfib's own tests/ call it)."""
    config.stash[_FASTFIBS_RUN] = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(getattr(getattr(item, "module", None), "__name__", "").startswith(f"{__package__}.") for item in items):
        claim_run(config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the storage folder pytest-benchmark made for fastfib's run if nothing was saved in it."""
    folder = config.stash.get(_FRESH_STORAGE, None)
    if folder is None or not config.stash.get(_FASTFIBS_RUN, False) or not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


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
