"""The ``dask-threads`` and ``dask-processes`` runners: tasks on a dask.distributed cluster.

The question they answer is the one every dask user meets when sizing workers:
one worker process with many threads, or many single-threaded worker processes?
Only code that releases the GIL scales on the first.

* ``dask-threads`` x W: W threads in one worker process -- by default a
  ``LocalCluster(n_workers=1, threads_per_worker=W, processes=True)`` started
  for the pool;
* ``dask-processes`` x W: W worker processes of one thread each
  (``n_workers=W, threads_per_worker=1``).

Each pool starts its own local cluster (scheduler in this process, a nanny and
a worker process per worker, as ``LocalCluster`` does) and warms it before
anything is timed: its start-up is the pool's ``startup_s``. The dashboard
address is announced when it starts (``DaskOptions(dashboard=False)``: none).

An existing cluster. With ``DaskOptions(scheduler="tcp://host:8786")`` a pool
connects to that scheduler instead and *chooses* its workers there
(:func:`choose_layout`): for ``dask-threads`` x W the worker with the fewest
threads >= W, for ``dask-processes`` x W the W workers with the fewest threads.
A chosen worker's surplus threads are *parked* for the duration of every
batch (a task that waits on an event), so exactly W tasks run at once. Every
task is pinned to the chosen workers (``workers=``, ``allow_other_workers=False``).
:func:`cluster_facts` reports each worker's own cores and interpreter.

The gate, as far as dask allows. A barrier cannot cross into dask workers, so
the gate is dask's own: each gate task (pinned, one per slot) announces itself
on a topic (``Worker.log_event``; this process counts the arrivals as they are
pushed to it) and then waits on a ``distributed.Event``; the tasks are queued
behind the gates (pinned tasks go straight to their workers); the clock starts
when the event is set, one message from the scheduler to every worker. The
release skew is that message's spread (well under a millisecond on loopback);
each task's hand-over to a thread costs what dask costs, and that is measured.

dask is optional (``pip install 'fastfib[dask]'``): this module imports it
only when a pool opens, and :func:`unavailable_reason` says why the runners
cannot run where it is missing, without importing it.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastfib.runners import executors
from fastfib.runners.dask_cluster import (  # re-exported: the runners' whole API in one place
    DASK_RUNNERS,
    INSTALL,
    LayoutError,
    check_cluster,
    choose_layout,
    cluster_facts,
    connect,
    is_this_host,
    scheduler_info,
    unavailable_reason,
)

__all__ = ["DASK_RUNNERS", "INSTALL", "DaskOptions", "DaskRunner", "LayoutError", "check_cluster", "choose_layout",
           "cluster_facts", "connect", "dask_setup", "is_this_host", "make", "scheduler_info", "unavailable_reason"]

CLOSE_TIMEOUT_S = 20.0
# A local cluster's self-monitoring, slowed: every pool's cluster stays open (and idle) while
# the others are measured, and at dask's defaults (an event-loop tick every 20 ms in every
# scheduler, nanny and worker; a profiler sampling every worker's threads every 10 ms; memory
# and system monitors) four idle clusters kept about half of this machine's two cores busy.
# Slowed as here: under a tenth. Nothing here changes how tasks are scheduled or run.
QUIET_MONITORING = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


@dataclass(frozen=True)
class DaskOptions:
    """How the dask runners find their cluster."""

    scheduler: str | None = None  # an existing scheduler's address; None: a local cluster per pool
    dashboard: bool = True  # local clusters: serve the dashboard (on a free port) and announce it
    announce: Callable[[str], None] | None = None  # where start-up lines go (the CLI: stderr)


# --- what runs on the workers -----------------------------------------------------------------

def _gate_task(topic: str, release: str, modules: Sequence[str]) -> int:
    """A gate: import the task's modules, announce arrival, wait for the release event."""
    from distributed import Event, get_worker

    for name in modules:  # imported here, in the warm-up round, never inside the timing
        importlib.import_module(name)
    get_worker().log_event(topic, {"pid": os.getpid(), "release": release})
    if not Event(release).wait(executors.GATE_TIMEOUT_S):
        raise TimeoutError("the start gate was never opened")
    return os.getpid()


def _parked_task(topic: str, release: str, done: str) -> int:
    """Holds a surplus thread of a chosen worker until the batch is done."""
    from distributed import Event, get_worker

    get_worker().log_event(topic, {"pid": os.getpid(), "release": release, "parked": True})
    Event(done).wait(executors.GATE_TIMEOUT_S)
    return os.getpid()


