"""Your own calls' scaling, in your own pytest suite: an opt-in plugin with one fixture.

Turn it on with ``pytest -p fastfib.scaling`` or, in a ``conftest.py``,
``pytest_plugins = ["fastfib.scaling"]``. Then::

    def test_compress_scales(scaling):
        found = scaling(mylib.compress, args=(big_buffer,), workers=2)            # runner="threads"
        found.assert_scales()     # fails only on evidence; skips when it cannot tell

    @pytest.mark.parametrize("runner", ["threads", "processes"])
    def test_both(scaling, runner):
        scaling(mylib.compress, args=(big_buffer,), runner=runner)               # measured and reported

Each call of the fixture measures ``fn(*args, **kwargs)`` on ``workers`` threads or
processes against the same tasks run sequentially, paired as fastfib's own benchmark
suite pairs them (each parallel run between two sequential ones; the machine's cores
read between the pairs). With pytest-benchmark installed, pytest-benchmark times the
parallel runs (its table, its ``--benchmark-json``) and the figures land in each
benchmark's ``extra_info["fastfib_scaling"]``: speedup and its 95 % interval,
parallelism (CPU / wall), the cores lent, the verdict. At the end of the session a
table of them all is printed. Once per test, as pytest-benchmark's fixture.
"""

from __future__ import annotations

import time
import unittest
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from fastfib import environment, runners
from fastfib.measure import machine, paired, verdicts
from fastfib.measure.gil_verdict import number_for
from fastfib.measure.instruments import cpu_seconds
from fastfib.measure.probe_spec import loop_of, run_spec, spec_of
from fastfib.runners import executors

__all__ = ["Scaling", "pytest_terminal_summary", "scaling"]

_FOUND = pytest.StashKey[list["Scaling"]]()


@dataclass
class Scaling:
    """One measurement of the ``scaling`` fixture."""

    test: str  # the test's node id
    label: str  # the call
    runner: str
    workers: int
    cores: int  # usable cores here
    figure: paired.PairedRatio

    @property
    def row(self) -> dict[str, Any]:
        return {**self.figure.to_dict(), "ideal": min(self.workers, self.cores)}

    @property
    def verdict(self) -> str:
        """ "scales", "flat", "partly", "too noisy to tell" or "cannot tell" (the machine was short)."""
        return verdicts.verdict(self.row)

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.label, "runner": self.runner, "workers": self.workers, "verdict": self.verdict,
                "said": verdicts.said(self.row), **self.figure.to_dict()}

    def assert_scales(self, at_least: float | None = None) -> None:
        """As :func:`fastfib.testing.assert_scales` on this measurement: fail on evidence that
        it does not reach ``at_least`` (default: half way to the cores lent), skip when the
        figure cannot tell."""
        from fastfib.testing import scaling_outcome

        outcome, reason = scaling_outcome(self.figure, self.workers, self.runner, self.cores, at_least, self.label)
        if outcome == "fails":
            raise AssertionError(reason)
        if outcome == "unsure":
            raise unittest.SkipTest(f"cannot tell whether {self.label} scales: {reason}")


def _measure(request: pytest.FixtureRequest, fn: Callable[..., Any], positional: tuple[Any, ...],
             args: Sequence[Any], kwargs: Mapping[str, Any] | None, unknown: Mapping[str, Any], *, workers: int,
             runner: str, budget: float, start_method: str) -> Scaling:
    spec = spec_of("scaling", fn, args, kwargs, positional, unknown)
    if workers < 2:
        raise ValueError(f"scaling: workers={workers}: scaling needs at least 2")
    loop = loop_of(spec)
    start = time.perf_counter()
    loop(1)  # SETUP's imports, and how long a call takes
    number = number_for(time.perf_counter() - start, loop, 0.02)  # calls per task: about 20 ms of them
    tasks = [(spec, number)] * (2 * workers)

    def timed(pool: executors.Pool) -> tuple[float, float]:
        before = cpu_seconds(pool.pids)
        batch = pool.run(run_spec, tasks)
        if batch.results != [number] * len(tasks):
            raise AssertionError(f"scaling: a task returned {batch.results!r}")
        return batch.wall_s, cpu_seconds(pool.pids) - before

    cores = environment.usable_cores()
    made = runners.make_runner(runner, start_method=start_method, preload=("fastfib.measure.probe_spec",))
    with runners.make_runner("sequential").open(1) as baseline, made.open(workers) as pool:
        timed(baseline)  # SETUP and warm-up, untimed
        timed(pool)
        benchmark = _benchmark(request)
        if benchmark is not None:
            from fastfib.benchmarks._pairs import time_pairs

            benchmark.group = "fastfib scaling"
            figure = time_pairs(benchmark, lambda: timed(baseline), lambda: timed(pool), workers=workers,
                                budget_s=budget, pids=lambda: (*pool.pids, *baseline.pids))
        else:
            watch = machine.MachineWatch(min(workers, cores), pids=lambda: (*pool.pids, *baseline.pids))
            figure = paired.measure(lambda: timed(baseline), lambda: timed(pool), budget_s=budget, watch=watch)
    found = Scaling(request.node.nodeid, spec.label(), runner, workers, cores, figure)
    if benchmark is not None:
        benchmark.extra_info["fastfib_scaling"] = found.to_dict()
    request.config.stash.setdefault(_FOUND, []).append(found)
    return found


def _benchmark(request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's fixture where it is installed and timing is on; else None."""
    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:  # pytest-benchmark is not installed
        return None
    return None if benchmark.disabled else benchmark


@pytest.fixture
def scaling(request: pytest.FixtureRequest) -> Callable[..., Scaling]:
    """``scaling(fn, args=(...), kwargs={...}, workers=2, runner="threads", budget=10.0)`` ->
    :class:`Scaling`: ``fn``'s paired speedup on ``workers`` threads (or processes), recorded
    in pytest-benchmark's JSON and the session's summary. See :mod:`fastfib.scaling`."""

    def measure(fn: Callable[..., Any], *positional: Any, args: Sequence[Any] = (),
                kwargs: Mapping[str, Any] | None = None, workers: int = 2, runner: str = "threads",
                budget: float = 10.0, start_method: str = "forkserver", **unknown: Any) -> Scaling:
        return _measure(request, fn, positional, args, kwargs, unknown, workers=workers, runner=runner,
                        budget=budget, start_method=start_method)

    return measure


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The session's scaling measurements, one row each."""
    found = terminalreporter.config.stash.get(_FOUND, [])
    if not found:
        return
    from fastfib.tables import grid

    rows = [[one.test, one.runner, str(one.workers), f"{one.figure.speedup:.2f}x",
             f"{one.figure.low:.2f}-{one.figure.high:.2f}x",
             "-" if one.figure.parallelism is None else one.figure.parallelism.describe(),
             "-" if one.figure.machine is None else f"{one.figure.machine.get('cores') or 0:.2f}",
             verdicts.said(one.row)] for one in found]
    terminalreporter.write_sep("-", "fastfib scaling (paired: each parallel run between two sequential ones)")
    terminalreporter.write_line(grid(["test", "runner", "workers", "speedup", "95% CI", "parallelism (95% CI)",
                                      "lent", "verdict"], rows, left=2))
