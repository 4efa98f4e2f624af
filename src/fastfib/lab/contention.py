"""``fastfib lab contention``: what serialises once the GIL is gone.

Each case runs the same tasks -- one per thread, each ITERATIONS steps of a tiny loop -- on 1
thread (all tasks in turn) and on N threads (a started pool behind a barrier), the two timed in
alternation (:mod:`fastfib.measure.paired`), with the parallelism of the N-thread runs (process
CPU / wall) and the cores the machine lent meanwhile. Then the diagnosis of
:mod:`fastfib.measure.contention`: the threads **scaled**, **took turns** (parallelism near 1: a
lock) or **ran at once, each slower** (parallelism near N, speedup low: shared memory).

The cases: ``independent`` (each thread its own counter: scales); ``shared-attribute`` (``+=`` on
one shared object's attribute: contention, and the lost updates counted); ``shared-list``
(appends to one list); ``shared-random`` against ``random-per-thread`` (one ``random.Random``
for all, or one each); ``shared-dict-read`` and ``shared-dict-write`` (one dict read by all,
written by all); ``lock`` (a ``threading.Lock`` held around the work).

On a build with a GIL every case takes turns -- the GIL lets one thread run Python at a time --
and the finding says so in one line: run it on python3.13t / 3.14t to see the rest.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastfib import environment, gil, runners
from fastfib.command import names
from fastfib.lab.experiment import Experiment, Option, ProgressFn
from fastfib.measure import contention, machine, paired
from fastfib.tables import grid

__all__ = ["CASES", "EXPERIMENT", "Shared", "run"]


class Box:
    """One shared object whose attribute every thread increments."""

    def __init__(self) -> None:
        self.count = 0


class Shared:
    """What one run's threads share: made afresh for every run."""

    def __init__(self) -> None:
        self.box = Box()
        self.items: list[int] = []
        self.rng = random.Random(0)
        self.table = {key: key for key in range(64)}
        self.lock = threading.Lock()


# --- the cases: each thread's task, module-level -----------------------------------------------

def independent(shared: Shared, steps: int) -> int:
    count = 0
    for _ in range(steps):
        count += 1
    return count


def shared_attribute(shared: Shared, steps: int) -> int:
    box = shared.box
    for _ in range(steps):
        box.count += 1
    return steps


def shared_list(shared: Shared, steps: int) -> int:
    items = shared.items
    for step in range(steps):
        items.append(step)
    return steps


def shared_random(shared: Shared, steps: int) -> int:
    rng = shared.rng
    for _ in range(steps):
        rng.random()
    return steps


def random_per_thread(shared: Shared, steps: int) -> int:
    rng = random.Random(steps)
    for _ in range(steps):
        rng.random()
    return steps


def shared_dict_read(shared: Shared, steps: int) -> int:
    table = shared.table
    total = 0
    for step in range(steps):
        total += table[step & 63]
    return steps


def shared_dict_write(shared: Shared, steps: int) -> int:
    table = shared.table
    for step in range(steps):
        table[step & 63] = step
    return steps


def lock(shared: Shared, steps: int) -> int:
    with shared.lock:
        return independent(shared, steps)


# name -> (task, what it shows)
CASES: dict[str, tuple[Callable[[Shared, int], int], str]] = {
    "independent": (independent, "each thread its own counter"),
    "shared-attribute": (shared_attribute, "+= on one shared object's attribute"),
    "shared-list": (shared_list, "appends to one shared list"),
    "shared-random": (shared_random, "one random.Random for all threads"),
    "random-per-thread": (random_per_thread, "one random.Random per thread"),
    "shared-dict-read": (shared_dict_read, "one dict read by all threads"),
    "shared-dict-write": (shared_dict_write, "one dict written by all threads"),
    "lock": (lock, "a threading.Lock held around the work"),
}