def dask_setup(worker: Any) -> None:
    """The preload of a local cluster's workers (``preload=["fastfib.runners.dask_runners"]``).

    Ctrl-C is this process's to handle: it closes the cluster, whose nannies end
    the workers. A terminal's SIGINT to the whole process group thus prints no
    traceback from every worker (as process pools' workers ignore it too).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- this side --------------------------------------------------------------------------------

class _Gate:
    """One round of the gate; quacks like the barrier :class:`fastfib.runners.executors.Pool` waits on."""

    def __init__(self, client: Any, topic: str, parked: int) -> None:
        from distributed import Event

        self.name = f"{topic}-{uuid.uuid4().hex[:8]}"
        self.release, self.done = Event(self.name + "-go", client), Event(self.name + "-done", client)
        self.parked = parked
        self.parked_futures: list[Any] = []  # held: a released future's task would be forgotten
        self.arrived = {"gate": 0, "parked": 0}
        self._lock = threading.Lock()

    def arrive(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.arrived["parked" if message.get("parked") else "gate"] += 1

    @property
    def n_waiting(self) -> int:
        """Gates at the line; counted only once every parked thread is held too."""
        with self._lock:
            gates, parked = self.arrived["gate"], self.arrived["parked"]
        return gates if parked >= self.parked else 0

    def wait(self, _timeout: float | None = None) -> None:
        self.release.set()  # the start: every gate task returns

    def finish(self) -> None:
        """The batch is over: free the parked threads, forget this round's events."""
        self.release.set()
        self.done.set()

    def forget(self) -> None:
        for event in (self.release, self.done):
            event.clear()

    abort = finish


