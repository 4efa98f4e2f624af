"""fastfib's pytest-benchmark plugin: the scaling story in pytest-benchmark's own output.

pytest-benchmark times each benchmark but has no speedup or baseline column and
keeps ``extra_info`` out of its table. This plugin adds what the scaling
question needs, computed from the benchmarks' own medians:

* after the run, a scaling summary per kernel x runner: speedup and efficiency
  against the sequential benchmark of the same kernel and tasks, beside the
  ideal min(workers, cores); and the granularity sweep's 2-thread speedups;
* the same figures under ``"fastfib"`` in the ``--benchmark-json`` file;
* a PNG of speedup against workers with ``--fastfib-plot PATH``.

The suite runs the same runners and measurements as ``fastfib scale``
(:mod:`fastfib.runners`, :mod:`fastfib.measure`): pools are started and warmed
outside the timed region, tasks released together behind a barrier, every
result checked against the oracle.

Examples (from the repository root)::

    pytest --benchmark-only                                  # default suite, about 2 minutes on 2 cores
    pytest --benchmark-only --fastfib-long                   # workers up to 2 x cores, bigger tasks
    pytest --benchmark-only --benchmark-json=bench.json      # figures + "fastfib" summary in JSON
    pytest --benchmark-only --fastfib-plot=scaling.png       # the speedup plot
    pytest --benchmark-only --benchmark-save=base            # then later:
    pytest --benchmark-only --benchmark-compare              # compare with the saved run
    pytest --benchmark-only --benchmark-group-by=group       # (default) one table per question
    pytest --benchmark-only --benchmark-histogram=hist       # SVG histograms (needs pygal)
    pytest benchmarks --benchmark-disable                    # run every benchmark once, untimed (CI)
"""

from __future__ import annotations

import pytest

import fastfib
from fastfib import environment, measure, registry, report, runners

import _summary

SCALING_KERNELS = ["python", "numpy", "cython-gil", "cython-nogil"]
PARALLEL_RUNNERS = ["threads", "processes"]


def pytest_addoption(parser):
    group = parser.getgroup("fastfib", "fastfib benchmarks")
    group.addoption(
        "--fastfib-long", action="store_true", default=False,
        help="the long suite: workers 1, 2, 4, ... up to 2 x usable cores and 50 ms tasks "
             "(default: workers 1 and 2, 20 ms tasks). Example: pytest --benchmark-only --fastfib-long",
    )
    group.addoption(
        "--fastfib-plot", metavar="PATH", default=None,
        help="write a PNG of speedup vs workers per kernel and runner. "
             "Example: pytest --benchmark-only --fastfib-plot=scaling.png",
    )
    group.addoption(
        "--fastfib-start-method", default="forkserver", choices=runners.START_METHODS,
        help="how the process pool starts its workers (default: forkserver). "
             "Example: pytest --benchmark-only --fastfib-start-method=spawn",
    )


def worker_counts(config) -> list[int]:
    """1, 2 by default; 1, 2, 4, ... up to 2 x usable cores with --fastfib-long."""
    if not config.getoption("fastfib_long"):
        return [1, 2]
    counts, top = [1], 2 * environment.usable_cores()
    while counts[-1] * 2 <= top:
        counts.append(counts[-1] * 2)
    return counts


def pytest_generate_tests(metafunc):
    """Parametrise the scaling benchmarks: kernel x runner x workers (+ one sequential each)."""
    if metafunc.function.__name__ != "test_scaling":
        return
    kernels = [name for name in SCALING_KERNELS if name in registry.KERNELS]
    cases = [(kernel, "sequential", 1) for kernel in kernels]
    cases += [(kernel, runner, workers) for runner in PARALLEL_RUNNERS
              for workers in worker_counts(metafunc.config) for kernel in kernels]
    metafunc.parametrize(("kernel", "runner", "workers"), cases,
                         ids=[f"{k}-{r}-{w}" for k, r, w in cases])


@pytest.fixture(scope="session")
def long_suite(request) -> bool:
    return request.config.getoption("fastfib_long")


@pytest.fixture(scope="session")
def scaling_tasks(request) -> int:
    """Tasks per scaling benchmark: the same for every runner and worker count of a kernel."""
    return 2 * max(worker_counts(request.config))


@pytest.fixture(scope="session")
def calibrated(long_suite):
    """calibrated(kernel) -> measure.Calibration, once per kernel per session."""
    target_s = 0.05 if long_suite else 0.02
    found: dict[str, measure.Calibration] = {}

    def get(kernel: str) -> measure.Calibration:
        if kernel not in found:
            found[kernel] = measure.calibrate(kernel, target_s)
        return found[kernel]

    return get


@pytest.fixture(scope="session")
def pool(request):
    """pool(runner, workers) -> a started, warmed runners.Pool, shared for the session."""
    start_method = request.config.getoption("fastfib_start_method")
    opened: dict[tuple[str, int], runners.Pool] = {}

    def get(runner: str, workers: int) -> runners.Pool:
        key = (runner, workers)
        if key not in opened:
            made = runners.make_runner(runner, start_method=start_method, preload=measure.PRELOAD)
            opened[key] = made.open(workers)
        return opened[key]

    yield get
    for opened_pool in opened.values():
        opened_pool.close()


@pytest.fixture
def record(request, benchmark):
    """record(**facts): put the standard facts in extra_info and keep the row for the summary."""

    def keep(**facts):
        facts.setdefault("runner", "sequential")  # a single-call benchmark runs on the caller
        facts.setdefault("workers", 1)
        benchmark.extra_info.update(
            usable_cores=environment.usable_cores(), gil_enabled=environment.gil_enabled(),
            fastfib_version=fastfib.__version__, **facts,
        )
        _summary.RECORDED.append((benchmark, dict(benchmark.extra_info)))

    return keep


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    """Print the scaling summary after pytest-benchmark's own tables."""
    summary = _summary.from_recorded(_summary.RECORDED)
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


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Add the scaling summary to --benchmark-json output, under "fastfib", and each
    benchmark's own speedup and efficiency to its extra_info.

    Example: ``pytest --benchmark-only --benchmark-json=out.json`` then
    ``python -c "import json; print(json.load(open('out.json'))['fastfib']['scaling'][0])"``.
    """
    benchmarks = output_json.get("benchmarks", [])
    summary = _summary.from_json(benchmarks)
    output_json["fastfib"] = summary
    _summary.annotate(benchmarks, summary)
