"""``fastfib lab granularity``: how much work per ``with nogil:`` call before releasing pays.

Two threads each make many calls of the nogil kernel, every call ``burn(n)``
with n chosen so one call costs about ``work_us`` microseconds. Between calls
each thread runs a little Python (the loop), which needs the GIL back: with
tiny calls the threads spend their time queueing for the GIL and the 2-thread
speedup stays near 1; with calls of ~10 µs and more the C work dominates and
the speedup approaches the number of cores. ``cython-gil`` runs beside it as
the control: it never overlaps, at any size.

The fix for tiny calls is batching: ``burn_many`` computes a whole list of n
in one C call, releasing the GIL once for all of them. :func:`batching` puts
per-item calls and batches of ``BATCH`` items side by side at ~1 µs of work
per item, each speedup paired with its sequential run (:mod:`fastfib.measure.paired`).

This module is the one implementation of the sweep: ``fastfib lab
granularity`` and the benchmark suite (``benchmarks/test_micro.py``) both use
:func:`task_for` and :func:`repeat_burn`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fastfib import gil, registry, runners
from fastfib.command import numbers
from fastfib.lab.experiment import Experiment, Option, ProgressFn, available, burn_kernels
from fastfib.measure import machine, paired
from fastfib.runners import executors
from fastfib.tables import grid
from fastfib.tasks import calibrate, oracle

__all__ = ["BATCH", "DEFAULT_WORK_US", "EXPERIMENT", "QUICK_WORK_US", "BatchTask", "Task", "batch_task_for",
           "batching", "repeat_burn", "repeat_burn_many", "run", "sweep", "task_for"]

BATCH = 1000  # items per burn_many call in the batching comparison

DEFAULT_WORK_US = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
QUICK_WORK_US = (1.0, 10.0, 100.0, 1000.0)


@dataclass(frozen=True)
class Task:
    """One thread's share at one granularity: ``calls`` calls of ``burn(n)`` on ``kernel``."""

    kernel: str
    work_us: float  # the target work per call
    n: int
    measured_us: float  # one call's cost, measured at calibration
    calls: int

    @property
    def args(self) -> tuple[str, int, int]:
        return (self.kernel, self.n, self.calls)

    def expected(self) -> int:
        """What :func:`repeat_burn` must return for this share."""
        return self.calls * oracle(self.n)


def task_for(kernel: str, work_us: float, share_s: float = 0.02) -> Task:
    """The share of one thread: calls of about ``work_us`` each, ``share_s`` of work in all."""
    calibration = calibrate(kernel, work_us / 1e6)
    calls = max(1, int(share_s / max(calibration.task_s, 1e-7)))
    return Task(kernel, work_us, calibration.n, 1e6 * calibration.task_s, calls)


def repeat_burn(kernel: str, n: int, calls: int) -> int:
    """``calls`` calls of burn(n): one thread's share. Importable, so any pool can run it."""
    burn = registry.burn_of(kernel)
    total = 0
    for _ in range(calls):
        total += burn(n)
    return total


def repeat_burn_many(kernel: str, n: int, batches: int, batch: int) -> int:
    """``batches`` calls of burn_many([n] * batch): one thread's share, in batches."""
    burn_many = registry.get(kernel).burn_many
    items = [n] * batch
    total = 0
    for _ in range(batches):
        total += sum(burn_many(items))  # type: ignore[misc]  # only kernels with a batch get here
    return total


@dataclass(frozen=True)
class BatchTask:
    """One thread's share of the batching comparison: ``batches`` x ``batch`` items of burn(n),
    n chosen so that one item's C work (measured inside a batch) is about ``work_us``."""

    kernel: str
    n: int
    measured_us: float  # one item's cost inside a batch: the work, without a call's overhead
    batch: int
    batches: int

    @property
    def items(self) -> int:
        return self.batch * self.batches

    def cases(self) -> dict[str, tuple[Callable[..., int], tuple]]:
        """The same items as per-item burn() calls, and as burn_many() batches."""
        return {"per_item": (repeat_burn, (self.kernel, self.n, self.items)),
                "batched": (repeat_burn_many, (self.kernel, self.n, self.batches, self.batch))}

    def expected(self) -> int:
        return self.items * oracle(self.n)