def _steps_for(task: Callable[[Shared, int], int], target_s: float) -> int:
    """Steps so that one task alone takes about ``target_s``."""
    steps = 2000
    for _ in range(4):
        start = time.perf_counter()
        task(Shared(), steps)
        took = time.perf_counter() - start
        if took > target_s / 4:
            break
        steps *= 4
    return max(1000, int(steps * target_s / max(took, 1e-9)))


def _measure_case(name: str, threads: int, target_s: float, budget_s: float, cores: int,
                  single: Any, pool: Any) -> dict[str, Any]:
    task, what = CASES[name]
    steps = _steps_for(task, target_s)
    lost: list[int] = []

    def one_run(on: Any, counted: list[int] | None = None) -> tuple[float, float]:
        shared = Shared()
        cpu = time.process_time()
        batch = on.run(task, [(shared, steps)] * threads)
        cpu = time.process_time() - cpu
        if batch.results != [steps] * threads:
            raise RuntimeError(f"{name}: a task returned {batch.results!r}")
        if name == "shared-attribute" and counted is not None:
            counted.append(steps * threads - shared.box.count)
        if name == "shared-list" and len(shared.items) != steps * threads:
            raise RuntimeError(f"{name}: {len(shared.items)} items, not {steps * threads}")
        return batch.wall_s, cpu

    one_run(single), one_run(pool)  # warm both
    ratio = paired.measure(lambda: one_run(single), lambda: one_run(pool, lost), budget_s=budget_s,
                           watch=machine.MachineWatch(min(threads, cores)))
    row = {**ratio.to_dict(), "ideal": min(threads, cores)}
    found = contention.diagnose(row, gil_enabled=gil.gil_enabled())
    return {"case": name, "what": what, "threads": threads, "steps": steps, "speedup": ratio.to_dict(),
            "ideal": min(threads, cores),
            "parallelism": None if ratio.parallelism is None else ratio.parallelism.median,
            "updates": steps * threads if name == "shared-attribute" else None,
            "lost_updates": statistics.median(lost) if lost else None, "lost_updates_max": max(lost, default=None),
            "diagnosis": found.to_dict()}


