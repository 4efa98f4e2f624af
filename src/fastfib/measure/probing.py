"""``fastfib.probe()`` and ``fastfib probe``: does *this* call release the GIL, and does releasing it pay?

What the lab measures for its own kernels, pointed at any call -- a function
with its arguments, or ``timeit``-style source (a SETUP run once per worker, a
STMT measured). Three figures, then advice:

* the **verdict**, from what the GIL makes certain (:mod:`fastfib.measure.gil_verdict`,
  shared with :mod:`fastfib.testing`): batches of calls beside a heartbeat thread that can
  run only while the call has released the GIL, a control in alternation, and evidence
  before "held" -- ``released``, ``partly released``, ``held``, ``no GIL`` or ``cannot
  tell``. For a call that holds it, what other threads wait at the real switch interval,
  and whether it is bytecode (:mod:`fastfib.measure.bytecode`, and a hand-over at a short
  switch interval) or C;
* the **cost per call**: batches sized to ~``target`` each, median and
  quartiles of the per-call time -- and the call's own **parallelism** (process
  CPU ÷ wall of those batches, nothing else of ours running): above ~1.3 the call
  runs threads of its own, and the native pool (threadpoolctl: BLAS, OpenMP) whose
  limit to one thread brings it back to one core is named;
* the **scaling curve**: tasks of ~``target`` of calls each, on W threads,
  processes or interpreters against the same tasks run sequentially, the two
  timed in alternation (:mod:`fastfib.measure.paired`); pool start-up and the
  hand-over of an empty task are measured apart.

Everything runs within a time budget (:class:`Budget`): what it cannot afford is given up
and named in the result's ``gave_up``.
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastfib import environment, runners
from fastfib.measure import bytecode, machine, paired, probe_advice, threadpools, timeline
from fastfib.measure.gil_verdict import Judged, hands_over, judge, number_for, stall_at
from fastfib.measure.instruments import cpu_seconds
from fastfib.measure.probe_result import INNER_PARALLEL_AT, SLOWED_AT, ProbeResult, ScalePoint
from fastfib.measure.probe_spec import ProbeError, Spec, empty_loop_of, loop_of, on_a_fresh_thread, run_spec, spec_of
from fastfib.runners import executors

__all__ = ["FULL_BUDGET_S", "QUICK_BUDGET_S", "SCHEMA", "SCHEMA_VERSION", "ProbeError", "ProbeResult", "Spec",
           "probe", "probe_spec", "run_spec", "scale_point"]

# `fastfib probe --json`: {"schema", "schema_version", "meta", "result": ProbeResult.to_json()}
# History: 1 -- as above; 2 -- each parallel point's "speedup" holds "machine", the cores the machine
# lent meanwhile (fastfib.measure.machine.Lent.to_dict); 3 -- the result holds "judged" (the
# verdict's evidence), "switch_interval_s" / "stall_ms" (other threads' longest wait at the real
# switch interval), "yields", "opcodes_per_call" / "bytecode_share", "budget_s" and "gave_up".
# Older versions still read (READS).
SCHEMA, SCHEMA_VERSION = "fastfib.probe", 3
READS = (1, 2)  # older versions the report still reads

QUICK_BUDGET_S, FULL_BUDGET_S = 10.0, 60.0  # --quick, and without it: what a probe may take in all


# --- measuring -----------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (what is starting, steps done, steps in all), as measure's


def _empty_task() -> int:
    return 0


class Budget:
    """The time a probe may take in all, and how it is shared out: the verdict first, then the
    scaling points, each given what is left over the points still to run (weighted)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = seconds, time.perf_counter()
        self.gave_up: list[str] = []

    def left(self) -> float:
        return max(0.0, self.seconds - (time.perf_counter() - self.start))

    def part(self, share: float) -> float:
        return share * self.seconds


def _trial(spec: Spec) -> float:
    """SETUP (on this thread's first call), then one call, timed."""
    loop = loop_of(spec)
    start = time.perf_counter()
    loop(1)
    return time.perf_counter() - start


