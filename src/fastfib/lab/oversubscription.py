"""``fastfib lab oversubscription``: outer Python threads x inner native threads, and the rule
outer x inner <= cores.

A call that runs threads of its own (an OpenMP ``prange`` team, a BLAS pool) and Python
threads around it multiply: 2 Python threads each calling a 2-thread BLAS ask for 4 threads
on 2 cores. Each configuration OUTERxINNER runs the same work -- TASKS tasks, shared among
OUTER Python threads (a started, warm pool behind a barrier), each task one call on INNER
native threads -- timed in alternation with the 1x1 run (one Python thread, one native
thread: :mod:`fastfib.measure.paired`). Beside each speedup: its CPU / wall (how many cores
were busy) and whether outer x inner exceeds the usable cores (oversubscribed).

Inner kinds: ``prange`` (the cython-prange kernel's burn_many with num_threads=INNER) and
``blas`` (numpy's ``a @ a`` with threadpoolctl limiting BLAS to INNER threads; OpenBLAS's
limit is process-wide, so every outer thread gets it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastfib import environment, registry, runners, tasks
from fastfib.command import UsageError, names, split
from fastfib.lab.experiment import Experiment, Option, ProgressFn
from fastfib.measure import machine, paired
from fastfib.tables import grid, times

__all__ = ["EXPERIMENT", "INNER_KINDS", "parse_configurations", "run"]

INNER_KINDS = ("prange", "blas")
PRANGE_N = 27  # burn(27): ~0.3-0.5 ms here, items of a prange batch
BLAS_SIZE = 256  # a @ a of 256 x 256 float64: ~1-2 ms on one thread here


def parse_configurations(text: str) -> list[tuple[int, int]]:
    """ "1x2,2x1" -> [(1, 2), (2, 1)]; a UsageError for anything else."""
    found = []
    for part in split(text):
        outer, sep, inner = part.lower().partition("x")
        if not sep or not outer.isdigit() or not inner.isdigit() or int(outer) < 1 or int(inner) < 1:
            raise UsageError(f"--configs: {part!r} is not OUTERxINNER (e.g. 2x1; both at least 1)")
        if int(outer) * int(inner) > 64:
            raise UsageError(f"--configs: {part!r} asks for more than 64 threads")
        found.append((int(outer), int(inner)))
    if not found:
        raise UsageError("--configs: give at least one OUTERxINNER")
    return list(dict.fromkeys(found))


# --- the tasks: module-level, so the pool's workers can run them ---------------------------------

def prange_task(items: int, inner: int) -> list[int]:
    """One call of the prange kernel: ``items`` burns on ``inner`` OpenMP threads."""
    burn_many = registry.get("cython-prange").burn_many
    assert burn_many is not None
    return burn_many([PRANGE_N] * items, inner)


def blas_task(matrix: Any, calls: int) -> float:
    """``calls`` products ``matrix @ matrix`` (BLAS limited by the caller); their trace, the check."""
    total = 0.0
    for _ in range(calls):
        total += float((matrix @ matrix).trace())
    return total


class _Workload:
    """One inner kind: the task and its arguments, how to limit its inner threads, the check."""

    def __init__(self, kind: str, target_s: float) -> None:
        self.kind = kind
        if kind == "prange":
            if "cython-prange" not in registry.KERNELS:
                raise UsageError(f"inner kind prange: {registry.UNAVAILABLE.get('cython-prange', 'not built')}")
            self.items = max(1, round(target_s / self._seconds(lambda: prange_task(8, 1)) * 8))
            self.expected: Any = [tasks.oracle(PRANGE_N)] * self.items
            self.what = f"{self.items} x burn({PRANGE_N}) per call"
        else:
            import numpy as np

            self.matrix = np.random.default_rng(0).random((BLAS_SIZE, BLAS_SIZE))
            with self.limited(1):
                self.calls = max(1, round(target_s / self._seconds(lambda: blas_task(self.matrix, 2)) * 2))
                self.expected = blas_task(self.matrix, self.calls)
            self.what = f"{self.calls} x a @ a ({BLAS_SIZE} x {BLAS_SIZE}) per task"

    @staticmethod
    def _seconds(work: Callable[[], Any]) -> float:
        work()  # warm
        return min(_timed(work) for _ in range(3))

    def limited(self, inner: int) -> Any:
        """A context in which one task runs on ``inner`` native threads."""
        import contextlib

        if self.kind == "prange":  # num_threads is the task's own argument
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=inner, user_api="blas")

    def args(self, inner: int) -> tuple[Any, ...]:
        return (self.items, inner) if self.kind == "prange" else (self.matrix, self.calls)

    @property
    def task(self) -> Callable[..., Any]:
        return prange_task if self.kind == "prange" else blas_task

    def correct(self, result: Any) -> bool:
        if self.kind == "prange":
            return bool(result == self.expected)
        return abs(result - self.expected) <= 1e-9 * abs(self.expected)  # BLAS may sum in another order


def _timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _measure(workload: _Workload, configs: Sequence[tuple[int, int]], task_count: int, budget_s: float,
             cores: int, progress: ProgressFn, done: int, total: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    threads = runners.make_runner("threads")
    with threads.open(1) as single:
        def one_run(pool: Any, outer: int, inner: int, usage: list[float] | None = None) -> float:
            arglist = [workload.args(inner)] * task_count
            with workload.limited(inner):
                cpu = time.process_time()
                batch = pool.run(workload.task, arglist)
                cpu = time.process_time() - cpu
            if not all(workload.correct(result) for result in batch.results):
                raise RuntimeError(f"{workload.kind} {outer}x{inner}: a task returned a wrong result")
            if usage is not None:
                usage.append(cpu / batch.wall_s if batch.wall_s > 0 else 0.0)
            return batch.wall_s

        baseline_usage: list[float] = []
        for outer, inner in configs:
            progress(f"{workload.kind} {outer}x{inner}", done + len(rows), total)
            walls: list[float] = []
            usage: list[float] = []
            with threads.open(outer) as pool:
                one_run(single, 1, 1), one_run(pool, outer, inner)  # warm both (OpenMP teams, BLAS pools)

                def config_run(pool: Any = pool, outer: int = outer, inner: int = inner, walls: list[float] = walls,
                               usage: list[float] = usage) -> float:
                    walls.append(one_run(pool, outer, inner, usage))
                    return walls[-1]

                ratio = paired.measure(lambda: one_run(single, 1, 1, baseline_usage), config_run, budget_s=budget_s,
                                       watch=machine.MachineWatch(min(outer * inner, cores)))
            rows.append({
                "inner_kind": workload.kind, "outer": outer, "inner": inner, "threads": outer * inner,
                "oversubscribed": outer * inner > cores, "wall_s": statistics.median(walls),
                "parallelism": statistics.median(usage), "speedup": ratio.to_dict(),
                "efficiency": ratio.speedup / min(outer * inner, cores),
            })
        for row in rows:
            row["baseline_parallelism"] = statistics.median(baseline_usage)
    return rows


def run(*, kinds: Sequence[str], configs: Sequence[tuple[int, int]], target_s: float, task_count: int,
        budget_s: float, progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Every configuration of every inner kind, paired with 1x1; a JSON-ready dict with a ``finding``."""
    cores = environment.usable_cores()
    workloads = [_Workload(kind, target_s) for kind in kinds]
    total = len(workloads) * len(configs)
    rows: list[dict[str, Any]] = []
    for workload in workloads:
        rows += _measure(workload, configs, task_count, budget_s, cores, progress, len(rows), total)
    progress("done", total, total)
    return {"settings": {"inner_kinds": list(kinds), "configs": [f"{o}x{i}" for o, i in configs],
                         "target_ms": 1000 * target_s, "tasks": task_count, "usable_cores": cores,
                         "work": {w.kind: w.what for w in workloads}},
            "rows": rows, "finding": finding(rows, cores)}


