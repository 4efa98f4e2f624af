"""Every runner by name: :func:`make_runner` builds one, :func:`unavailable_runners`
says which cannot run here and why. This module imports every runner module;
they import :mod:`fastfib.runners.executors`, never this one.

* ``sequential``, ``threads``, ``asyncio``, ``processes``: the standard
  library's executors (:mod:`fastfib.runners.executors`);
* ``interpreters``: subinterpreters with a GIL each (:mod:`fastfib.runners.subinterpreters`),
  whose gate is a pair of cross-interpreter queues, since a barrier cannot
  cross interpreters;
* ``dask-threads``, ``dask-processes``: a dask.distributed cluster, local or
  existing (:mod:`fastfib.runners.dask_runners`), whose gate is a ``distributed.Event``.

Any other ``concurrent.futures.Executor`` plugs in from Python as a
:class:`fastfib.runners.executors.Runner`, e.g. loky:
``Runner("loky", lambda w: loky.get_reusable_executor(w))``.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastfib.runners import dask_runners, executors, processes, subinterpreters

__all__ = ["RUNNER_NAMES", "make_runner", "unavailable_runners"]

RUNNER_NAMES = ("sequential", "threads", "processes", "asyncio", "interpreters", "dask-threads", "dask-processes")


def unavailable_runners() -> dict[str, str]:
    """Runners of :data:`RUNNER_NAMES` that cannot run here, each with the reason."""
    found = {"interpreters": subinterpreters.unavailable_reason()}
    found.update(dict.fromkeys(dask_runners.DASK_RUNNERS, dask_runners.unavailable_reason()))
    return {name: why for name, why in found.items() if why}


def make_runner(name: str, *, start_method: str = "forkserver", preload: Sequence[str] = (),
                dask: dask_runners.DaskOptions | None = None) -> executors.Runner:
    """The runner called ``name`` (one of :data:`RUNNER_NAMES`); ValueError otherwise, and
    :class:`fastfib.runners.executors.RunnerUnavailable` (a ValueError) for one that cannot run here.

    ``preload``: modules every worker process or interpreter imports before its first task;
    ``dask``: how the dask runners find their cluster (None: a local cluster
    per pool, dashboard on, nothing announced).
    """
    if name == "sequential":
        return executors.SequentialRunner()
    if name == "threads":
        return executors.ThreadRunner()
    if name == "asyncio":
        return executors.AsyncioRunner()
    if name == "processes":
        return processes.ProcessRunner(start_method, preload)
    if name == "interpreters":
        return subinterpreters.make(preload)
    if name in dask_runners.DASK_RUNNERS:
        return dask_runners.make(name, dask, preload)
    raise ValueError(f"unknown runner {name!r}; valid runners: {', '.join(RUNNER_NAMES)}")
