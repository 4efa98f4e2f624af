"""``fastfib lab crossover``: at what task size does a warm process pool catch up with nogil threads?

Both run the same ``cython-nogil`` tasks on W workers, each pool started and
warmed once, outside the timing. Here the clock *includes* handing the tasks
over (no start gate), because that hand-over is the whole difference: a thread
pool passes a task through an in-process queue (microseconds), a process pool
pickles it through a pipe to another interpreter and the result back (hundreds
of microseconds). Throughput is tasks per second; the ideal is W times the
throughput of the same tasks run one after another on one thread,
measured beside them (so a busy machine skews both alike).

Small tasks: the threads' cheap hand-over wins. Large tasks: both approach
the ideal and the curves meet (threads less than 5 % ahead). Very small tasks:
the executors' own overhead dominates both (efficiency well below 1 for each).
``fastfib crossover`` is the same command by its older name; its ``--json``
document is its own, ``fastfib.crossover``.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fastfib import environment, measure, registry, runners, tables
from fastfib.command import UsageError, numbers
from fastfib.files import envelope
from fastfib.lab.experiment import START_METHOD, Experiment, Option, ProgressFn
from fastfib.runners import executors
from fastfib.tasks import burn_task, calibrate, oracle

__all__ = ["DEFAULT_TASK_MS", "EXPERIMENT", "KERNEL", "MEET_WITHIN", "TABLE_HEADER", "Point", "document",
           "meeting_point", "run", "sweep", "table_cells"]

KERNEL = "cython-nogil"
MEET_WITHIN = 1.05  # the curves "meet" once threads are less than 5 % ahead
DEFAULT_TASK_MS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SCHEMA = "fastfib.crossover"
SCHEMA_VERSION = 1  # {"schema", "schema_version", "meta", "points": [Point], "meet_ms", "summary"}
#   (additive, still 1: meta gained "command")


@dataclass
class Point:
    """One task size: the same tasks on warm threads and on a warm process pool."""

    target_ms: float
    n: int
    task_ms: float  # one task's measured cost, run alone
    tasks: int
    threads_per_s: float  # median throughput of the repeats
    processes_per_s: float
    ratio: float  # threads / processes throughput: > 1 means threads deliver more
    threads_efficiency: float  # throughput / ideal (workers x sequential throughput, measured beside)
    processes_efficiency: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _throughput(pool: executors.Pool, n: int, tasks: int, repeats: int) -> float:
    expected = oracle(n)
    rates = []
    for _ in range(repeats):
        batch = pool.run(burn_task, [(KERNEL, n)] * tasks, gate=False)
        if any(result != expected for result in batch.results):
            raise RuntimeError(f"wrong result from {pool.runner.name}: F({n}) = {expected}")
        rates.append(tasks / batch.wall_s)
    return statistics.median(rates)


def sweep(
    task_ms: Sequence[float],
    *,
    workers: int,
    start_method: str = "forkserver",
    repeats: int = 3,
    seconds_per_point: float = 0.15,
    progress: ProgressFn = lambda what, done, total: None,
) -> list[Point]:
    """Measure each task size on ``workers`` threads and ``workers`` processes."""
    points: list[Point] = []
    total = len(task_ms)
    progress("starting the pools", 0, total)
    with runners.make_runner("sequential").open(1) as alone, \
            runners.make_runner("threads").open(workers) as threads, \
            runners.make_runner("processes", start_method=start_method,
                                preload=measure.PRELOAD).open(workers) as processes:
        for done, target in enumerate(task_ms):
            progress(f"tasks of {target:g} ms: calibrating", done, total)
            calibration = calibrate(KERNEL, target / 1000)
            task_s = calibration.task_s
            # Enough tasks for ~seconds_per_point of ideal work, and a few per worker at least.
            tasks = int(min(2000, max(8 * workers, seconds_per_point * workers / task_s)))
            progress(f"tasks of {target:g} ms: {tasks} tasks", done, total)
            # The ideal, measured now (not at calibration): W times one worker's pace alone.
            ideal = workers * _throughput(alone, calibration.n, max(1, tasks // workers), repeats)
            on_threads = _throughput(threads, calibration.n, tasks, repeats)
            on_processes = _throughput(processes, calibration.n, tasks, repeats)
            points.append(Point(target, calibration.n, 1000 * task_s, tasks, on_threads, on_processes,
                                on_threads / on_processes, on_threads / ideal, on_processes / ideal))
    progress("done", total, total)
    return points


def meeting_point(points: Sequence[Point]) -> tuple[float | None, str]:
    """Where threads' lead falls under MEET_WITHIN: (task ms or None, a sentence saying so).

    The task size is interpolated between the two measured sizes around it,
    on a log scale of task time.
    """
    ordered = sorted(points, key=lambda p: p.task_ms)
    if not ordered:
        return None, "nothing measured"
    lead = f"threads less than {MEET_WITHIN - 1:.0%} ahead"
    if ordered[0].ratio <= MEET_WITHIN:
        return ordered[0].task_ms, (
            f"the curves already meet at the smallest task measured ({ordered[0].task_ms:.3g} ms: {lead})")
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.ratio <= MEET_WITHIN:
            x0, x1 = math.log(before.task_ms), math.log(after.task_ms)
            y0, y1 = before.ratio, after.ratio
            x = x0 + (y0 - MEET_WITHIN) * (x1 - x0) / (y0 - y1)
            meet = math.exp(x)
            return meet, (f"the curves meet at about {meet:.2g} ms per task ({lead} from there on; "
                          f"{before.ratio:.2f}× at {before.task_ms:.3g} ms, {after.ratio:.2f}× at "
                          f"{after.task_ms:.3g} ms)")
    last = ordered[-1]
    return None, (f"the curves do not meet in the sizes measured: threads still {last.ratio:.2f}× "
                  f"ahead at {last.task_ms:.3g} ms per task")


def overhead_bound(points: Sequence[Point], below: float = 0.5) -> list[Point]:
    """Sizes where both executors reach less than ``below`` of the ideal throughput."""
    return [p for p in points if p.threads_efficiency < below and p.processes_efficiency < below]


TABLE_HEADER = ("task ms (target)", "n", "task ms", "tasks", "threads tasks/s", "processes tasks/s",
                "threads/processes", "threads eff", "processes eff")


def table_cells(points: Sequence[Point]) -> list[list[str]]:
    """The cells of the points' table under TABLE_HEADER (the terminal's and the HTML report's)."""
    return [[f"{p.target_ms:g}", str(p.n), f"{p.task_ms:.3g}", str(p.tasks), f"{p.threads_per_s:,.0f}",
             f"{p.processes_per_s:,.0f}", tables.times(p.ratio), f"{p.threads_efficiency:.2f}",
             f"{p.processes_efficiency:.2f}"] for p in points]