def _said(row: dict[str, Any]) -> str:
    ratio = row["speedup"]
    if ratio["too_noisy"]:
        return f"{row['outer']}x{row['inner']} {ratio['low']:.2f}-{ratio['high']:.2f}x (too noisy)"
    figure = f"{ratio['speedup']:.2f}x"
    return f"{row['outer']}x{row['inner']} {figure}"


def finding(rows: Sequence[dict[str, Any]], cores: int) -> str:
    parts = []
    for kind in dict.fromkeys(row["inner_kind"] for row in rows):
        mine = [row for row in rows if row["inner_kind"] == kind]
        fitting = [row for row in mine if not row["oversubscribed"]]
        over = [row for row in mine if row["oversubscribed"]]
        best = max(fitting or mine, key=lambda row: row["speedup"]["speedup"])
        text = f"{kind}: best within the cores {_said(best)} (CPU / wall {best['parallelism']:.2f})"
        if over:
            worst = min(over, key=lambda row: row["speedup"]["speedup"])
            fastest = max(over, key=lambda row: row["speedup"]["speedup"])
            if fitting and fastest["speedup"]["low"] > best["speedup"]["high"]:
                verdict = "faster than the best fit: the machine changed speed between them, run it again"
            elif fitting and worst["speedup"]["high"] < best["speedup"]["low"]:
                verdict = "slower than the best fit"
            else:
                verdict = "no better than the best fit"
            text += f", oversubscribed {', '.join(_said(row) for row in over)} ({verdict})"
        parts.append(text)
    return (f"On {cores} cores, against one Python thread on one native thread: " + "; ".join(parts)
            + f". The rule: outer Python threads x inner native threads <= {cores} cores; past it the threads "
              "only take turns.")


