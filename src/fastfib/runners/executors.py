"""The machinery every runner is built on, and the runners that need only the
standard library: sequential, threads, asyncio (processes: :mod:`fastfib.runners.processes`).
(Every runner by name, and how any other executor plugs in: :mod:`fastfib.runners`.)

A :class:`Runner` says how to build a ``concurrent.futures.Executor`` for W
workers; ``open(W)`` builds it, starts every worker and warms it *before*
anything is timed, and returns a :class:`Pool`. ``Pool.run(fn, arglist)`` then
runs ``fn(*args)`` for each item and returns the results in order, with the
wall time of the work alone. A task's exception propagates from ``run`` (the
remaining tasks are cancelled). Close a pool with ``with`` or ``close()``. A
runner that keeps state of its own per pool (asyncio: its event loop) keeps
it in a Pool subclass, its ``pool_class``.

The gate. So that every worker starts at the same instant, ``run`` first
submits one *gate* task per worker: each waits at a barrier of W + 1 parties,
which pins every worker while the real tasks are queued behind the gates. The
clock starts when the calling thread passes the barrier and releases them all
together. The first gate round, in ``open``, is also the warm-up: it cannot
complete until all W workers exist and have run their initializer, and it
reports each worker's process id. Threads share a ``threading.Barrier``;
process workers receive a ``multiprocessing`` barrier through the pool's
initializer (the only way a process pool can hand one over). Without a
``make_gate`` the pool is warmed by one trivial task per worker and the clock
starts at submission: all that an executor of unknown shape allows.

Callables sent to processes (or interpreters, or other machines) must live in
importable modules -- a lambda or a function defined in ``__main__`` cannot be
pickled by reference.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "GATE_TIMEOUT_S", "START_METHODS", "AsyncioRunner", "Batch", "Pool", "Runner", "RunnerUnavailable",
    "SequentialRunner", "ThreadRunner", "wait_at",
]

START_METHODS = ("fork", "forkserver", "spawn")
GATE_TIMEOUT_S = 120.0  # a gate that waits longer than this has lost a worker
TERMINATE_TIMEOUT_S = 5.0  # how long close(terminate=True) waits for a killed worker to be gone

Args = Sequence[Any]


class RunnerUnavailable(ValueError):
    """A known runner that cannot run here (e.g. ``interpreters`` before CPython 3.13)."""


class Batch:
    """What one ``Pool.run`` produced: results in task order and the wall time of the work."""

    __slots__ = ("results", "wall_s", "started", "finished")

    def __init__(self, results: list[Any], started: float, finished: float) -> None:
        self.results = results
        self.started = started  # time.perf_counter() when the workers were released
        self.finished = finished
        self.wall_s = finished - started


def wait_at(barrier: Any) -> int:
    """A gate task: hold this worker until every worker and the caller arrive."""
    barrier.wait(GATE_TIMEOUT_S)
    return os.getpid()


def _noop() -> int:
    return os.getpid()


class Pool:
    """W started, warmed workers behind an Executor. Made by ``Runner.open``."""

    def __init__(self, runner: Runner, workers: int) -> None:
        self.runner = runner
        self.workers = workers
        self.pids: list[int] = []  # process ids of worker processes (empty for threads)
        # What the runner tells the measurements about these workers:
        self.backend: str | None = None  # which executor implementation, where the runner has a choice
        self.row_extra: dict[str, Any] = {}  # more facts for the ``extra`` of every row measured here
        started = time.perf_counter()
        self.executor: cf.Executor | None = runner.make_executor(workers)
        self._gate: tuple[Callable[..., Any], tuple] | None = None
        self._barrier: Any = None
        try:
            self._on_open()
            if runner.make_gate is not None:
                self._barrier, self._gate = runner.make_gate(workers, self.executor)
                gates = self._submit_gates()
                self._open_gate(gates)
                worker_pids = [gate.result() for gate in gates]
            else:
                worker_pids = [f.result() for f in [self.executor.submit(_noop) for _ in range(workers)]]
        except BaseException:
            self.close(terminate=True)
            raise
        own = os.getpid()
        self.pids = sorted({pid for pid in worker_pids if pid != own})
        self.startup_s = time.perf_counter() - started  # start-up, reported apart from the work

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.close(terminate=exc_type is not None)

    def _submit_gates(self) -> list[cf.Future]:
        assert self._gate is not None and self.executor is not None
        fn, args = self._gate
        return [self.executor.submit(fn, *args) for _ in range(self.workers)]

    def _open_gate(self, gates: list[cf.Future]) -> float:
        """Wait until every worker holds a gate, then release them all; return the release time."""
        deadline = time.monotonic() + GATE_TIMEOUT_S
        # Polling n_waiting (rather than waiting at once) lets a worker that
        # died on its way to the gate be reported instead of timing out.
        while self._barrier.n_waiting < self.workers:
            for gate in gates:
                if gate.done() and gate.exception() is not None:
                    raise gate.exception()  # type: ignore[misc]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.runner.name}: workers never reached the start gate")
            time.sleep(0.0002)
        released = time.perf_counter()
        self._barrier.wait(GATE_TIMEOUT_S)
        return released

    def run(self, fn: Callable[..., Any], arglist: Iterable[Args], *, gate: bool = True) -> Batch:
        """``[fn(*args) for args in arglist]`` on the workers, timed; results in order.

        With ``gate`` (and a gate available) the tasks are queued behind the
        gates first and the clock starts when every worker is released at
        once; without, the clock starts before the first submission, so it
        includes the cost of handing the tasks over (a throughput measure).
        """
        if self.executor is None:
            raise RuntimeError("this pool is closed")
        arglist = list(arglist)
        futures: list[Any] = []
        try:
            if gate and self._gate is not None:
                gates = self._submit_gates()
                futures = self._submit_all(fn, arglist)
                started = self._open_gate(gates)
            else:
                started = time.perf_counter()
                futures = self._submit_all(fn, arglist)
            results = self._collect(futures)
            finished = time.perf_counter()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return Batch(results, started, finished)

    def close(self, *, terminate: bool = False) -> None:
        """Shut the executor down; with ``terminate``, kill worker processes first."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        try:
            if self._barrier is not None:
                try:
                    self._barrier.abort()  # free any worker still waiting at a gate
                except (AttributeError, OSError):
                    pass
            self._before_close()
            if terminate:
                _terminate_workers(executor)
            executor.shutdown(wait=True, cancel_futures=True)
        finally:
            self._on_close()

    # The hooks of a runner's own Pool subclass.
    def _on_open(self) -> None:
        """Called once the executor exists, before the warm-up."""

    def _submit_all(self, fn: Callable[..., Any], arglist: list[Args]) -> list[Any]:
        """Hand every task to the executor; return their futures in order."""
        assert self.executor is not None
        return [self.executor.submit(fn, *args) for args in arglist]

    def _collect(self, futures: list[Any]) -> list[Any]:
        """Wait for every future; results in order; the first failure raises."""
        return [future.result() for future in futures]

    def _before_close(self) -> None:
        """Called as the pool starts closing, before its executor is shut down."""

    def _on_close(self) -> None:
        """Called after the executor has shut down."""