class _PinnedExecutor(cf.Executor):
    """``Client.get_executor`` pinned to the chosen workers; ``shutdown`` cancels what is left
    and closes the session (the cluster started for it, or the connection)."""

    def __init__(self, session: _Session) -> None:
        self.session = session
        self._inner = session.client.get_executor(workers=sorted(session.layout), allow_other_workers=False,
                                                  pure=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        futures = list(self._inner._futures)
        try:
            if cancel_futures and futures:
                try:
                    self.session.client.cancel(futures, force=True)
                except Exception:  # noqa: BLE001 - closing anyway
                    pass
            self._inner.shutdown(wait=wait and not cancel_futures)
        finally:
            self.session.close()


class _Session:
    """A pool's cluster (local, started here) or connection (existing), and its chosen workers."""

    def __init__(self, runner: DaskRunner, workers: int) -> None:
        options = runner.options
        self.preload = runner.preload  # what every gate task imports before it arrives
        self.cluster: Any = None
        self.local = options.scheduler is None
        if options.scheduler is None:
            import dask
            from distributed import Client, LocalCluster

            # Its INFO lines (every start, retire and close) are not this program's output. A closing
            # LocalCluster restores the level it found, so set it here too: else the first of several
            # clusters to close would turn the others' INFO lines back on.
            logging.getLogger("distributed").setLevel(logging.ERROR)
            threads = workers if runner.kind == "threads" else 1
            with dask.config.set(QUIET_MONITORING):  # the nannies hand it to their workers
                self.cluster = LocalCluster(
                    n_workers=1 if runner.kind == "threads" else workers, threads_per_worker=threads,
                    processes=True, host="127.0.0.1", scheduler_port=0,
                    dashboard_address=":0",  # a free port: several clusters run at once, and 8787 may be taken
                    scheduler_kwargs=None if options.dashboard else {"dashboard": False},  # its HTTP server, bare
                    silence_logs=logging.ERROR, preload=[__name__],
                )
                try:
                    self.client = Client(self.cluster, set_as_default=False)
                except BaseException:
                    self.cluster.close(timeout=CLOSE_TIMEOUT_S)
                    raise
        else:
            self.client = connect(options.scheduler)
        try:
            info = scheduler_info(self.client)
            nthreads = {address: worker["nthreads"] for address, worker in info["workers"].items()}
            self.layout = choose_layout(runner.kind, workers, nthreads)
            self.on_this_host = all(is_this_host(info["workers"][address].get("host")) for address in self.layout)
            self.topic = f"fastfib-gate-{uuid.uuid4().hex[:12]}"
            self.gate: _Gate | None = None
            self.previous: _Gate | None = None
            self.client.subscribe_topic(self.topic, self._arrived)
            self.rounds: dict[str, _Gate] = {}
        except BaseException:
            self.close()
            raise
        self.describe = {
            "scheduler": info.get("address"), "local_cluster": self.local,
            "workers": sorted(self.layout), "threads_used": [self.layout[a][0] for a in sorted(self.layout)],
            "threads_parked": sum(parked for _, parked in self.layout.values()),
        }
        if self.local and options.dashboard:
            self.describe["dashboard"] = self.client.dashboard_link

    def _arrived(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        gate = self.rounds.get(message.get("release", ""))
        if gate is not None:
            gate.arrive(message)

    def submit_round(self) -> tuple[_Gate, list[Any]]:
        """A new gate round: a pinned gate per used thread, a parked task per surplus thread."""
        self.finish_round()
        gate = _Gate(self.client, self.topic, sum(parked for _, parked in self.layout.values()))
        self.rounds = {gate.release.name: gate}
        self.gate = gate
        gates: list[Any] = []
        for address, (used, parked) in sorted(self.layout.items()):
            pin = {"workers": [address], "allow_other_workers": False, "pure": False}
            gates += [self.client.submit(_gate_task, self.topic, gate.release.name, self.preload, **pin)
                      for _ in range(used)]
            gate.parked_futures += [self.client.submit(_parked_task, self.topic, gate.release.name, gate.done.name,
                                                       **pin) for _ in range(parked)]
        return gate, gates

    def finish_round(self) -> None:
        if self.previous is not None:
            self.previous.forget()
            self.previous = None
        if self.gate is not None:
            self.gate.finish()
            self.previous, self.gate = self.gate, None

    def close(self) -> None:
        try:
            self.finish_round()
        except Exception:  # noqa: BLE001 - the scheduler may be gone already
            pass
        try:
            self.client.close(timeout=CLOSE_TIMEOUT_S)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=CLOSE_TIMEOUT_S)


class _DaskPool(executors.Pool):
    """A pool whose gate rounds are dask tasks (see the module notes)."""

    session: _Session  # its executor's: the cluster and the chosen workers

    def __init__(self, runner: executors.Runner, workers: int) -> None:
        super().__init__(runner, workers)
        self.session.finish_round()  # the warm-up round's parked threads go free
        if not self.session.on_this_host:
            self.pids = []  # other machines' process ids: their CPU time cannot be read from here

    def _on_open(self) -> None:
        assert isinstance(self.executor, _PinnedExecutor)
        self.session = self.executor.session
        self.row_extra = {"dask": self.session.describe}

    def _submit_gates(self) -> list[Any]:
        self._barrier, gates = self.session.submit_round()
        return gates

    def _collect(self, futures: list[Any]) -> list[Any]:
        try:
            return super()._collect(futures)
        finally:
            self.session.finish_round()


class DaskRunner(executors.Runner):
    """W tasks at once on a dask.distributed cluster: threads of one worker, or one thread
    each of W workers (see the module notes)."""

    pool_class = _DaskPool

    def __init__(self, kind: str, options: DaskOptions | None = None, preload: Sequence[str] = ()) -> None:
        if kind not in ("threads", "processes"):
            raise ValueError(f"unknown dask runner kind {kind!r}")
        self.kind = kind
        self.options = options or DaskOptions()
        self.preload = tuple(preload)
        where = self.options.scheduler or "a local cluster"
        super().__init__(
            f"dask-{kind}", self._make_executor,
            make_gate=lambda _w, _executor: (None, (None, ())),  # the rounds are _DaskPool's own
            description=(f"dask.distributed on {where}: W threads in one worker process (one GIL)"
                         if kind == "threads" else
                         f"dask.distributed on {where}: W worker processes of one thread (a GIL each)"),
        )

    def _make_executor(self, workers: int) -> cf.Executor:
        session = _Session(self, workers)
        if session.local and self.options.announce is not None:
            dashboard = session.describe.get("dashboard")
            self.options.announce(f"{self.name} x{workers}: local cluster at {session.describe['scheduler']}, "
                                  + (f"dashboard {dashboard}" if dashboard else "no dashboard"))
        return _PinnedExecutor(session)


def make(name: str, options: DaskOptions | None = None, preload: Sequence[str] = ()) -> DaskRunner:
    """The runner ``name`` (one of :data:`DASK_RUNNERS`); RunnerUnavailable where dask is missing."""
    why = unavailable_reason()
    if why:
        raise executors.RunnerUnavailable(f"runner {name!r} is unavailable here: {why}")
    return DaskRunner(name.removeprefix("dask-"), options, preload)