def batch_task_for(kernel: str = "cython-nogil", work_us: float = 1.0, batch: int = BATCH,
                   share_s: float = 0.02) -> BatchTask:
    """The smallest n whose work per item, timed inside a batch, reaches ``work_us``. (Timed
    per call instead, the call's own overhead -- argument checks, the GIL's release and
    return -- would count as work: at 1 µs per call the C work is a fifth of that.)"""
    burn_many = registry.get(kernel).burn_many
    n, per_item = 1, 0.0
    while n < 40:
        items = [n] * batch
        per_item = min(_timed(burn_many, items) for _ in range(3)) / batch  # type: ignore[arg-type]
        if per_item >= work_us / 1e6:
            break
        n += 1
    batches = max(1, int(share_s / (per_item * batch)))
    return BatchTask(kernel, n, 1e6 * per_item, batch, batches)


def _timed(call: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    call(*args)
    return time.perf_counter() - start


def batching(kernel: str = "cython-nogil", work_us: float = 1.0, batch: int = BATCH, *, share_s: float = 0.02,
             budget_s: float = 1.0) -> dict[str, Any]:
    """2-thread speedup of per-item calls against batches of ``batch`` items, at ``work_us``
    of work per item: the same items either way, each speedup paired with its sequential run."""
    task = batch_task_for(kernel, work_us, batch, share_s)
    expected = [task.expected()] * 2
    found: dict[str, Any] = {"kernel": kernel, "work_us": work_us, "measured_us": task.measured_us, "n": task.n,
                             "batch": batch, "items_per_thread": task.items}
    with runners.make_runner("sequential").open(1) as alone, runners.make_runner("threads").open(2) as pair:
        for name, (fn, args) in task.cases().items():

            def timed(pool: executors.Pool, fn: Callable[..., int] = fn, args: tuple = args, name: str = name) -> float:
                batch_run = pool.run(fn, [args] * 2)
                if batch_run.results != expected:
                    raise RuntimeError(f"wrong result from {kernel} {name} burn({task.n})")
                return batch_run.wall_s

            timed(pair)  # warm
            found[name] = paired.measure(lambda: timed(alone), lambda: timed(pair), budget_s=budget_s,
                                         watch=machine.MachineWatch(2)).to_dict()
    return found


@dataclass
class Point:
    kernel: str
    work_us: float
    n: int
    measured_us: float
    calls: int
    sequential_ms: float  # median: both shares one after the other
    threads_ms: float  # median: both shares at once on 2 threads
    speedup: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep(kernels: Sequence[str], work_us: Sequence[float], *, share_s: float, repeats: int,
          progress: ProgressFn = lambda what, done, total: None) -> list[Point]:
    """Each kernel at each size: 2 shares sequentially and on 2 threads, repeats interleaved."""
    points = []
    total, done = len(kernels) * len(work_us), 0
    with runners.make_runner("sequential").open(1) as alone, runners.make_runner("threads").open(2) as pair:
        for kernel in kernels:
            for size in work_us:
                progress(f"{kernel}: {size:g} µs per call", done, total)
                task = task_for(kernel, size, share_s)
                args = [task.args] * 2
                pair.run(repeat_burn, args)  # warm
                seq: list[float] = []
                par: list[float] = []
                for _ in range(repeats):
                    for pool, times in ((alone, seq), (pair, par)):
                        batch = pool.run(repeat_burn, args)
                        if batch.results != [task.expected()] * 2:
                            raise RuntimeError(f"wrong result from {kernel} burn({task.n})")
                        times.append(batch.wall_s)
                points.append(Point(kernel, size, task.n, task.measured_us, task.calls,
                                    1000 * statistics.median(seq), 1000 * statistics.median(par),
                                    statistics.median(seq) / statistics.median(par)))
                done += 1
    progress("done", total, total)
    return points


def run(*, kernels: Sequence[str], work_us: Sequence[float], share_s: float, repeats: int,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """The sweep; a JSON-ready dict with a one-sentence ``finding``."""
    points = sweep(kernels, work_us, share_s=share_s, repeats=repeats, progress=progress)
    batched = None
    if "cython-nogil" in kernels and registry.get("cython-nogil").burn_many is not None:
        progress("batching: per-item calls vs batches", len(points), len(points))
        batched = batching(share_s=share_s, budget_s=50 * share_s)
    return {"settings": {"kernels": list(kernels), "work_us": list(work_us), "share_ms": 1000 * share_s,
                         "repeats": repeats}, "points": [p.to_dict() for p in points], "batching": batched,
            "finding": finding(points, batched)}


def _us(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def finding(points: Sequence[Point], batched: dict[str, Any] | None = None) -> str:
    nogil = [p for p in points if p.kernel == "cython-nogil"]
    held = [p for p in points if p.kernel != "cython-nogil"]
    text = "2-thread speedup of cython-nogil by work per call: " + ", ".join(
        f"{_us(p.measured_us)} µs → {p.speedup:.2f}×" for p in nogil)
    if held:
        names = ", ".join(sorted({p.kernel for p in held}))
        text += "; " + (f"{names} stays at " if gil.gil_enabled() else
                        f"{names}, with no GIL here to hold (free-threaded build), reads ") + ", ".join(
            f"{p.speedup:.2f}×" for p in held)
    if batched:
        each = {name: paired.PairedRatio.from_dict(batched[name]).describe() for name in ("batched", "per_item")}
        text += (f"; at {_us(batched['measured_us'])} µs per item, batches of {batched['batch']:,} items per call "
                 f"give {each['batched']} where per-item calls give {each['per_item']}")
    return text + "."


def format_text(result: dict[str, Any]) -> str:
    header = ["kernel", "target µs/call", "n", "measured µs/call", "calls/thread", "sequential ms", "2 threads ms",
              "speedup"]
    body = [[p["kernel"], f"{p['work_us']:g}", str(p["n"]), f"{p['measured_us']:.3g}", f"{p['calls']:,}",
             f"{p['sequential_ms']:.1f}", f"{p['threads_ms']:.1f}", f"{p['speedup']:.2f}×"] for p in result["points"]]
    text = (grid(header, body, left=1) + f"\n\nEach of 2 threads makes ~{result['settings']['share_ms']:g} ms of "
            "calls; speedup = both shares one after the other / both at once (median of the repeats).")
    batched = result.get("batching")
    if batched:
        rows = [[name.replace("_", "-"), f"{batched['measured_us']:.3g}", "1" if name == "per_item" else
                 f"{batched['batch']:,}", paired.PairedRatio.from_dict(batched[name]).describe()]
                for name in ("per_item", "batched")]
        text += ("\n\n" + grid(["calls", "µs per item", "items per call", "2-thread speedup (paired)"], rows, left=1)
                 + f"\nThe same {batched['items_per_thread']:,} items per thread, per-item burn() calls vs "
                 "burn_many() batches: one GIL release per batch.")
    return text


def plot(result: dict[str, Any], path: str) -> None:
    """2-thread speedup against the work per call (log scale), one line per kernel."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure()
    for kernel in result["settings"]["kernels"]:
        points = [p for p in result["points"] if p["kernel"] == kernel]
        ax.plot([p["measured_us"] for p in points], [p["speedup"] for p in points], marker="o", label=kernel)
    ax.axhline(2, color="0.6", lw=1, label="ideal on 2 cores")
    ax.axhline(1, color="0.8", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("work per call, µs (log)")
    ax.set_ylabel("2-thread speedup")
    ax.set_ylim(0, 2.4)
    ax.set_title("fastfib lab granularity: when releasing the GIL pays", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plotting.save(figure, path)


def _listed(values: Sequence[float]) -> str:
    return ",".join(f"{value:g}" for value in values)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(kernels=burn_kernels(settings.kernels),
               work_us=sorted(set(numbers(settings.work_us, "--work-us", float))), share_s=settings.share_ms / 1000,
               repeats=settings.repeats, progress=progress)


EXPERIMENT = Experiment(
    name="granularity", help="when releasing pays: 2-thread speedup by work per nogil call", description=__doc__,
    examples=("fastfib lab granularity --work-us 0.1,1,10,100 --plot g.png",),
    options=(
        Option("--kernels", "kernels", default=available("cython-nogil,cython-gil"), short="-k"),
        Option("--work-us", "work per call, µs", default=_listed(DEFAULT_WORK_US), quick=_listed(QUICK_WORK_US)),
        Option("--share-ms", "work per thread per repeat", default="40", quick="20", number=float),
        Option("--repeats", "repeats", default="5", quick="3", number=int),
    ),
    run=_run, format_text=format_text, plot=plot,
    readme=("when releasing pays",
            "Releasing the GIL pays on threads only when each nogil call does enough work: around a "
            "microsecond the threads queue for the GIL, from tens of microseconds they approach the cores."),
)
