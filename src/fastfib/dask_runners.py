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
import importlib.util
import logging
import os
import platform
import signal
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from fastfib import runners

__all__ = ["DASK_RUNNERS", "INSTALL", "DaskOptions", "DaskRunner", "LayoutError", "choose_layout",
           "cluster_facts", "connect", "make", "unavailable_reason"]

DASK_RUNNERS = ("dask-threads", "dask-processes")
INSTALL = "pip install 'fastfib[dask]'"
CONNECT_TIMEOUT_S = 3.0
CLOSE_TIMEOUT_S = 20.0


def unavailable_reason() -> str | None:
    """None where the dask runners can run here; otherwise why not (dask is not imported)."""
    try:
        found = importlib.util.find_spec("distributed")
    except (ImportError, ValueError):  # a broken or blocked install
        found = None
    if found is None:
        return f"dask.distributed is not installed ({INSTALL})"
    return None


@dataclass(frozen=True)
class DaskOptions:
    """How the dask runners find their cluster."""

    scheduler: str | None = None  # an existing scheduler's address; None: a local cluster per pool
    dashboard: bool = True  # local clusters: serve the dashboard (on a free port) and announce it
    announce: Callable[[str], None] | None = None  # where start-up lines go (the CLI: stderr)


class LayoutError(ValueError):
    """The cluster has no set of workers that gives the layout asked for."""


