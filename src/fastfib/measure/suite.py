"""One (kernel, runner, workers) configuration measured (:class:`Measurement`, :class:`Row`),
and a whole plan of them with its repeats interleaved (:func:`run_suite`); see
:mod:`fastfib.measure` for what is measured."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fastfib import environment, runners
from fastfib.measure import amdahl, machine, paired
from fastfib.measure.instruments import Heartbeat, cpu_seconds
from fastfib.runners import executors
from fastfib.tasks import Calibration, burn_task, calibrate, oracle, unavailable_kernels

__all__ = ["NOISY_SPREAD", "PRELOAD", "Measurement", "Progress", "Row", "measure_row", "plan_steps", "run_suite",
           "unavailable_on"]

NOISY_SPREAD = 0.10  # a row whose (max - min) / median wall exceeds this is flagged noisy
PRELOAD = ("fastfib.tasks",)  # what every worker process imports before its first task: the task's module


# --- one configuration ----------------------------------------------------------------------
@dataclass
class Row:
    """One (kernel, runner, workers) measurement; the JSON ``rows`` entries."""

    kernel: str
    runner: str
    workers: int
    tasks: int
    n: int
    task_ms: float  # one task's calibrated cost
    wall_s: dict[str, float] | None = None  # {"median", "min", "max"} over the repeats
    cpu_s: float | None = None
    parallelism: float | None = None
    speedup: float | None = None
    efficiency: float | None = None
    heartbeat_max_stall_ms: float | None = None
    serial_fraction: float | None = None
    noisy: bool = False
    startup_s: float | None = None
    repeats: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class Measurement:
    """One configuration being measured, a repeat at a time (so repeats can interleave).

    ``warm()`` once, ``repeat()`` R times, then ``row(...)``. A task that
    raises or returns a wrong value turns the row into an error; further
    repeats are skipped.
    """

    def __init__(self, pool: executors.Pool, runner_name: str, calibration: Calibration, tasks: int,
                 unavailable: str | None = None) -> None:
        self.pool = pool
        self.calibration = calibration
        kernel, n = calibration.kernel, calibration.n
        self.result = Row(kernel, runner_name, pool.workers, tasks, n, 1000 * calibration.task_s,
                          startup_s=pool.startup_s)
        self.expected = oracle(n)
        self.args = [(kernel, n)] * tasks
        if unavailable:  # why the kernel cannot load on these workers (numpy in a subinterpreter):
            # reported in its row, and not counted as a failure of the run
            self.result.error = f"{kernel} cannot load on {runner_name}: {unavailable}"
            self.result.extra["unavailable"] = True
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.stalls: list[float] = []
        # What the machine lent while a parallel configuration ran: accounted during each of its
        # repeats, a control sampled after each (fastfib.measure.machine).
        self.watch = (machine.MachineWatch(min(pool.workers, environment.usable_cores()), pids=lambda: pool.pids)
                      if pool.workers >= 2 and self.result.error is None else None)

    def _guarded(self, step: Callable[[], object]) -> None:
        if self.result.error is not None:
            return
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - a failing configuration is reported, the rest go on
            kind = "wrong result" if isinstance(exc, _WrongResult) else type(exc).__name__
            self.result.error = f"{kind}: {exc}"

    def warm(self) -> None:
        """Run this kernel once on every worker (imports, caches), untimed."""
        kernel, n = self.calibration.kernel, self.calibration.n
        self._guarded(lambda: self.pool.run(burn_task, [(kernel, max(0, n - 4))] * self.pool.workers))

    def repeat(self) -> None:
        """One timed run of all the tasks, its results checked against the oracle (then, for a
        parallel configuration, one sample of the machine's control)."""
        self._guarded(self._repeat if self.watch is None else self.watch.around(self._repeat))
        if self.watch is not None and self.result.error is None:
            self.watch.sample()

    def _repeat(self) -> None:
        pool = self.pool
        with Heartbeat() as beat:
            cpu_before = cpu_seconds(pool.pids)
            batch = pool.run(burn_task, self.args)
            cpu_after = cpu_seconds(pool.pids)
        for index, got in enumerate(batch.results):
            if got != self.expected:
                raise _WrongResult(f"task {index} returned {got!r}, F({self.calibration.n}) = {self.expected}")
        self.walls.append(batch.wall_s)
        self.cpus.append(cpu_after - cpu_before)
        self.stalls.append(beat.max_stall_ms(batch.started, batch.finished))

    def trace(self) -> Any:
        """One more run of the tasks, untimed, its per-thread timeline recorded
        (:mod:`fastfib.measure.timeline`); None for a row in error or a wrong result."""
        from fastfib.measure import timeline

        if self.result.error is not None:
            return None
        row = self.result
        batch, traced = timeline.record(self.pool, burn_task, self.args,
                                        label=f"{row.kernel} {row.runner} x{row.workers}")
        if any(got != self.expected for got in batch.results):
            return None
        traced.extra.update(kernel=row.kernel, runner=row.runner, workers=row.workers, tasks=row.tasks, n=row.n,
                            task_ms=round(row.task_ms, 3))
        return traced

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.walls) if self.walls and self.result.error is None else None

    def row(self, *, baseline_s: float | None, cores: int, is_baseline: bool = False) -> Row:
        """The finished row. ``baseline_s``: the sequential median wall of the same kernel
        and tasks (None when unknown: no speedup then); ``is_baseline``: this *is* it."""
        row, walls = self.result, self.walls
        row.repeats = len(walls)
        median = self.median_s
        if median is None:
            return row
        row.wall_s = {"median": median, "min": min(walls), "max": max(walls)}
        row.cpu_s = statistics.median(self.cpus)
        row.parallelism = row.cpu_s / median
        each = [cpu / wall for cpu, wall in zip(self.cpus, walls, strict=True) if wall > 0]
        row.extra["parallelism_range"] = [min(each), max(each)]  # over the repeats, beside the median wall's
        moved = paired.speed_change(walls)
        if moved is not None and is_baseline:  # the same runs took very different times: the machine moved
            row.extra["speed_change"] = moved
        row.heartbeat_max_stall_ms = statistics.median(self.stalls)
        if self.watch is not None:
            row.extra["machine"] = self.watch.reading().to_dict()
        row.noisy = (max(walls) - min(walls)) / median > NOISY_SPREAD
        if is_baseline or baseline_s is not None:
            row.speedup = 1.0 if is_baseline else baseline_s / median  # type: ignore[operator]
            p = min(self.pool.workers, cores)
            row.efficiency = row.speedup / p
            row.serial_fraction = amdahl.karp_flatt(row.speedup, p)
        return row


