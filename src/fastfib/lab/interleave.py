"""``fastfib lab interleave``: who runs when, as numbers.

The notebook's demonstration: two threads print ``_`` and ``*`` in a loop and
the output shows long runs of one character, then of the other. Here each
thread does small steps of work (one ``burn`` call of about ``step_us`` each)
and appends ``(mark, start, end)`` to a shared list after every step. From that
record come:

* switches per second: how often the step order changes thread;
* the longest run: the longest stretch of one thread's consecutive steps, in
  ms (pure Python: about the switch interval, ``sys.setswitchinterval``, swept
  here; a C call holding the GIL: one call);
* parallelism: the two threads' CPU time over the wall time -- about 1 when
  the GIL serialises them (a thread waiting for the GIL sleeps), about 2 when
  the nogil kernel lets them truly run in parallel (on 2+ cores).

Only the stretch where both threads are running counts (thread start-up is
trimmed off).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from fastfib import gil, registry
from fastfib.command import numbers
from fastfib.lab.experiment import Experiment, Option, ProgressFn, available, burn_kernels
from fastfib.tables import grid
from fastfib.tasks import calibrate

__all__ = ["EXPERIMENT", "Step", "record", "run", "statistics_of"]

Step = tuple[str, float, float]  # (mark, start, end), perf_counter seconds
TIMELINE_S = 0.03  # the timeline's window: the first 30 ms of each run
TIMELINE_SPANS = 2000  # at most this many busy spans kept per timeline (the JSON stays small)
JOIN_GAP_S = 10e-6  # a thread's steps closer than this merge into one busy span


def record(kernel: str, n: int, seconds: float,
           switch_interval_s: float | None = None) -> tuple[list[Step], dict[str, float]]:
    """Two threads, marks "_" and "*", each doing burn(n) steps for ``seconds`` (at least one):
    (the steps in append order, each thread's CPU seconds)."""
    burn = registry.burn_of(kernel)
    steps: list[Step] = []
    cpu: dict[str, float] = {}
    barrier = threading.Barrier(2)
    deadline = [0.0]

    def work(mark: str) -> None:
        append, clock = steps.append, time.perf_counter
        if barrier.wait() == 0:
            deadline[0] = clock() + seconds
        while not deadline[0]:
            pass
        cpu_start = time.thread_time()
        end = 0.0
        while end <= deadline[0]:  # at least one step each, however late a thread starts
            start = clock()
            burn(n)
            end = clock()
            append((mark, start, end))
        cpu[mark] = time.thread_time() - cpu_start

    old = sys.getswitchinterval()
    if switch_interval_s is not None:
        sys.setswitchinterval(switch_interval_s)
    try:
        threads = [threading.Thread(target=work, args=(mark,)) for mark in "_*"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old)
    return steps, cpu


def busy_spans(steps: Sequence[Step]) -> list[Step]:
    """When each thread was running: (mark, start, end) spans by start.

    A step that took far longer than the usual step (over 3 x the median) was
    preempted and spent most of its time waiting for the GIL: it is left out.
    The rest, back to back in one thread, merge into spans.
    """
    if not steps:
        return []
    durations = sorted(end - start for _, start, end in steps)
    longest = 3 * durations[len(durations) // 2]
    spans: dict[str, list[list[Any]]] = {}
    for mark, start, end in sorted(steps, key=lambda step: step[1]):
        if end - start > longest:
            continue
        own = spans.setdefault(mark, [])
        if own and start - own[-1][2] < JOIN_GAP_S:
            own[-1][2] = max(own[-1][2], end)
        else:
            own.append([mark, start, end])
    return sorted((tuple(span) for group in spans.values() for span in group), key=lambda span: span[1])


def both_running(steps: Sequence[Step]) -> list[Step]:
    """The steps inside the stretch where both threads were running (start-up and wind-down trimmed)."""
    marks = {mark for mark, _, _ in steps}
    if len(marks) < 2:
        return list(steps)
    begin = max(min(s for m, s, _ in steps if m == mark) for mark in marks)
    end = min(max(e for m, _, e in steps if m == mark) for mark in marks)
    return [step for step in steps if step[1] >= begin and step[2] <= end]


def statistics_of(steps: Sequence[Step], cpu_s: float | None = None, wall_s: float | None = None) -> dict[str, Any]:
    """Switches per second, the longest run of one thread (steps and ms), and the
    parallelism ``cpu_s / wall_s`` when given."""
    parallelism = cpu_s / wall_s if cpu_s is not None and wall_s else None
    if not steps:
        return {"steps": 0, "switches": 0, "switches_per_s": 0.0, "longest_run_ms": 0.0, "longest_run_steps": 0,
                "median_run_steps": 0, "median_run_ms": 0.0, "parallelism": parallelism, "sample": ""}
    ordered = sorted(steps, key=lambda step: step[2])  # by when each step finished
    runs: list[tuple[str, int, float, float]] = []  # (mark, steps, first start, last end)
    for mark, start, end in ordered:
        if runs and runs[-1][0] == mark:
            _, count, first, _ = runs[-1]
            runs[-1] = (mark, count + 1, first, end)
        else:
            runs.append((mark, 1, start, end))
    span = ordered[-1][2] - min(step[1] for step in ordered)
    counts = sorted(run[1] for run in runs)
    lengths = sorted(run[3] - run[2] for run in runs)
    longest = max(runs, key=lambda run: run[3] - run[2])
    return {
        "steps": len(ordered), "switches": len(runs) - 1, "switches_per_s": (len(runs) - 1) / span if span else 0.0,
        "longest_run_ms": 1000 * (longest[3] - longest[2]), "longest_run_steps": max(counts),
        "median_run_steps": counts[len(counts) // 2], "median_run_ms": 1000 * lengths[len(lengths) // 2],
        "parallelism": parallelism,
        "sample": "".join(mark for mark, _, _ in ordered[:100]),
    }


def run(*, kernels: Sequence[str], switch_intervals_ms: Sequence[float], seconds: float, step_us: float,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Every configuration: pure Python at each switch interval, each other kernel at the default."""
    plan: list[tuple[str, float | None]] = []
    for kernel in kernels:
        if kernel == "python":
            plan += [(kernel, interval / 1000) for interval in switch_intervals_ms]
        else:
            plan.append((kernel, None))
    rows, timelines = [], []
    for done, (kernel, interval) in enumerate(plan):
        progress(f"{kernel}, switch interval {1000 * (interval or sys.getswitchinterval()):g} ms", done, len(plan))
        n = calibrate(kernel, step_us / 1e6).n
        everything, cpu = record(kernel, n, seconds, interval)
        steps = both_running(everything)
        wall = max(e for _, _, e in everything) - min(s for _, s, _ in everything)
        stats = statistics_of(steps, sum(cpu.values()), wall)
        rows.append({"kernel": kernel, "switch_interval_ms": 1000 * (interval or sys.getswitchinterval()),
                     "n": n, "seconds": seconds, **stats})
        origin = min(step[1] for step in steps)
        window = busy_spans([(mark, start - origin, end - origin) for mark, start, end in steps
                             if start - origin < TIMELINE_S])[:TIMELINE_SPANS]
        timelines.append({"kernel": kernel, "switch_interval_ms": rows[-1]["switch_interval_ms"],
                          "steps": [[mark, round(start, 6), round(end, 6)] for mark, start, end in window]})
    progress("done", len(plan), len(plan))
    return {"settings": {"kernels": list(kernels), "switch_intervals_ms": list(switch_intervals_ms),
                         "seconds": seconds, "step_us": step_us},
            "rows": rows, "timelines": timelines, "finding": finding(rows)}


def finding(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        interval = f" at a {row['switch_interval_ms']:g} ms switch interval" if row["kernel"] == "python" else ""
        what = row["kernel"] + interval
        parts.append(f"{what}: runs of {row['median_run_ms']:.2g} ms (median; longest {row['longest_run_ms']:.1f}), "
                     f"{row['switches_per_s']:,.0f} switches/s, parallelism {row['parallelism']:.2f}")
    if gil.gil_enabled():
        return "Two threads, one thread's turn at a time — " + "; ".join(parts) + "."
    return ("Two threads with no GIL to take turns at (free-threaded build), so every kernel may run both at once "
            "— " + "; ".join(parts) + ".")


def format_text(result: dict[str, Any]) -> str:
    header = ["kernel", "switch interval ms", "steps", "switches/s", "longest run ms", "longest run steps",
              "median run ms", "parallelism"]
    body = [[r["kernel"], f"{r['switch_interval_ms']:g}", f"{r['steps']:,}", f"{r['switches_per_s']:,.0f}",
             f"{r['longest_run_ms']:.2f}", f"{r['longest_run_steps']:,}", f"{r['median_run_ms']:.2f}",
             f"{r['parallelism']:.2f}"] for r in result["rows"]]
    lines = [grid(header, body, left=1), "", "the first 100 steps, in order (the notebook's picture):"]
    lines += [f"  {r['kernel']:<13} {r['switch_interval_ms']:>5g} ms  {r['sample']}" for r in result["rows"]]
    lines.append(f"\nA step is one burn call of about {result['settings']['step_us']:g} µs; a run = one thread's "
                 "consecutive steps; parallelism = both threads' CPU time / wall time.")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str) -> None:
    """The first 30 ms of each configuration: when each thread was busy (back-to-back steps merged)."""
    from fastfib.lab import plotting

    timelines = result["timelines"]
    figure, ax = plotting.figure(size=(8.0, 0.7 * len(timelines) * 2 + 1.2))
    labels, colours = [], {"_": "tab:blue", "*": "tab:orange"}
    for index, line in enumerate(timelines):
        for offset, mark in enumerate("_*"):
            y = 2 * index + offset
            bars = [(start * 1000, (end - start) * 1000) for m, start, end in line["steps"] if m == mark]
            ax.broken_barh(bars, (y - 0.4, 0.8), color=colours[mark])
            labels.append((y, f"{line['kernel']} {line['switch_interval_ms']:g} ms  thread {mark}"))
    ax.set_yticks([y for y, _ in labels], [text for _, text in labels], fontsize=7)
    ax.set_xlabel("ms since start")
    ax.set_xlim(0, 1000 * TIMELINE_S)
    ax.invert_yaxis()
    ax.set_title("fastfib lab interleave: who runs when (bars: running; a step that waited for the GIL left out)",
                 fontsize=9)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(kernels=burn_kernels(settings.kernels),
               switch_intervals_ms=numbers(settings.switch_ms, "--switch-ms", float), seconds=settings.seconds,
               step_us=settings.step_us, progress=progress)


EXPERIMENT = Experiment(
    name="interleave", help="who runs when: switches/s and the longest run of one thread", description=__doc__,
    examples=("fastfib lab interleave --switch-ms 0.5,5,50 --plot timeline.png",),
    options=(
        Option("--kernels", "kernels", default=available("python,cython-gil,cython-nogil"), short="-k"),
        Option("--switch-ms", "switch intervals for python", default="1,5,20", quick="1,5"),
        Option("--seconds", "per configuration", default="0.5", quick="0.3", number=float),
        Option("--step-us", "work per step, µs", default="20.0", number=float),
    ),
    run=_run, format_text=format_text, plot=plot,
    readme=("who runs when",
            "Two threads take turns at the switch interval under the GIL (the longest run of one thread "
            "follows `sys.setswitchinterval`), while the nogil kernel lets both run at once."),
)