def choose_layout(kind: str, workers: int, nthreads: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Which workers a pool uses: {address: (threads used, threads parked)}.

    ``kind`` is "threads" (W threads in one process) or "processes" (W
    processes, one thread each); ``nthreads`` maps each worker to its threads.

    >>> choose_layout("threads", 2, {"a": 1, "b": 4, "c": 2})
    {'c': (2, 0)}
    >>> choose_layout("processes", 2, {"a": 1, "b": 4, "c": 2})
    {'a': (1, 0), 'c': (1, 1)}
    """
    ranked = sorted(nthreads.items(), key=lambda item: (item[1], item[0]))
    have = ", ".join(f"{address} ({count} thread{'s' * (count != 1)})" for address, count in ranked) or "none"
    if kind == "threads":
        for address, count in ranked:
            if count >= workers:
                return {address: (workers, count - workers)}
        raise LayoutError(f"no worker of the cluster has {workers} threads for dask-threads x{workers}; "
                          f"its workers: {have}")
    if kind == "processes":
        if len(ranked) < workers:
            raise LayoutError(f"dask-processes x{workers} needs {workers} workers; the cluster has "
                              f"{len(ranked)}: {have}")
        return {address: (1, count - 1) for address, count in ranked[:workers]}
    raise ValueError(f"unknown layout kind {kind!r}")


# --- what runs on the workers -----------------------------------------------------------------

def _gate_task(topic: str, release: str, modules: Sequence[str]) -> int:
    """A gate: import the task's modules, announce arrival, wait for the release event."""
    from distributed import Event, get_worker

    for name in modules:  # imported here, in the warm-up round, never inside the timing
        importlib.import_module(name)
    get_worker().log_event(topic, {"pid": os.getpid(), "release": release})
    if not Event(release).wait(runners.GATE_TIMEOUT_S):
        raise TimeoutError("the start gate was never opened")
    return os.getpid()


def _parked_task(topic: str, release: str, done: str) -> int:
    """Holds a surplus thread of a chosen worker until the batch is done."""
    from distributed import Event, get_worker

    get_worker().log_event(topic, {"pid": os.getpid(), "release": release, "parked": True})
    Event(done).wait(runners.GATE_TIMEOUT_S)
    return os.getpid()


def dask_setup(worker: Any) -> None:
    """The preload of a local cluster's workers (``preload=["fastfib.dask_runners"]``).

    Ctrl-C is this process's to handle: it closes the cluster, whose nannies end
    the workers. A terminal's SIGINT to the whole process group thus prints no
    traceback from every worker (as process pools' workers ignore it too).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_facts() -> dict[str, Any]:
    """What one worker runs on (called on every worker by :func:`cluster_facts`)."""
    from fastfib import environment

    return {
        "host": socket.gethostname(), "pid": os.getpid(), "usable_cores": environment.usable_cores(),
        "cpu_model": environment.cpu_model(), "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(), "gil_enabled": environment.gil_enabled(),
        "free_threaded_build": environment.free_threaded_build(),
    }


# --- this side --------------------------------------------------------------------------------

def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``; ConnectionError (one line) if
    no dask scheduler answers there within ``timeout_s``.

    The scheduler is asked who it is first, over a bare connection: a Client that
    fails to connect lingers and complains on stderr when collected.
    """
    import asyncio

    from distributed import Client
    from distributed.core import rpc

    async def identify() -> dict[str, Any]:
        async with rpc(address, timeout=timeout_s) as scheduler:
            return await scheduler.identity()

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # distributed logs every failed attempt: the error says it once
    try:
        try:
            _refused_fast(address, timeout_s)
            identity = asyncio.run(asyncio.wait_for(identify(), timeout_s))
        except Exception as exc:  # noqa: BLE001 - refused, timed out, or not dask's protocol at all
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                detail = f"no answer within {timeout_s:g} s"
            elif not isinstance(exc, (OSError, ValueError, TypeError)):
                detail = f"what answers there does not speak dask's protocol ({type(exc).__name__})"
            raise ConnectionError(f"cannot reach the dask scheduler at {address!r}: {detail}") from None
        if identity.get("type") != "Scheduler":
            raise ConnectionError(f"{address!r} is a dask {identity.get('type', '?')}, not a scheduler")
        return Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    finally:
        quiet.setLevel(level)


def _refused_fast(address: str, timeout_s: float) -> None:
    """A plain TCP connect first: a refused port is known at once (dask retries it until
    the timeout). Other protocols (tls://, ucx://, inproc://) go straight to dask."""
    from distributed.comm import parse_address, parse_host_port

    protocol, location = parse_address(address)
    if protocol != "tcp":
        return
    host, port = parse_host_port(location)
    socket.create_connection((host, port), timeout=timeout_s).close()


def cluster_facts(client: Any) -> dict[str, Any]:
    """The scheduler's address and, per worker, its threads, cores and interpreter."""
    info = client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    facts = client.run(_worker_facts)
    workers = {address: {"nthreads": worker.get("nthreads"), **facts.get(address, {})}
               for address, worker in sorted(info.get("workers", {}).items())}
    return {"scheduler": info.get("address"), "workers": workers}


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


class _Gate:
    """One round of the gate; quacks like the barrier :class:`fastfib.runners.Pool` waits on."""

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
    """``Client.get_executor`` pinned to the chosen workers; ``shutdown`` cancels what is left."""

    def __init__(self, session: "_Session") -> None:
        self.session = session
        self._inner = session.client.get_executor(workers=sorted(session.layout), allow_other_workers=False,
                                                  pure=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        futures = list(self._inner._futures)
        if cancel_futures and futures:
            try:
                self.session.client.cancel(futures, force=True)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self._inner.shutdown(wait=wait and not cancel_futures)


class _Session:
    """A pool's cluster (local, started here) or connection (existing), and its chosen workers."""

    def __init__(self, runner: "DaskRunner", workers: int) -> None:
        options = runner.options
        self.cluster: Any = None
        self.local = options.scheduler is None
        if self.local:
            from distributed import Client, LocalCluster

            threads = workers if runner.kind == "threads" else 1
            self.cluster = LocalCluster(
                n_workers=1 if runner.kind == "threads" else workers, threads_per_worker=threads,
                processes=True, host="127.0.0.1", scheduler_port=0,
                dashboard_address=":0" if options.dashboard else None,
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
            info = self.client.scheduler_info()
            nthreads = {address: worker["nthreads"] for address, worker in info["workers"].items()}
            self.layout = choose_layout(runner.kind, workers, nthreads)
            here = {socket.gethostname(), "127.0.0.1", "localhost"}
            self.on_this_host = all(info["workers"][a].get("host") in here
                                    or _is_local_ip(info["workers"][a].get("host")) for a in self.layout)
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

    def submit_round(self, modules: Sequence[str]) -> tuple[_Gate, list[Any]]:
        """A new gate round: a pinned gate per used thread, a parked task per surplus thread."""
        self.finish_round()
        gate = _Gate(self.client, self.topic, sum(parked for _, parked in self.layout.values()))
        self.rounds = {gate.release.name: gate}
        self.gate = gate
        gates: list[Any] = []
        for address, (used, parked) in sorted(self.layout.items()):
            pin = {"workers": [address], "allow_other_workers": False, "pure": False}
            gates += [self.client.submit(_gate_task, self.topic, gate.release.name, tuple(modules), **pin)
                      for _ in range(used)]
            for _ in range(parked):
                gate.parked_futures.append(self.client.submit(_parked_task, self.topic, gate.release.name, gate.done.name, **pin))
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


def _is_local_ip(host: Any) -> bool:
    try:
        return bool(host) and socket.gethostbyname(str(host)).startswith("127.")
    except OSError:
        return False


class _DaskPool(runners.Pool):
    """A :class:`fastfib.runners.Pool` whose gate rounds are dask tasks (see the module notes)."""

    def _submit_gates(self) -> list[Any]:
        session: _Session = self.state["session"]
        self._barrier, gates = session.submit_round(self.runner.preload)  # type: ignore[attr-defined]
        return gates

    def __init__(self, runner: "DaskRunner", workers: int) -> None:
        super().__init__(runner, workers)
        self.state["session"].finish_round()  # the warm-up round's parked threads go free
        if not self.state["session"].on_this_host:
            self.pids = []  # other machines' process ids: their CPU time cannot be read from here


class DaskRunner(runners.ExecutorRunner):
    """W tasks at once on a dask.distributed cluster: threads of one worker, or one thread
    each of W workers (see the module notes)."""

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
        return _PinnedExecutor(_Session(self, workers))

    def open(self, workers: int) -> runners.Pool:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        return _DaskPool(self, workers)

    def on_open(self, pool: runners.Pool) -> None:
        assert isinstance(pool.executor, _PinnedExecutor)
        session = pool.executor.session
        pool.state["session"] = session
        pool.state["row_extra"] = {"dask": session.describe}
        if session.local and self.options.announce is not None:
            dashboard = session.describe.get("dashboard")
            self.options.announce(
                f"{self.name} x{pool.workers}: local cluster at {session.describe['scheduler']}, "
                + (f"dashboard {dashboard}" if dashboard else "no dashboard"))

    def collect(self, pool: runners.Pool, futures: list[Any]) -> list[Any]:
        try:
            return super().collect(pool, futures)
        finally:
            pool.state["session"].finish_round()

    def on_close(self, pool: runners.Pool) -> None:
        session = pool.state.pop("session", None)
        if session is not None:
            session.close()


def make(name: str, options: DaskOptions | None = None, preload: Sequence[str] = ()) -> DaskRunner:
    """The runner ``name`` (one of :data:`DASK_RUNNERS`); RunnerUnavailable where dask is missing."""
    why = unavailable_reason()
    if why:
        raise runners.RunnerUnavailable(f"runner {name!r} is unavailable here: {why}")
    return DaskRunner(name.removeprefix("dask-"), options, preload)


def check_cluster(address: str, runner_names: Sequence[str], workers: Sequence[int]) -> dict[str, Any]:
    """Before any work: reach the scheduler at ``address``, check that every dask pool of
    the plan can be laid out on its workers, and return :func:`cluster_facts`.
    ConnectionError or LayoutError (one line each) otherwise."""
    client = connect(address)
    try:
        facts = cluster_facts(client)
    finally:
        client.close()
    nthreads = {worker: info["nthreads"] for worker, info in facts["workers"].items()}
    for name in runner_names:
        if name in DASK_RUNNERS:
            for count in workers:
                choose_layout(name.removeprefix("dask-"), count, nthreads)
    return facts
