"""The process runner: a ``ProcessPoolExecutor`` with an explicit start method, its workers
handed their gate (a ``multiprocessing`` barrier) and their modules through the pool's
initializer. The gate, the pool and Ctrl-C's termination are :mod:`fastfib.runners.executors`'."""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import multiprocessing
import signal
from collections.abc import Sequence
from typing import Any

from fastfib.runners.executors import START_METHODS, Runner, wait_at

__all__ = ["ProcessRunner"]

_WORKER_GATE: Any = None  # a process worker's barrier, set by _init_process_worker


def _wait_at_worker_gate() -> int:
    """The gate task of a process worker: its barrier came through the initializer."""
    return wait_at(_WORKER_GATE)


def _init_process_worker(barrier: Any, modules: Sequence[str]) -> None:
    """Runs once in every process worker before it takes any task."""
    global _WORKER_GATE
    _WORKER_GATE = barrier
    # Ctrl-C is the parent's to handle: it terminates the workers itself, so
    # a terminal's SIGINT to the whole process group prints no tracebacks here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in modules:  # import the task's modules now, not inside the timing
        importlib.import_module(name)


class ProcessRunner(Runner):
    """A ``ProcessPoolExecutor`` with an explicit start method; one interpreter per worker.

    ``preload`` names modules every worker imports before its first task (and
    that a forkserver imports once, so its forks start with them loaded).
    """

    def __init__(self, start_method: str = "forkserver", preload: Sequence[str] = ()) -> None:
        if start_method not in START_METHODS:
            raise ValueError(f"unknown start method {start_method!r}; valid: {', '.join(START_METHODS)}")
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"start method {start_method!r} is not available on this platform")
        self.start_method = start_method
        self.preload = tuple(preload)
        self.context = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and self.preload:
            self.context.set_forkserver_preload(list(self.preload))
        self._pending_barrier: Any = None
        super().__init__("processes", self._make_executor, make_gate=self._make_gate,
                         description=f"a ProcessPoolExecutor ({start_method}): one interpreter and GIL per worker")

    def _make_executor(self, workers: int) -> cf.Executor:
        self._pending_barrier = self.context.Barrier(workers + 1)
        return cf.ProcessPoolExecutor(
            workers, mp_context=self.context, initializer=_init_process_worker,
            initargs=(self._pending_barrier, self.preload),
        )

    def _make_gate(self, _workers: int, _executor: cf.Executor) -> tuple[Any, tuple]:
        barrier, self._pending_barrier = self._pending_barrier, None
        return barrier, (_wait_at_worker_gate, ())
