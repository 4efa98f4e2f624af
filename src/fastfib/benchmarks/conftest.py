"""Fixtures of fastfib's benchmark suite (they reach no other test suite: this is its conftest).

The suite runs the same runners and measurements as ``fastfib scale``
(:mod:`fastfib.runners`, :mod:`fastfib.tasks`): pools are started and warmed
outside the timed region, tasks released together behind a barrier, every
result checked against the oracle. Every speedup is *paired*: the ``paired``
fixture times the sequential baseline and the parallel configuration in
alternation (A B A B ... A) inside one benchmark, so both see the same machine
(:mod:`fastfib.measure.paired`). The options and the summary are the plugin's
(:mod:`fastfib.benchmarks.plugin`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

import fastfib
from fastfib import environment, measure, registry, runners, tasks, technologies
from fastfib.measure.paired import PairedRatio
from fastfib.runners import executors

from . import plugin
from ._pairs import time_pairs

SCALING_KERNELS = ["python", "numpy", "cython-gil", "cython-nogil"]
PARALLEL_RUNNERS = ["threads", "processes"]
# The same C kernels through the C API, pybind11, nanobind and PyO3: one headline row pair each
# (GIL held flat, released scales), on threads only -- the question each answers is whether its
# release works; processes scale every kernel alike, and the Cython rows show that already.
BINDING_KERNELS = [f"{t.family}-{suffix}" for t in technologies.BINDINGS for suffix in ("gil", "nogil")]
PRELOAD = ("fastfib.tasks", "fastfib.benchmarks._tasks")  # what every process worker imports first
SEQUENTIAL_ROUNDS = 7  # the sequential benchmarks only fill pytest-benchmark's table


def worker_counts(config: pytest.Config) -> list[int]:
    """1, 2 by default; 1, 2, 4, ... up to 2 x usable cores with --fastfib-long."""
    if not config.getoption("fastfib_long"):
        return [1, 2]
    counts, top = [1], 2 * environment.usable_cores()
    while counts[-1] * 2 <= top:
        counts.append(counts[-1] * 2)
    return counts


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise the scaling benchmarks: kernel x runner x workers (+ one sequential each)."""
    if metafunc.function.__name__ != "test_scaling":
        return
    kernels = [name for name in SCALING_KERNELS if name in registry.KERNELS]
    bindings = [name for name in BINDING_KERNELS if name in registry.KERNELS]
    cases = [(kernel, "sequential", 1) for kernel in kernels + bindings]
    cases += [(kernel, runner, workers) for runner in PARALLEL_RUNNERS
              for workers in worker_counts(metafunc.config) for kernel in kernels]
    cases += [(kernel, "threads", workers) for workers in worker_counts(metafunc.config) for kernel in bindings]
    metafunc.parametrize(("kernel", "runner", "workers"), cases,
                         ids=[f"{k}-{r}-{w}" for k, r, w in cases])


@pytest.fixture(scope="session")
def long_suite(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("fastfib_long"))


@pytest.fixture(scope="session")
def scaling_tasks(request: pytest.FixtureRequest) -> int:
    """Tasks per scaling benchmark: the same for every runner and worker count of a kernel.

    Eight per worker of the widest pool, each small (``calibrated``): the pool hands
    tasks out as workers come free, so a worker slowed for a while (this VM's burn
    runs at two speeds; a core can be away for tens of ms) leaves the others at most
    one small task of tail. Measured here, cython-nogil on 2 threads: 4 x 29 ms gave
    parallelism 1.87 (middle half 1.62-1.97), 24 x 6 ms gave 1.94 (1.92-1.97)."""
    return 8 * max(worker_counts(request.config))


@pytest.fixture(scope="session")
def calibrated(long_suite: bool) -> Callable[[str], tasks.Calibration]:
    """calibrated(kernel) -> tasks.Calibration, once per kernel per session."""
    target_s = 0.0125 if long_suite else 0.005  # per task: 8 per worker (scaling_tasks)
    found: dict[str, tasks.Calibration] = {}

    def get(kernel: str) -> tasks.Calibration:
        if kernel not in found:
            found[kernel] = tasks.calibrate(kernel, target_s)
        return found[kernel]

    return get