@dataclass
class _Alone:
    """What batches of calls, run alone on one thread, showed."""

    number: int  # calls per batch
    per_call: list[float]  # seconds per call, of each batch
    parallelism: float  # CPU ÷ wall over all the batches: the call's own threads
    judged: Judged  # the verdict and its evidence
    pools: list[threadpools.Pool]
    stall_ms: float = 0.0  # other threads' longest wait beside the call, at the real switch interval
    yields: bool | None = None  # a held call hands the GIL over at a short switch interval: bytecode
    opcodes: int = 0  # Python opcodes per call (the harness's own subtracted)
    bytecode_share: float = 0.0  # their share of the call's time, a lower bound
    inner_pool: threadpools.Pool | None = None
    limited_slowdown: float | None = None


def _alone(spec: Spec, one_call_s: float, quick: bool, budget: Budget, interval_s: float) -> _Alone:
    """Cost per call and CPU ÷ wall (no other thread of ours busy), then the verdict, what other
    threads wait at the real switch interval, how much of the call is bytecode, then -- where one
    call keeps more than a core busy -- which native pool does it."""
    loop = loop_of(spec)
    number = number_for(one_call_s, loop, 0.01 if quick else 0.02)
    batch_s = max(number * one_call_s, 1e-6)
    repeats = max(2, min(5 if quick else 9, int(budget.part(0.1) / batch_s)))  # 2 at least: quartiles
    per_call, cpu_s, wall_s = [], 0.0, 0.0
    for _ in range(repeats):
        cpu, wall, _ = threadpools.cpu_per_wall(lambda: loop(number))
        per_call.append(wall / number)
        cpu_s, wall_s = cpu_s + cpu, wall_s + wall
    # CPU ÷ wall over all the batches, not a median of each batch's: the kernel adds another
    # running thread's CPU to the process clock only at a scheduler tick (4 ms here), so one
    # 10 ms batch of a call on 2 cores read anything from 1.0 to 2.5.
    parallelism = cpu_s / wall_s if wall_s > 0 else 0.0
    judged = judge(loop, number, min_s=0.05 if quick else 0.1, budget_s=budget.part(0.15))
    found = _Alone(number, per_call, parallelism, judged, threadpools.pools())  # after SETUP: its imports' pools
    median = statistics.median(per_call)
    if judged.verdict not in ("no GIL", "released"):
        found.stall_ms = stall_at(loop, number, interval_s, min_s=0.03, budget_s=budget.part(0.05))
        found.yields = hands_over(loop, median, budget_s=budget.part(0.05))
    if judged.verdict not in ("no GIL", "released"):  # what holds the GIL: bytecode, or C?
        found.opcodes, found.bytecode_share = bytecode.share(loop, empty_loop_of(spec), cpu_s / (repeats * number))
    if found.parallelism >= INNER_PARALLEL_AT:
        # The pool to name is the one whose limit to a single thread slows the call as its
        # parallelism says it should (a pool's being loaded says nothing: numpy loads OpenBLAS on
        # import). Each pool limited in turn, 3 pairs of batches each; the one that slows it most.
        tried = [(threadpools.slowdown(pool, lambda: loop(number)), index)
                 for index, pool in enumerate(found.pools) if (pool["num_threads"] or 0) > 1]
        if tried:
            most, index = max(tried)
            if most >= 1 + SLOWED_AT * (found.parallelism - 1):
                found.inner_pool, found.limited_slowdown = found.pools[index], most
    return found


