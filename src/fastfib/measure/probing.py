"""``fastfib.probe()`` and ``fastfib probe``: does *this* call release the GIL, and does releasing it pay?

What the lab measures for its own kernels, pointed at any call -- a function
with its arguments, or ``timeit``-style source (a SETUP run once per worker, a
STMT measured). Three figures, then advice:

* the **verdict**, from what the GIL makes certain. A heartbeat thread ticks
  every half millisecond while batches of calls run, with the switch interval
  raised far past a batch: then the interpreter never takes the GIL away, and
  the heartbeat can run only while the call itself has released it. No tick
  inside a call: ``held``; ticks throughout: ``released``; in between: ``partly
  released`` (the share of the call's time in which the heartbeat ran is the
  *released fraction*). On a free-threaded build with the GIL off: ``no GIL``.
* the **cost per call**: batches sized to ~``target`` each, median and
  quartiles of the per-call time -- and the call's own **parallelism** (process
  CPU ÷ wall of those batches, nothing else of ours running): above ~1.3 the call
  runs threads of its own, and the native pool (threadpoolctl: BLAS, OpenMP) whose
  limit to one thread brings it back to one core is named;
* the **scaling curve**: tasks of ~``target`` of calls each, on W threads,
  processes or interpreters against the same tasks run sequentially, the two
  timed in alternation (:mod:`fastfib.measure.paired`); pool start-up and the
  hand-over of an empty task are measured apart.

:class:`fastfib.measure.gilwatch.GilWatch` is the verdict's instrument; :mod:`fastfib.testing`
builds ``assert_releases_gil`` / ``assert_holds_gil`` on it.
"""

from __future__ import annotations

import pickle
import statistics
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastfib import environment, runners
from fastfib.measure import machine, paired, probe_advice, threadpools, timeline
from fastfib.measure.gilwatch import GilWatch
from fastfib.measure.instruments import cpu_seconds
from fastfib.measure.probe_result import INNER_PARALLEL_AT, SLOWED_AT, ProbeResult, ScalePoint
from fastfib.runners import executors

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ProbeError", "ProbeResult", "Spec", "probe", "probe_spec", "run_spec"]

# `fastfib probe --json`: {"schema", "schema_version", "meta", "result": ProbeResult.to_json()}
# History: 1 -- as above; 2 -- each parallel point's "speedup" holds "machine", the cores the machine
# lent meanwhile (fastfib.measure.machine.Lent.to_dict); version 1 files still read (READS).
SCHEMA, SCHEMA_VERSION = "fastfib.probe", 2
READS = (1,)  # older versions the report still reads

RELEASED_AT = 0.8  # released fraction from which a call counts as releasing the GIL


