"""Finding and describing a dask.distributed cluster, for the dask runners
(:mod:`fastfib.runners.dask_runners`): whether dask is installed (without importing it),
reaching a scheduler with one clear error, what each worker runs on, and which
workers a pool of W uses (:func:`choose_layout`).

dask is imported only inside the functions that talk to a cluster.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import socket
from collections.abc import Sequence
from typing import Any

__all__ = ["CONNECT_TIMEOUT_S", "DASK_RUNNERS", "INSTALL", "LayoutError", "check_cluster", "choose_layout",
           "cluster_facts", "connect", "is_this_host", "scheduler_info", "unavailable_reason"]

DASK_RUNNERS = ("dask-threads", "dask-processes")
INSTALL = "pip install 'fastfib[dask]'"
CONNECT_TIMEOUT_S = 3.0


def unavailable_reason() -> str | None:
    """None where the dask runners can run here; otherwise why not (dask is not imported)."""
    try:
        found = importlib.util.find_spec("distributed")
    except (ImportError, ValueError):  # a broken or blocked install
        found = None
    if found is None:
        return f"dask.distributed is not installed ({INSTALL})"
    return None

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

def _worker_facts() -> dict[str, Any]:
    """What one worker runs on (called on every worker by :func:`cluster_facts`)."""
    from fastfib import environment

    return {
        "host": socket.gethostname(), "pid": os.getpid(), "usable_cores": environment.usable_cores(),
        "cpu_model": environment.cpu_model(), "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(), "gil_enabled": environment.gil_enabled(),
        "free_threaded_build": environment.free_threaded_build(),
    }

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
    info = scheduler_info(client)
    facts = client.run(_worker_facts)
    workers = {address: {"nthreads": worker.get("nthreads"), **facts.get(address, {})}
               for address, worker in sorted(info.get("workers", {}).items())}
    return {"scheduler": info.get("address"), "workers": workers}


def scheduler_info(client: Any) -> dict[str, Any]:
    """Every worker's entry: newer clients list only the first 5 unless asked for all."""
    import inspect

    if "n_workers" in inspect.signature(client.scheduler_info).parameters:
        return client.scheduler_info(n_workers=-1)
    return client.scheduler_info()

def is_this_host(host: Any) -> bool:
    """Whether a worker's host (as the scheduler lists it) is this machine: then its
    process ids are this machine's, and its CPU time can be read from here."""
    if not host:
        return False
    if str(host) in {socket.gethostname(), "localhost"}:
        return True
    try:
        return socket.gethostbyname(str(host)).startswith("127.")
    except OSError:
        return False

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