def scale_point(runner_name: str, workers: int, spec: Spec, task_calls: int, *, start_method: str,
                 budget_s: float, min_pairs: int, baseline: executors.Pool, dask: Any = None,
                 timelines: list[Any] | None = None) -> ScalePoint:
    """``workers`` of ``runner_name`` against ``baseline`` (a sequential pool), each run 2 tasks per
    worker of ``task_calls`` calls, paired (:func:`fastfib.measure.paired.measure`) with the machine's
    reading; a row that cannot run says why in its ``error``."""
    point = ScalePoint(runner_name, workers)
    if runner_name != "threads":  # processes, interpreters, dask: the call travels pickled
        try:
            pickle.dumps(spec)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is this row's answer
            point.error = (f"cannot be sent to {runner_name}: {type(exc).__name__}: {exc} (define the function "
                           "in an importable module, or use -s SETUP / STMT source)")
            return point
    try:
        runner = runners.make_runner(runner_name, start_method=start_method, preload=("fastfib.measure.probe_spec",),
                                     dask=dask)
    except executors.RunnerUnavailable as exc:
        point.error = str(exc)
        return point
    tasks = [(spec, task_calls)] * (2 * workers)
    expected = [task_calls] * len(tasks)

    def timed(pool: executors.Pool) -> tuple[float, float]:
        """(wall, CPU) of one run: CPU of this process's threads and the pool's worker processes."""
        cpu_before = cpu_seconds(pool.pids)
        batch = pool.run(run_spec, tasks)
        cpu_s = cpu_seconds(pool.pids) - cpu_before
        if batch.results != expected:
            raise ProbeError(f"{runner_name}: a task returned {batch.results!r}")
        return batch.wall_s, cpu_s

    try:
        with runner.open(workers) as pool:
            point.startup_s = pool.startup_s
            pool.run(run_spec, [(spec, 1)] * workers)  # SETUP on every worker, untimed
            point.handover_s = statistics.median(pool.run(_empty_task, [()] * workers).wall_s for _ in range(5))
            watch = (machine.MachineWatch(min(workers, environment.usable_cores()),  # what the machine lent
                                          pids=lambda: (*pool.pids, *baseline.pids)) if workers > 1 else None)
            point.speedup = paired.measure(lambda: timed(baseline), lambda: timed(pool), budget_s=budget_s,
                                           min_pairs=min_pairs, watch=watch)
            if timelines is not None and timeline.unavailable() is None:  # one more run, untimed, sampled
                _, traced = timeline.record(pool, run_spec, tasks, label=f"{runner_name} x{workers}")
                traced.extra.update(runner=runner_name, workers=workers, tasks=len(tasks), calls_per_task=task_calls)
                timelines.append(traced)
            busy = point.speedup.parallelism  # CPU / wall of the parallel runs, threads and worker processes
            point.parallelism = None if busy is None else busy.median
    except ProbeError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. numpy refusing a subinterpreter: this row says why
        point.error = f"{type(exc).__name__}: {exc}".strip()
    return point


FEWEST_PAIRS = 3  # a point that cannot afford this many pairs within its share of the budget is given up


def _plan(runner_names: Sequence[str], workers: Sequence[int]) -> list[tuple[str, int]]:
    """The points in the order they run: processes first (forking before this process starts
    pool threads is the safe order), each runner's worker counts rising."""
    order = sorted(runner_names, key=lambda name: name != "processes")
    return [(name, count) for name in order for count in workers]


def _weight(count: int) -> float:
    return 0.5 if count == 1 else 1.0  # one worker says least (the pool's overhead): it gets less time


def _afford(budget: Budget, plan: list[tuple[str, int]], index: int, pair_s: float, quick: bool,
            ) -> tuple[int, float] | None:
    """(pairs to take first, seconds for more) for point ``index`` of ``plan`` from its share of
    what the budget has left; None when it cannot afford FEWEST_PAIRS (and the budget notes it)."""
    name, count = plan[index]
    share = budget.left() * _weight(count) / sum(_weight(c) for _, c in plan[index:])
    start_s = 1.0 if name != "threads" else 0.05  # a pool of processes or interpreters takes a while to start
    pairs = min(paired.MIN_PAIRS, int((share - start_s) / pair_s)) if pair_s > 0 else paired.MIN_PAIRS
    if pairs < FEWEST_PAIRS:
        budget.gave_up.append(f"{name} x{count} ({FEWEST_PAIRS} pairs take about {FEWEST_PAIRS * pair_s:.2g} s; "
                              f"its share of the budget was {share:.2g} s)")
        return None
    more = max(0.0, min(1.0 if quick else 3.0, share - start_s - pairs * pair_s))
    return pairs, more