def run(*, task_ms: Sequence[float], workers: int, start_method: str = "forkserver", repeats: int = 3,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """The sweep; a JSON-ready dict whose ``finding`` says where the curves meet."""
    points = sweep(task_ms, workers=workers, start_method=start_method, repeats=repeats, progress=progress)
    meet, summary = meeting_point(points)
    return {"settings": {"workers": workers, "start_method": start_method, "repeats": repeats, "kernel": KERNEL},
            "points": [p.to_dict() for p in points], "meet_ms": meet, "finding": summary}


def document(result: dict[str, Any], command: str) -> dict[str, Any]:
    """The ``--json`` document: "fastfib.crossover", with the settings and the command line in its meta."""
    return envelope(SCHEMA, SCHEMA_VERSION, measure.metadata(**result["settings"], command=command),
                    {"points": result["points"], "meet_ms": result["meet_ms"], "summary": result["finding"]})


def format_text(result: dict[str, Any]) -> str:
    points = [Point(**point) for point in result["points"]]
    workers = result["settings"]["workers"]
    lines = [tables.grid(TABLE_HEADER, table_cells(points), left=0), "",
             f"{workers} workers each; processes start by {result['settings']['start_method']}; "
             f"efficiency = throughput / ({workers} x sequential throughput).",
             f"Where they meet: {result['finding']}."]
    swamped = overhead_bound(points)
    if swamped:
        lines.append("Executor overhead dominates both (efficiency < 0.5) at: "
                     + ", ".join(f"{p.task_ms:.3g} ms" for p in swamped) + ".")
    return "\n".join(lines)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    task_ms = sorted(set(numbers(settings.task_ms, "--task-ms", float)))
    if KERNEL not in registry.names():
        raise UsageError(f"the crossover needs the {KERNEL} kernel: {registry.UNAVAILABLE.get(KERNEL)}")
    return run(task_ms=task_ms, workers=settings.workers or max(2, environment.usable_cores()),
               start_method=settings.start_method, repeats=settings.repeats, progress=progress)


EXPERIMENT = Experiment(
    name="crossover", help="sweep the task size: where does a warm process pool catch up with nogil threads?",
    description=__doc__,
    examples=("fastfib crossover                              # 0.01 ms ... 10 ms, about 10-20 s",
              "fastfib crossover --task-ms 0.01,0.1,1,10 --json crossover.json",
              "fastfib crossover --workers 4 --start-method fork"),
    options=(
        Option("--task-ms", "comma-separated task sizes in ms", default=",".join(f"{v:g}" for v in DEFAULT_TASK_MS)),
        Option("--workers", "workers in each pool (default: usable cores)", number=int, short="-w"),
        START_METHOD,
        Option("--repeats", "repeats per size; the median is reported", default="3", number=int),
    ),
    run=_run, format_text=format_text, document=document,
)
