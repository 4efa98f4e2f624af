"""``fastfib lab latency``: the convoy effect -- an I/O thread behind a CPU-bound one.

An I/O-bound thread sleeps 1 ms in a loop and measures how late each wake-up
is (the time past the 1 ms it asked for): that lateness is the latency the
thread would add to every request it serves. Beside it, another thread runs
CPU-bound work for the same stretch, one kernel at a time:

* idle (nothing beside it): the OS's own wake-up cost, ~0.1 ms;
* python: the I/O thread waits for the switch interval (~5 ms) at every wake-up;
* cython-gil: it waits for the end of the running C call (the whole call);
* cython-nogil: the C work holds no GIL, the I/O thread wakes as if idle;
* numpy: its array loops release the GIL, its Python glue does not.

CPU-bound calls are sized at ``--call-ms`` each (default 100 ms), so a
GIL-holding call shows up as a lateness of that size.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from fastfib import gil, registry
from fastfib.lab.blocking_io import percentile
from fastfib.lab.experiment import Experiment, Option, ProgressFn, available, burn_kernels
from fastfib.tables import grid
from fastfib.tasks import calibrate

__all__ = ["EXPERIMENT", "run", "wakeups"]

TICK_S = 0.001


def wakeups(kernel: str | None, n: int, seconds: float) -> list[float]:
    """Lateness (ms) of every 1 ms sleep of an I/O thread while ``kernel`` burns beside it (None: idle)."""
    stop = threading.Event()
    late: list[float] = []

    def cpu() -> None:
        burn = registry.burn_of(kernel)
        while not stop.is_set():
            burn(n)

    def io() -> None:
        clock, sleep = time.perf_counter, time.sleep
        deadline = clock() + seconds
        while clock() < deadline:
            asked = clock()
            sleep(TICK_S)
            late.append(1000 * (clock() - asked - TICK_S))

    burner = threading.Thread(target=cpu, name="cpu-bound") if kernel else None
    if burner:
        burner.start()
        time.sleep(0.01)  # let the CPU-bound thread get going
    waiter = threading.Thread(target=io, name="io-bound")
    waiter.start()
    waiter.join()
    stop.set()
    if burner:
        burner.join()
    return late


def run(*, kernels: Sequence[str], seconds: float, call_ms: float,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Idle, then each kernel; a JSON-ready dict with a one-sentence ``finding``."""
    plan: list[str | None] = [None, *kernels]
    rows, samples = [], {}
    for done, kernel in enumerate(plan):
        label = kernel or "idle"
        progress(f"{label}: calibrating", done, len(plan))
        calibration = calibrate(kernel, call_ms / 1000) if kernel else None
        progress(f"{label}: {seconds:g} s of 1 ms sleeps", done, len(plan))
        late = wakeups(kernel, calibration.n if calibration else 0, seconds)
        samples[label] = late
        rows.append({"beside": label, "call_ms": 1000 * calibration.task_s if calibration else None,
                     "n": calibration.n if calibration else None, "wakeups": len(late),
                     "median_ms": statistics.median(late), "p99_ms": percentile(late, 99), "max_ms": max(late)})
    progress("done", len(plan), len(plan))
    return {"settings": {"kernels": list(kernels), "seconds": seconds, "call_ms": call_ms, "tick_ms": 1000 * TICK_S},
            "rows": rows, "samples_ms": {k: [round(v, 4) for v in vs] for k, vs in samples.items()},
            "finding": finding(rows)}


def finding(rows: list[dict[str, Any]]) -> str:
    parts = [f"{r['beside']} {r['median_ms']:.2f} ms (max {r['max_ms']:.1f})" for r in rows]
    return ("A thread waking from a 1 ms sleep is late by a median of " + ", ".join(parts)
            + " depending on the CPU-bound work beside it"
            + ("." if gil.gil_enabled() else " (no GIL here to wait for: free-threaded build)."))


def format_text(result: dict[str, Any]) -> str:
    header = ["beside the I/O thread", "one CPU call ms", "wake-ups", "late: median ms", "p99 ms", "max ms"]
    body = [[r["beside"], "-" if r["call_ms"] is None else f"{r['call_ms']:.1f}", f"{r['wakeups']:,}",
             f"{r['median_ms']:.3f}", f"{r['p99_ms']:.2f}", f"{r['max_ms']:.2f}"] for r in result["rows"]]
    return (grid(header, body, left=1) + "\n\nlate = how long past its 1 ms a sleep returned (it must get the GIL "
            "back to return). python: the switch interval; cython-gil: the rest of the running C call.")


def plot(result: dict[str, Any], path: str) -> None:
    """The distribution of lateness per neighbour (CDF, log scale)."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure()
    for label, values in result["samples_ms"].items():
        ordered = sorted(max(v, 1e-3) for v in values)
        ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("wake-up lateness, ms (log)")
    ax.set_ylabel("share of wake-ups")
    ax.set_title("fastfib lab latency: an I/O thread beside CPU-bound work", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(kernels=burn_kernels(settings.kernels), seconds=settings.seconds, call_ms=settings.call_ms,
               progress=progress)


EXPERIMENT = Experiment(
    name="latency", help="the convoy effect: an I/O thread's wake-up latency beside CPU-bound work",
    description=__doc__, examples=("fastfib lab latency --call-ms 200 --plot latency.png",),
    options=(
        Option("--kernels", "kernels", default=available("python,numpy,cython-gil,cython-nogil"), short="-k"),
        Option("--seconds", "of 1 ms sleeps per kernel", default="1", quick="0.4", number=float),
        Option("--call-ms", "length of one CPU-bound call", default="100", quick="50", number=float),
    ),
    run=_run, format_text=format_text, plot=plot,
    readme=("the convoy effect",
            "An I/O thread waking from a 1 ms sleep is late by the switch interval beside pure Python, by the "
            "whole call beside a GIL-holding C call, and not at all beside the nogil kernel."),
)