def _terminate_workers(executor: cf.Executor) -> None:
    """Kill a process pool's workers now (Ctrl-C) and return once they are gone and every future
    they held has failed. Threads cannot be killed, processes can; other executors are left alone.

    CPython 3.14's ``terminate_workers()`` is used where it exists: it also stops the pool from
    starting a replacement worker while the others are killed. But it shuts the executor down
    *without waiting* and forgets the executor's manager thread, so the ``shutdown(wait=True)`` that
    follows returns at once, while the futures of the killed tasks still read "running" (the manager
    thread fails them with ``BrokenProcessPool`` a moment later). Hence the manager thread and the
    processes are taken before, and joined after, on every version alike.
    """
    manager = getattr(executor, "_executor_manager_thread", None)  # ProcessPoolExecutor internals
    processes = dict(getattr(executor, "_processes", None) or {})
    if hasattr(executor, "terminate_workers"):  # ProcessPoolExecutor, 3.14+
        executor.terminate_workers()
    else:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
    # The manager thread sees the dead workers, fails their futures, joins them, and ends.
    if isinstance(manager, threading.Thread) and manager is not threading.current_thread():
        manager.join(TERMINATE_TIMEOUT_S)
    for process in processes.values():
        process.join(TERMINATE_TIMEOUT_S)