@pytest.fixture(scope="session")
def pool(request: pytest.FixtureRequest) -> Any:
    """pool(runner, workers) -> a started, warmed executors.Pool, shared for the session."""
    start_method = request.config.getoption("fastfib_start_method")
    opened: dict[tuple[str, int], executors.Pool] = {}

    def get(runner: str, workers: int) -> executors.Pool:
        key = (runner, workers)
        if key not in opened:
            made = runners.make_runner(runner, start_method=start_method, preload=PRELOAD)
            opened[key] = made.open(workers)
        return opened[key]

    yield get
    for opened_pool in opened.values():
        opened_pool.close()


@pytest.fixture
def record(benchmark: Any) -> Callable[..., None]:
    """record(**facts): put the standard facts in extra_info and keep the row for the summary."""

    def keep(paired: PairedRatio | None = None, **facts: Any) -> None:
        facts.setdefault("runner", "sequential")  # a single-call benchmark runs on the caller
        facts.setdefault("workers", 1)
        if paired is not None:
            facts["paired"] = paired.to_dict()
        benchmark.extra_info.update(
            oracle_ok=True,  # every benchmark checks its results before it records: a wrong one fails it
            usable_cores=environment.usable_cores(), gil_enabled=environment.gil_enabled(),
            fastfib_version=fastfib.__version__, **facts,
        )
        plugin.RECORDED.append((benchmark, dict(benchmark.extra_info)))

    return keep


class Paired:
    """One benchmark of a parallel configuration, its sequential baseline timed in alternation
    (or of the sequential configuration itself, timed alone, for pytest-benchmark's table).

    pytest-benchmark times the configuration (B), round by round; before each
    round the baseline (A) runs on a one-worker sequential pool, untimed by
    pytest-benchmark but timed here, and one more A closes the last round.
    Both are timed by the runner's own clock (workers released to the last
    result), as ``fastfib scale`` does, and each run's CPU time (this process's
    threads plus the pool's worker processes) gives its parallelism, CPU / wall.
    After the first ``paired.MIN_PAIRS`` rounds, more pairs are taken until the
    median's 95 % interval is within 10 % of it, ``paired.MAX_PAIRS`` or the
    budget (:func:`fastfib.measure.paired.extend`). Between the pairs a control
    measures the cores the machine lent, and each parallel run accounts the CPU
    other processes took meanwhile (:mod:`fastfib.measure.machine`): the verdict
    is judged against those. Every result of every run is checked.
    """

    def __init__(self, benchmark: Any, baseline: executors.Pool, budget_s: float) -> None:
        self.benchmark = benchmark
        self.baseline = baseline
        self.budget_s = budget_s

    def __call__(self, on: executors.Pool, task: Callable[..., Any], args: Sequence[tuple[Any, ...]],
                 expect: Callable[[list[Any]], bool]) -> PairedRatio | None:
        """Benchmark ``task`` over ``args`` on ``on``; None when timing is disabled."""

        def run(pool: executors.Pool, keep: Callable[[float, float], None] | None = None) -> tuple[float, float]:
            cpu_before = measure.cpu_seconds(pool.pids)  # this process's threads and the pool's processes
            batch = pool.run(task, list(args))
            cpu_s = measure.cpu_seconds(pool.pids) - cpu_before
            if not expect(batch.results):
                raise AssertionError(f"wrong result on {pool.workers} worker(s): {batch.results!r}")
            if keep is not None:
                keep(batch.wall_s, cpu_s)
            return batch.wall_s, cpu_s

        if self.benchmark.disabled:  # --benchmark-disable: one untimed run, results still checked
            self.benchmark.pedantic(run, args=(on, None))
            return None
        if on is self.baseline:  # the sequential configuration itself: pytest-benchmark's table only
            self.benchmark.pedantic(run, args=(on, None), rounds=SEQUENTIAL_ROUNDS, iterations=1, warmup_rounds=1)
            return None
        run(self.baseline)  # warm both, untimed
        run(on)
        return time_pairs(self.benchmark, lambda: run(self.baseline), lambda: run(on), workers=on.workers,
                          budget_s=self.budget_s, pids=lambda: (*on.pids, *self.baseline.pids))


@pytest.fixture
def paired(benchmark: Any, pool: Any, request: pytest.FixtureRequest) -> Paired:
    """paired(pool, task, args, expect) -> PairedRatio: see :class:`Paired`."""
    budget = request.config.getoption("fastfib_pair_budget")
    if budget is None:
        budget = 10.0 if request.config.getoption("fastfib_long") else 4.0
    return Paired(benchmark, pool("sequential", 1), budget)