def format_text(result: dict[str, Any]) -> str:
    header = ["inner", "outer x inner", "threads", "wall ms", "CPU / wall", "speedup", "95% CI", "efficiency",
              "note"]
    body = []
    for row in result["rows"]:
        ratio = row["speedup"]
        body.append([row["inner_kind"], f"{row['outer']} x {row['inner']}", str(row["threads"]),
                     f"{1000 * row['wall_s']:.1f}", f"{row['parallelism']:.2f}",
                     "-" if ratio["too_noisy"] else times(ratio["speedup"]), f"{ratio['low']:.2f}-{ratio['high']:.2f}×",
                     f"{row['efficiency']:.2f}",
                     ("oversubscribed" if row["oversubscribed"] else "")
                     + (" too noisy to tell" if ratio["too_noisy"] else "")])
    settings = result["settings"]
    work = "; ".join(f"{kind}: {what}" for kind, what in settings["work"].items())
    return (grid(header, body, left=2) + f"\n\n{settings['tasks']} tasks per run shared among the outer Python "
            f"threads ({work}); speedup = 1x1 wall / this wall, the two timed in alternation (median of the pairs); "
            f"efficiency = speedup / min(threads, {settings['usable_cores']} usable cores); oversubscribed = "
            f"outer x inner > {settings['usable_cores']} cores.")


def plot(result: dict[str, Any], path: str) -> None:
    """Speedup of each configuration, one bar group per inner kind, oversubscribed ones hatched."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure(size=(7.5, 4.5))
    kinds = result["settings"]["inner_kinds"]
    configs = result["settings"]["configs"]
    width = 0.8 / max(1, len(kinds))
    for k, kind in enumerate(kinds):
        rows = {f"{row['outer']}x{row['inner']}": row for row in result["rows"] if row["inner_kind"] == kind}
        for c, config in enumerate(configs):
            row = rows.get(config)
            if row is None:
                continue
            ratio = row["speedup"]
            ax.bar(c + (k - (len(kinds) - 1) / 2) * width, ratio["speedup"], width, color=f"C{k}",
                   hatch="//" if row["oversubscribed"] else None, edgecolor="black", linewidth=0.5,
                   yerr=[[ratio["speedup"] - ratio["low"]], [ratio["high"] - ratio["speedup"]]], capsize=3,
                   label=kind if c == 0 else None)
    ax.axhline(result["settings"]["usable_cores"], color="gray", linestyle=":", linewidth=1, label="cores")
    ax.set_xticks(range(len(configs)), [c.replace("x", " x ") for c in configs])
    ax.set_xlabel("outer Python threads x inner native threads (hatched: more threads than cores)")
    ax.set_ylabel("speedup vs 1 x 1 (paired)")
    ax.set_title("fastfib lab oversubscription: outer x inner <= cores", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    kinds = names(settings.inner, INNER_KINDS, "inner kind")
    return run(kinds=kinds, configs=parse_configurations(settings.configs), target_s=settings.target_ms / 1000,
               task_count=settings.tasks, budget_s=settings.budget, progress=progress)


EXPERIMENT = Experiment(
    name="oversubscription", help="outer Python threads x inner native threads (prange, BLAS): the rule <= cores",
    description=__doc__,
    examples=("fastfib lab oversubscription --quick --plot over.png",
              "fastfib lab oversubscription --inner blas --configs 1x1,1x2,2x1,2x2,4x2,4x4 --json over.json"),
    options=(
        Option("--inner", "inner kinds, of: prange, blas", default=",".join(
            kind for kind in INNER_KINDS if kind != "prange" or "cython-prange" in registry.KERNELS) or "prange"),
        Option("--configs", "OUTERxINNER configurations", default="1x2,2x1,2x2,4x1,4x2", quick="1x2,2x1,2x2"),
        Option("--target-ms", "ms of work per task on one thread", default="8", quick="4", number=float),
        Option("--tasks", "tasks per run, shared among the outer threads", default="8", quick="4", number=int),
        Option("--budget", "seconds of pairs per configuration at most", default="3", quick="1", number=float),
    ),
    run=_run, format_text=format_text, plot=plot,
    readme_figures=True,
    readme=("outer x inner <= cores",
            "Python threads around calls that run threads of their own (an OpenMP prange team, a BLAS pool) "
            "multiply: past outer x inner = cores the extra threads only take turns."),
)