def probe_spec(spec: Spec, *, workers: Sequence[int] = (1, 2), runner_names: Sequence[str] = ("threads", "processes"),
               quick: bool = False, budget_s: float | None = None, timeout_s: float = 10.0,
               start_method: str = "forkserver", progress: Progress = lambda what, done, total: None,
               dask: Any = None, timelines: list[Any] | None = None) -> ProbeResult:
    """Probe ``spec`` on the running interpreter (see the module notes) within ``budget_s``
    (default: QUICK_BUDGET_S with ``quick``, else FULL_BUDGET_S); what it could not afford is in
    the result's ``gave_up``. ``dask``: the dask runners' options
    (:class:`fastfib.runners.dask_runners.DaskOptions`; None: a local cluster per pool)."""
    budget = Budget(budget_s if budget_s is not None else QUICK_BUDGET_S if quick else FULL_BUDGET_S)
    interval_s = sys.getswitchinterval()  # the caller's own, before any watch raises it
    plan = _plan(runner_names, workers)
    total = 2 + len(plan)
    progress("one call (a trial)", 0, total)
    one_call_s = on_a_fresh_thread(lambda: _trial(spec), timeout_s)
    progress("cost per call, then the verdict (a heartbeat thread beside the call)", 1, total)
    alone: _Alone = on_a_fresh_thread(lambda: _alone(spec, one_call_s, quick, budget, interval_s))
    number, judged = alone.number, alone.judged
    q1, median, q3 = statistics.quantiles(alone.per_call, n=4, method="inclusive")
    result = ProbeResult(spec.label(), judged.verdict, judged.released_fraction, judged.longest_stall_ms, median, q1,
                         q3, number, number,
                         meta={"workers": list(workers), "runners": list(runner_names), "quick": quick,
                               "start_method": start_method},
                         parallelism=alone.parallelism, thread_pools=alone.pools, inner_pool=alone.inner_pool,
                         limited_slowdown=alone.limited_slowdown, judged=judged.to_dict(), switch_interval_s=interval_s,
                         stall_ms=alone.stall_ms, yields=alone.yields, opcodes_per_call=alone.opcodes,
                         bytecode_share=alone.bytecode_share, budget_s=budget.seconds)
    cores = environment.usable_cores()
    with runners.make_runner("sequential").open(1) as baseline:
        baseline.run(run_spec, [(spec, 1)])  # SETUP on its thread too, untimed
        for index, (name, count) in enumerate(plan):
            progress(f"{name} x{count}", 2 + index, total)
            sequential_s = 2 * count * number * median
            afforded = _afford(budget, plan, index, sequential_s * (1 + 1 / min(count, cores)), quick)
            if afforded is None:
                continue
            result.points.append(scale_point(name, count, spec, number, start_method=start_method,
                                              budget_s=afforded[1], min_pairs=afforded[0], baseline=baseline,
                                              dask=dask, timelines=timelines))
    result.gave_up = budget.gave_up
    result.points.sort(key=lambda p: (list(runner_names).index(p.runner), p.workers))
    result.advice = probe_advice.advice(result, cores)
    progress("done", total, total)
    return result


def probe(fn: Callable[..., Any], *positional: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
          workers: Sequence[int] = (1, 2), runners: Sequence[str] = ("threads", "processes"), quick: bool = False,
          budget: float | None = None, timeout: float = 10.0, start_method: str = "forkserver",
          **unknown: Any) -> ProbeResult:
    """Does ``fn(*args, **kwargs)`` release the GIL, and does that pay on threads, processes
    or interpreters? ``fn`` (and its arguments) must be picklable for the process and
    interpreter runners; where it is not, that runner's row says so and the others run.
    ``budget``: seconds in all (default 10 with ``quick``, else 60); what it could not
    afford is in the result's ``gave_up``. The call's own arguments go in ``args`` and
    ``kwargs``, never beside the options: ``probe(fn, data)`` is refused (TypeError).

    >>> import time
    >>> fastfib.probe(time.sleep, args=(0.002,), runners=["threads"], quick=True).verdict  # doctest: +SKIP
    'released'
    """
    spec = spec_of("fastfib.probe", fn, args, kwargs, positional, unknown)
    return probe_spec(spec, workers=workers, runner_names=runners, quick=quick, budget_s=budget, timeout_s=timeout,
                      start_method=start_method)
