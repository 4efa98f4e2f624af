"""The ``interpreters`` runner: tasks on subinterpreters, each with its own GIL.

Where it comes from. CPython 3.14 ships ``concurrent.futures.InterpreterPoolExecutor``
(PEP 734). On 3.13 the same executor comes from the ``interpreters-pep-734``
backport on PyPI (``pip install 'fastfib[interpreters]'``), which imports as
``interpreters_backport``. Before 3.13 -- or on 3.13 without the backport --
the runner is *unavailable*: :func:`unavailable_reason` says why, and nothing
raises until someone asks :func:`make` for it. (3.12 has per-interpreter GILs
too, but no executor; the backport needs another package there.)

What a worker is. Every worker is a thread of this process running its own
interpreter, with its own GIL, its own modules and its own copy of every
module-level object. Pure-Python code therefore runs in parallel, as on
processes, but with no fork and no second address space. Tasks and results
cross by pickle, so a task must be an importable function (``fastfib.tasks.
burn_task``), never a lambda.

What loads there. A compiled module loads in an own-GIL subinterpreter only
if it declares ``Py_MOD_PER_INTERPRETER_GIL_SUPPORTED``. fastfib's Cython
modules do (``subinterpreters_compatible=own_gil`` with module state, see
setup.py); numpy does not, nor does numba, which needs it. The runner knows
nothing of kernels: its caller names, in ``preload``, the modules every
interpreter imports as it starts (as for process workers), and asks the
workers itself which of its kernels they cannot load
(:func:`fastfib.tasks.unavailable_kernels`, as :mod:`fastfib.measure` does).

The start gate. A ``threading.Barrier`` cannot cross interpreters: each
worker would unpickle a barrier of its own. The gate is two cross-interpreter
queues instead (:class:`QueueGate`): each gate task puts one token on
*arrivals*, then polls *release* every 0.1 ms; the caller counts W arrivals,
starts the clock and puts W release tokens. (The queues' own blocking ``get``
sleeps 10 ms between polls, far too coarse for a start line.) The worst skew
between the first and last worker released is thus about 0.1 ms plus thread
wake-up, against microseconds for a barrier: negligible for tasks of
milliseconds. The first gate round, in ``open``, is the warm-up: it completes
only when all W interpreters exist and have imported fastfib and the
``preload`` modules.

Start-up. Creating an interpreter and importing fastfib into it costs
milliseconds per worker (threads: microseconds; processes: tens of
milliseconds); ``Pool.startup_s`` holds it, apart from the timed work.
The ``preload`` modules are imported by the executor's initializer, so inside
the start-up too. Measured here on CPython 3.14.10 (2 cores): a one-worker pool
starts in ~150 ms, two in ~185 ms -- creating an interpreter costs ~18 ms, but
importing ``concurrent.futures`` inside it ~70 ms more, and fastfib's task module
as much again -- against ~76 ms and ~80 ms on 3.13.0 with the backport.

Why a gate over the standard pool. The same executor without the gate (warmed
by one no-op task per worker, the clock started at submission, as
:class:`fastfib.runners.executors.Runner` does for any executor) measured the
same steady speedups here (python 1.83x, cython-nogil 1.92x, against 1.80x and
1.85x) and the same hand-over (~75 us a task), but its warm-up returned before
the second interpreter had finished starting: its first timed batch took 1.75x
a steady one, against 1.00x behind the gate, which completes only when every
worker holds it.

Ctrl-C. A subinterpreter running a task cannot be interrupted or killed from
outside; a pool closed with ``terminate`` waits for the running tasks.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import os
import queue
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastfib.runners import executors

__all__ = ["InterpreterRunner", "QueueGate", "make", "unavailable_reason"]

NAME = "interpreters"
POLL_S = 0.0001  # how often a worker at the gate looks for its release token


def _find_backend() -> tuple[Callable[..., cf.Executor], Callable[[], Any], str] | str:
    """(executor class, queue factory, backend name), or why there is none here."""
    try:  # 3.14+
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]
        from concurrent.interpreters import create_queue  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return InterpreterPoolExecutor, create_queue, "concurrent.futures.InterpreterPoolExecutor"
    version = ".".join(map(str, sys.version_info[:2]))
    if sys.version_info < (3, 13):
        return (f"subinterpreters with their own GIL need CPython 3.13+ (with the interpreters-pep-734 "
                f"backport) or 3.14+; this is {sys.implementation.name} {version}")
    try:
        from interpreters_backport.concurrent.futures import InterpreterPoolExecutor
        from interpreters_backport.interpreters.queues import create as create_queue
    except ImportError as exc:
        return (f"CPython {version} needs the interpreters-pep-734 backport for an interpreter pool "
                f"(pip install 'fastfib[interpreters]'): {exc}")
    return InterpreterPoolExecutor, create_queue, "interpreters_backport (interpreters-pep-734)"


_BACKEND = _find_backend()


def unavailable_reason() -> str | None:
    """None where the runner works here; otherwise one sentence saying why not."""
    return _BACKEND if isinstance(_BACKEND, str) else None


# --- the gate, across interpreters ------------------------------------------------------------

def _wait_at_queue_gate(arrivals: Any, release: Any) -> int:
    """A gate task, run inside a worker interpreter: arrive, then wait for a release token."""
    arrivals.put(os.getpid())
    deadline = time.monotonic() + executors.GATE_TIMEOUT_S
    while True:
        try:
            release.get_nowait()
        except queue.Empty:  # the queues' QueueEmpty derives from queue.Empty
            if time.monotonic() > deadline:
                raise TimeoutError("the start gate was never opened") from None
            time.sleep(POLL_S)
        else:
            return os.getpid()


class QueueGate:
    """The barrier-shaped start gate over two cross-interpreter queues.

    It offers what :class:`fastfib.runners.executors.Pool` uses of a ``threading.Barrier``:
    ``n_waiting`` (workers arrived and not yet released), ``wait`` (release
    them all; the caller does not block) and ``abort`` (free any waiting worker).
    """

    def __init__(self, workers: int, create_queue: Callable[[], Any]) -> None:
        self.parties = workers
        self.arrivals = create_queue()
        self.release = create_queue()
        self._arrived = 0

    @property
    def n_waiting(self) -> int:
        while True:
            try:
                self.arrivals.get_nowait()
            except queue.Empty:
                return self._arrived
            self._arrived += 1

    def wait(self, timeout: float | None = None) -> int:
        released, self._arrived = self._arrived, 0
        for _ in range(released):
            self.release.put_nowait(0)
        return released

    def abort(self) -> None:
        for _ in range(self.parties):
            self.release.put_nowait(0)


def _import_modules(modules: tuple[str, ...]) -> None:
    """Every worker interpreter's initializer: import the caller's ``preload`` modules."""
    for name in modules:
        importlib.import_module(name)


class InterpreterRunner(executors.Runner):
    """An ``InterpreterPoolExecutor``: one interpreter and one GIL per worker, one process.

    ``preload`` names modules every worker interpreter imports as it starts,
    before its first task (the task's own module, typically).
    """

    def __init__(self, preload: Sequence[str] = ()) -> None:
        if isinstance(_BACKEND, str):
            raise executors.RunnerUnavailable(f"runner {NAME!r} is unavailable here: {_BACKEND}")
        executor_class, self._create_queue, self.backend = _BACKEND
        self.preload = tuple(preload)
        super().__init__(
            NAME, lambda w: executor_class(w, thread_name_prefix="fastfib-interp", initializer=_import_modules,
                                           initargs=(self.preload,)),
            make_gate=self._make_gate,
            description="an InterpreterPoolExecutor: one subinterpreter and GIL per worker, one process",
        )

    def _make_gate(self, workers: int, _executor: cf.Executor) -> tuple[Any, tuple]:
        gate = QueueGate(workers, self._create_queue)
        return gate, (_wait_at_queue_gate, (gate.arrivals, gate.release))

    def open(self, workers: int) -> executors.Pool:
        pool = super().open(workers)
        pool.backend = self.backend
        return pool


def make(preload: Sequence[str] = ()) -> InterpreterRunner:
    """The runner; :class:`fastfib.runners.executors.RunnerUnavailable` (a ValueError) where there is none."""
    return InterpreterRunner(preload)