class Runner:
    """A way of running tasks on W workers over any Executor; ``open(W)`` returns a started, warmed
    :class:`Pool`. ``make_gate(W, executor)`` returns ``(barrier, (gate_fn, gate_args))`` for
    executors whose workers can share a barrier with the caller; leave it None for others (see the
    module notes)."""

    max_workers: int | None = None  # None: any number
    pool_class: type[Pool] = Pool  # a runner that keeps state of its own per pool subclasses Pool

    def __init__(self, name: str, make_executor: Callable[[int], cf.Executor], *,
                 make_gate: Callable[[int, cf.Executor], tuple[Any, tuple]] | None = None,
                 description: str = "") -> None:
        self.name = name
        self.make_executor = make_executor
        self.make_gate = make_gate
        self.description = description or f"tasks on a {name} executor"

    def open(self, workers: int) -> Pool:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if self.max_workers is not None and workers > self.max_workers:
            raise ValueError(f"runner {self.name!r} runs at most {self.max_workers} worker(s), not {workers}")
        return self.pool_class(self, workers)


def _thread_gate(workers: int, _executor: cf.Executor) -> tuple[Any, tuple]:
    barrier = threading.Barrier(workers + 1)
    return barrier, (wait_at, (barrier,))


def _in_order(fn: Callable[..., Any], arglist: list[Args], stop: threading.Event) -> list[Any]:
    """Every task, one after another (the sequential runner's one job per batch)."""
    results = []
    for args in arglist:
        if stop.is_set():  # the pool is closing (Ctrl-C): the rest are not started
            raise cf.CancelledError()
        results.append(fn(*args))
    return results


class _SequentialPool(Pool):
    stop: threading.Event  # set as the pool closes: a batch still running stops before its next task

    def _on_open(self) -> None:
        self.stop = threading.Event()

    def _submit_all(self, fn: Callable[..., Any], arglist: list[Args]) -> list[Any]:
        assert self.executor is not None
        return [self.executor.submit(_in_order, fn, arglist, self.stop)]

    def _collect(self, futures: list[Any]) -> list[Any]:
        (batch,) = futures
        return batch.result()

    def _before_close(self) -> None:
        self.stop.set()


class SequentialRunner(Runner):
    """One task after another, on one worker thread of its own: the baseline of every speedup.

    Not in the calling thread: a thread deep in a call stack -- a test runner's,
    say -- can run Python measurably slower than a fresh one (seen here: the
    pure-Python burn 2.7x slower inside a nested pytest run, a speedup of 2.7x
    for two threads under the GIL), and that would inflate every speedup
    divided by it. A fresh thread with a shallow stack is what every pool's
    workers have. The whole batch is one job on that thread, released by the
    same gate as the threads pool: no hand-over between tasks.
    """

    max_workers = 1
    pool_class = _SequentialPool

    def __init__(self) -> None:
        super().__init__("sequential",
                         lambda _workers: cf.ThreadPoolExecutor(1, thread_name_prefix="fastfib-sequential"),
                         make_gate=_thread_gate,
                         description="one task after another, on one thread of its own")


class ThreadRunner(Runner):
    """A ``ThreadPoolExecutor``: one interpreter, so only GIL-free work overlaps."""

    def __init__(self) -> None:
        super().__init__("threads", lambda w: cf.ThreadPoolExecutor(w, thread_name_prefix="fastfib-worker"),
                         make_gate=_thread_gate, description="a ThreadPoolExecutor: shares one GIL")


class _AsyncioPool(Pool):
    loop: asyncio.AbstractEventLoop  # hands the tasks to the threads and gathers them

    def _on_open(self) -> None:
        import asyncio  # here, not at the top: every worker imports this module, few need asyncio

        self.loop = asyncio.new_event_loop()

    def _submit_all(self, fn: Callable[..., Any], arglist: list[Args]) -> list[Any]:
        return [self.loop.run_in_executor(self.executor, fn, *args) for args in arglist]

    def _collect(self, futures: list[Any]) -> list[Any]:
        import asyncio

        async def gather() -> list[Any]:
            return list(await asyncio.gather(*futures))

        return self.loop.run_until_complete(gather())

    def _on_close(self) -> None:
        self.loop.close()


class AsyncioRunner(Runner):
    """asyncio's way: ``loop.run_in_executor`` on a thread pool, gathered by an event loop.

    The same threads as :class:`ThreadRunner` with an event loop in front, so
    for CPU-bound work it can at best match them: asyncio interleaves waiting,
    it does not run Python code in parallel. (``asyncio.to_thread`` is the same
    call on the loop's default executor.)
    """

    pool_class = _AsyncioPool

    def __init__(self) -> None:
        super().__init__("asyncio", lambda w: cf.ThreadPoolExecutor(w, thread_name_prefix="fastfib-asyncio"),
                         make_gate=_thread_gate,
                         description="asyncio: run_in_executor on a thread pool, gathered by the event loop")