def run(*, cases: Sequence[str], threads: int, target_s: float, budget_s: float,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Every case on 1 and ``threads`` threads, paired; a JSON-ready dict with a ``finding``."""
    cores = environment.usable_cores()
    rows = []
    maker = runners.make_runner("threads")
    with maker.open(1) as single, maker.open(threads) as pool:
        for index, name in enumerate(cases):
            progress(name, index, len(cases))
            rows.append(_measure_case(name, threads, target_s, budget_s, cores, single, pool))
    progress("done", len(cases), len(cases))
    enabled = gil.gil_enabled()
    return {"settings": {"cases": list(cases), "threads": threads, "target_ms": 1000 * target_s, "usable_cores": cores,
                         "interpreter": gil.interpreter_label()},
            "free_threaded": gil.free_threaded_build(), "gil_enabled": enabled, "rows": rows,
            "finding": finding(rows, enabled, threads)}


def finding(rows: Sequence[dict[str, Any]], gil_enabled: bool, threads: int) -> str:
    if gil_enabled:
        return (f"Every case took turns on {threads} threads: the GIL is enabled here ({gil.interpreter_label()}), "
                "so one thread runs Python at a time whatever the code shares; run it on python3.13t / 3.14t to see "
                "what serialises without it.")
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row["diagnosis"]["kind"] or "one thread", []).append(row["case"])
    parts = [f"{kind}: {', '.join(found)}" for kind, found in by_kind.items()]
    lost = [row for row in rows if row["lost_updates"]]
    text = f"Without the GIL, on {threads} threads -- " + "; ".join(parts) + "."
    if lost:
        text += " " + "; ".join(f"{row['case']} lost {row['lost_updates']:,.0f} of {row['updates']:,} updates "
                                "per run (median)" for row in lost) + "."
    return text


def format_text(result: dict[str, Any]) -> str:
    header = ["case", "threads", "speedup", "95% CI", "cores busy", "each slower", "lost updates", "lent",
              "diagnosis"]
    body = []
    for row in result["rows"]:
        ratio, found = row["speedup"], row["diagnosis"]
        lent = (ratio.get("machine") or {}).get("cores")
        body.append([row["case"], f"1 vs {row['threads']}", "-" if ratio["too_noisy"] else f"{ratio['speedup']:.2f}×",
                     f"{ratio['low']:.2f}-{ratio['high']:.2f}×",
                     "-" if row["parallelism"] is None else f"{row['parallelism']:.2f}",
                     "-" if found["each_slower"] is None else f"{found['each_slower']:.2f}×",
                     "-" if row["lost_updates"] is None else f"{row['lost_updates']:,.0f} / {row['updates']:,}",
                     "-" if lent is None else f"{lent:.1f}", found["kind"]])
    settings = result["settings"]
    advice = {row["diagnosis"]["kind"]: row["diagnosis"]["advice"] for row in result["rows"]
              if row["diagnosis"]["advice"]}
    return (grid(header, body, left=1) + f"\n\n{settings['interpreter']}; each case: {settings['threads']} tasks "
            f"of ~{settings['target_ms']:g} ms, on 1 thread in turn vs {settings['threads']} threads, timed in "
            "alternation (median of the pairs); cores busy = CPU / wall of the threaded runs; each slower = cores "
            "busy / speedup; lent = cores the machine lent meanwhile."
            + "".join(f"\n{kind}: try to {text}." for kind, text in advice.items()))


def plot(result: dict[str, Any], path: str) -> None:
    """Speedup and cores busy for each case, coloured by diagnosis."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure(size=(8.0, 4.5))
    rows = result["rows"]
    colours = {contention.SCALES: "C2", contention.TOOK_TURNS: "C3", contention.RAN_SLOWER: "C1",
               contention.MIXED: "C4"}
    for index, row in enumerate(rows):
        ratio = row["speedup"]
        ax.bar(index - 0.2, ratio["speedup"], 0.4, color=colours.get(row["diagnosis"]["kind"], "C7"),
               edgecolor="black", linewidth=0.5,
               yerr=[[ratio["speedup"] - ratio["low"]], [ratio["high"] - ratio["speedup"]]], capsize=3)
        if row["parallelism"] is not None:
            ax.bar(index + 0.2, row["parallelism"], 0.4, color="white", edgecolor="black", hatch="//", linewidth=0.5)
    for kind, colour in colours.items():
        ax.bar([0], [0], color=colour, label=f"speedup: {kind}")
    ax.bar([0], [0], color="white", edgecolor="black", hatch="//", label="cores busy (CPU / wall)")
    ax.axhline(result["settings"]["threads"], color="gray", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [row["case"] for row in rows], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(f"1 vs {result['settings']['threads']} threads")
    ax.set_title(f"fastfib lab contention: {result['settings']['interpreter']}", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(cases=names(settings.cases, tuple(CASES), "case"), threads=settings.threads,
               target_s=settings.target_ms / 1000, budget_s=settings.budget, progress=progress)


EXPERIMENT = Experiment(
    name="contention", help="what serialises without the GIL: threads that take turns vs run at once, each slower",
    description=__doc__,
    examples=("fastfib lab contention --quick --plot contention.png",
              "fastfib lab contention --cases shared-random,random-per-thread --threads 4 --json contention.json"),
    options=(
        Option("--cases", "cases, of: " + ", ".join(CASES), default=",".join(CASES)),
        Option("--threads", "N: threads against 1", default="2", number=int),
        Option("--target-ms", "ms of work per task on one thread", default="20", quick="8", number=float),
        Option("--budget", "seconds of pairs per case at most", default="3", quick="1", number=float),
    ),
    run=_run, format_text=format_text, plot=plot,
    readme_figures=True,
    readme=("took turns, or ran at once but slower",
            "Without the GIL, threads that do not scale either take turns (a lock; parallelism near 1) or run at "
            "once but each slower (shared memory; parallelism near N): each case paired 1 vs N threads."),
)