class ProbeError(Exception):
    """The probed code failed (it raised, or did not return in time): exit status 1."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details  # the probed code's traceback, when it raised


# --- what is probed, in a form every runner can take ---------------------------------------

@dataclass(frozen=True)
class Spec:
    """The call: ``fn(*args, **kwargs)``, or ``stmt`` after ``setup`` (source, timeit-style).
    Picklable whenever ``fn`` and its arguments are, so process workers can run it."""

    fn: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    setup: tuple[str, ...] = ()
    stmt: str = ""

    def label(self) -> str:
        if self.fn is None:
            return self.stmt if len(self.stmt) <= 60 else self.stmt[:57] + "..."
        return f"{getattr(self.fn, '__qualname__', repr(self.fn))}(...)"


_LOOP = "def __fastfib_loop(__fastfib_number):\n    for __fastfib_i in range(__fastfib_number):\n{body}\n"
_local = threading.local()  # per worker thread (and per process, per interpreter): its own SETUP namespace


def compile_source(setup: Sequence[str], stmt: str) -> None:
    """SyntaxError for source that cannot compile (a usage error, before anything runs)."""
    for text in setup:
        compile(text, "<setup>", "exec")
    compile(_LOOP.format(body=textwrap.indent(stmt, " " * 8)), "<stmt>", "exec")


def _loop_of(spec: Spec) -> Callable[[int], None]:
    """``loop(number)`` making ``number`` calls: ``fn`` bound, or ``stmt`` compiled into a
    function over this worker's own SETUP namespace (SETUP runs on a worker's first call)."""
    if spec.fn is not None:
        fn, args, kwargs = spec.fn, spec.args, dict(spec.kwargs)

        def loop(number: int) -> None:
            for _ in range(number):
                fn(*args, **kwargs)

        return loop
    loops = getattr(_local, "loops", None)
    if loops is None:
        loops = _local.loops = {}
    key = (spec.setup, spec.stmt)
    if key not in loops:
        namespace: dict[str, Any] = {"__name__": "__fastfib_probe__"}
        for text in spec.setup:
            exec(compile(text, "<setup>", "exec"), namespace)  # noqa: S102 - the user's own code, by design
        exec(compile(_LOOP.format(body=textwrap.indent(spec.stmt, " " * 8)), "<stmt>", "exec"), namespace)
        loops[key] = namespace["__fastfib_loop"]
    return loops[key]


def run_spec(spec: Spec, number: int) -> int:
    """A task for any pool: ``number`` calls of ``spec``; returns ``number`` (the check)."""
    _loop_of(spec)(number)
    return number


def _empty_task() -> int:
    return 0


# --- measuring -----------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (what is starting, steps done, steps in all), as measure's


def _on_a_fresh_thread(work: Callable[[], Any], timeout_s: float | None = None) -> Any:
    """``work()`` on a thread of its own, so that a call that never returns is noticed, and
    so that the probed code runs on a fresh, shallow stack: on CPython 3.11 Python code started
    deep in a caller's stack can run several times slower (see executors.SequentialRunner)."""
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller with its traceback
            outcome["error"] = exc
            outcome["traceback"] = traceback.format_exc()

    worker = threading.Thread(target=attempt, name="fastfib-probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ProbeError(f"the call did not return within {timeout_s:g} s (--timeout)")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, ProbeError):
            raise exc
        raise ProbeError(f"the probed code raised {type(exc).__name__}: {exc}", outcome["traceback"])
    return outcome["value"]


def _trial(spec: Spec) -> float:
    """SETUP (on this thread's first call), then one call, timed."""
    loop = _loop_of(spec)
    start = time.perf_counter()
    loop(1)
    return time.perf_counter() - start


@dataclass
class _Alone:
    """What batches of calls, run alone on one thread, showed."""

    number: int  # calls per batch
    per_call: list[float]  # seconds per call, of each batch
    parallelism: float  # CPU ÷ wall over all the batches: the call's own threads
    verdict: tuple[str, float, float]  # (verdict, released fraction, longest stall ms)
    pools: list[threadpools.Pool]
    inner_pool: threadpools.Pool | None = None
    limited_slowdown: float | None = None


def _alone(spec: Spec, one_call_s: float, quick: bool) -> _Alone:
    """Cost per call and CPU ÷ wall (no other thread of ours busy), then the verdict, then --
    where one call keeps more than a core busy -- which native pool does it."""
    loop = _loop_of(spec)
    number = _number_for(one_call_s, loop, 0.01 if quick else 0.02)
    per_call, cpu_s, wall_s = [], 0.0, 0.0
    for _ in range(5 if quick else 9):
        cpu, wall, _ = threadpools.cpu_per_wall(lambda: loop(number))
        per_call.append(wall / number)
        cpu_s, wall_s = cpu_s + cpu, wall_s + wall
    # CPU ÷ wall over all the batches, not a median of each batch's: the kernel adds another
    # running thread's CPU to the process clock only at a scheduler tick (4 ms here), so one
    # 10 ms batch of a call on 2 cores read anything from 1.0 to 2.5.
    parallelism = cpu_s / wall_s if wall_s > 0 else 0.0
    found = _Alone(number, per_call, parallelism, _verdict(loop, number, 0.05 if quick else 0.1),
                   threadpools.pools())  # after SETUP: the pools its imports loaded
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


def _number_for(one_call_s: float, loop: Callable[[int], None], target_s: float) -> int:
    """Calls per batch so that a batch takes about ``target_s`` (at least one call)."""
    number = max(1, int(target_s / max(one_call_s, 1e-9)))
    for _ in range(3):  # the first call may have been cold: correct from a real batch
        start = time.perf_counter()
        loop(number)
        took = time.perf_counter() - start
        if took <= 0 or 0.5 < took / target_s < 2:
            break
        number = max(1, int(number * target_s / took))
    return number


def _verdict(loop: Callable[[int], None], number: int, min_s: float) -> tuple[str, float, float]:
    """(verdict, released fraction, longest stall ms) from batches under a GilWatch."""
    if not environment.gil_enabled():
        return "no GIL", 1.0, 0.0
    with GilWatch() as watch:
        while watch.called_s() < min_s or len(watch.windows) < 3:
            with watch.call():
                loop(number)
            start, end = watch.windows[-1]
            watch.control(end - start)  # in alternation: the same machine for both
    fraction = watch.released_fraction()
    if watch.ticks_inside() == 0:
        verdict = "held"
    elif fraction >= RELEASED_AT:
        verdict = "released"
    else:
        verdict = "partly released"
    return verdict, fraction, watch.longest_stall_ms()


def _scale_point(runner_name: str, workers: int, spec: Spec, task_calls: int, *, start_method: str,
                 budget_s: float, baseline: executors.Pool, dask: Any = None,
                 timelines: list[Any] | None = None) -> ScalePoint:
    point = ScalePoint(runner_name, workers)
    if runner_name != "threads":  # processes, interpreters, dask: the call travels pickled
        try:
            pickle.dumps(spec)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is this row's answer
            point.error = (f"cannot be sent to {runner_name}: {type(exc).__name__}: {exc} (define the function "
                           "in an importable module, or use -s SETUP / STMT source)")
            return point
    try:
        runner = runners.make_runner(runner_name, start_method=start_method, preload=("fastfib.measure.probing",),
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
                                           watch=watch)
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


def probe_spec(spec: Spec, *, workers: Sequence[int] = (1, 2), runner_names: Sequence[str] = ("threads", "processes"),
               quick: bool = False, timeout_s: float = 10.0, start_method: str = "forkserver",
               progress: Progress = lambda what, done, total: None, dask: Any = None,
               timelines: list[Any] | None = None) -> ProbeResult:
    """Probe ``spec`` on the running interpreter (see the module notes). ``dask``: the dask
    runners' options (:class:`fastfib.runners.dask_runners.DaskOptions`; None: a local cluster per pool)."""
    total = 2 + len(runner_names) * len(workers)
    progress("one call (a trial)", 0, total)
    one_call_s = _on_a_fresh_thread(lambda: _trial(spec), timeout_s)
    progress("cost per call, then the verdict (a heartbeat thread beside the call)", 1, total)
    alone: _Alone = _on_a_fresh_thread(lambda: _alone(spec, one_call_s, quick))
    number = alone.number
    q1, median, q3 = statistics.quantiles(alone.per_call, n=4, method="inclusive")
    result = ProbeResult(spec.label(), *alone.verdict, median, q1, q3, number, number,
                         meta={"workers": list(workers), "runners": list(runner_names), "quick": quick,
                               "start_method": start_method},
                         parallelism=alone.parallelism, thread_pools=alone.pools, inner_pool=alone.inner_pool,
                         limited_slowdown=alone.limited_slowdown)
    # Processes first: forking before this process starts pool threads is the safe order.
    order = sorted(runner_names, key=lambda name: name != "processes")
    with runners.make_runner("sequential").open(1) as baseline:
        baseline.run(run_spec, [(spec, 1)])  # SETUP on its thread too, untimed
        for name in order:
            for count in workers:
                progress(f"{name} x{count}", 2 + len(result.points), total)
                result.points.append(_scale_point(name, count, spec, number, start_method=start_method,
                                                  budget_s=1.0 if quick else 3.0, baseline=baseline, dask=dask,
                                                  timelines=timelines))
    result.points.sort(key=lambda p: (list(runner_names).index(p.runner), p.workers))
    result.advice = probe_advice.advice(result, environment.usable_cores())
    progress("done", total, total)
    return result


def probe(fn: Callable[..., Any], *args: Any, workers: Sequence[int] = (1, 2),
          runners: Sequence[str] = ("threads", "processes"), quick: bool = False, timeout: float = 10.0,
          start_method: str = "forkserver", **kwargs: Any) -> ProbeResult:
    """Does ``fn(*args, **kwargs)`` release the GIL, and does that pay on threads, processes
    or interpreters? ``fn`` (and its arguments) must be picklable for the process and
    interpreter runners; where it is not, that runner's row says so and the others run.

    >>> import time
    >>> fastfib.probe(time.sleep, 0.002, runners=["threads"], quick=True).verdict  # doctest: +SKIP
    'released'
    """
    spec = Spec(fn=fn, args=tuple(args), kwargs=tuple(sorted(kwargs.items())))
    return probe_spec(spec, workers=workers, runner_names=runners, quick=quick, timeout_s=timeout,
                      start_method=start_method)