class _WrongResult(Exception):
    pass


def measure_row(
    pool: executors.Pool,
    runner_name: str,
    calibration: Calibration,
    *,
    tasks: int,
    repeats: int,
    baseline_s: float | None,
    cores: int,
    is_baseline: bool = False,
) -> Row:
    """Run ``tasks`` tasks ``repeats`` times on ``pool`` and measure them (see
    :class:`Measurement` and the module notes)."""
    measurement = Measurement(pool, runner_name, calibration, tasks,
                              unavailable_on(pool, [calibration.kernel]).get(calibration.kernel))
    measurement.warm()
    for _ in range(repeats):
        measurement.repeat()
    return measurement.row(baseline_s=baseline_s, cores=cores, is_baseline=is_baseline)


def unavailable_on(pool: executors.Pool, kernels: Sequence[str]) -> dict[str, str]:
    """Which of ``kernels`` cannot load on ``pool``'s workers (kernel -> why), asked of one of them:
    a worker in an interpreter of its own loads kernels of its own (an own-GIL subinterpreter
    refuses numpy, say). The runners know nothing of kernels; this is where the question is put."""
    missing: dict[str, str] = pool.run(unavailable_kernels, [(tuple(kernels),)], gate=False).results[0]
    return missing


# --- a whole plan ---------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (what is starting, steps done, steps in all)


def plan_steps(kernels: Sequence[str], runner_names: Sequence[str], workers: Sequence[int]) -> int:
    """How many rows :func:`run_suite` produces (the sequential baseline always included)."""
    parallel = [name for name in runner_names if name != "sequential"]
    return len(kernels) * (1 + len(parallel) * len(workers))


def run_suite(
    kernels: Sequence[str],
    runner_names: Sequence[str],
    workers: Sequence[int],
    *,
    target_s: float,
    tasks: int,
    repeats: int,
    start_method: str = "forkserver",
    progress: Progress = lambda what, done, total: None,
    calibrations: dict[str, Calibration] | None = None,
    dask: Any = None,
    timelines: list[Any] | None = None,
) -> Generator[Row, None, None]:
    """Yield the rows of a plan, a kernel at a time.

    Every pool (one per runner and worker count) starts first, and stays warm
    for every kernel. Then, per kernel, the repeats *interleave*: repeat 1 of
    sequential, of threads x1, x2, ..., of processes x1, ...; then repeat 2 of
    each; and so on. A machine whose load drifts during the run thus skews the
    baseline and the configurations it is divided into alike: the ratios stay
    true. The kernel's rows (sequential baseline first) are yielded together.
    Closing the generator early (Ctrl-C) terminates worker processes.
    ``dask``: the dask runners' :class:`~fastfib.runners.dask_runners.DaskOptions`.
    ``timelines``: a list to which one traced run per configuration is added
    (:func:`fastfib.measure.timeline.record`, after the timed repeats, so the
    sampler touches none of the figures).
    """
    cores = environment.usable_cores()
    total = plan_steps(kernels, runner_names, workers)
    done = 0
    if calibrations is None:
        calibrations = {}
        for kernel in kernels:
            progress(f"calibrating {kernel}", done, total)
            calibrations[kernel] = calibrate(kernel, target_s)
    with contextlib.ExitStack() as stack:
        opened: dict[tuple[str, int], executors.Pool] = {}
        parallel = [name for name in runner_names if name != "sequential"]
        # Processes first: forking while this process has no other thread yet is the safe order.
        for name in sorted(parallel, key=lambda name: name != "processes"):
            runner = runners.make_runner(name, start_method=start_method, preload=PRELOAD, dask=dask)
            for count in workers:
                progress(f"starting {name} x{count}", done, total)
                opened[name, count] = stack.enter_context(runner.open(count))
        pools = [("sequential", stack.enter_context(runners.make_runner("sequential").open(1)))]
        pools += [(name, opened[name, count]) for name in parallel for count in workers]
        missing = {id(pool): unavailable_on(pool, kernels) for _name, pool in pools}
        for kernel in kernels:
            measurements = [Measurement(pool, name, calibrations[kernel], tasks, missing[id(pool)].get(kernel))
                            for name, pool in pools]
            progress(f"{kernel}: warming every pool", done, total)
            for measurement in measurements:
                measurement.warm()
            for count in range(repeats):
                progress(f"{kernel}: repeat {count + 1}/{repeats} of {len(measurements)} configurations",
                         done, total)
                for measurement in measurements:
                    measurement.repeat()
            if timelines is not None:
                progress(f"{kernel}: tracing every configuration once", done, total)
                for measurement in measurements:
                    traced = measurement.trace()
                    if traced is not None:
                        timelines.append(traced)
            baseline_s = measurements[0].median_s
            for index, measurement in enumerate(measurements):
                row = measurement.row(baseline_s=baseline_s, cores=cores, is_baseline=index == 0)
                if row.runner == "processes":
                    row.extra["start_method"] = start_method
                if measurement.pool.backend is not None:  # interpreters: which executor
                    row.extra["backend"] = measurement.pool.backend
                row.extra.update(measurement.pool.row_extra)  # dask: which cluster and workers
                done += 1
                yield row
