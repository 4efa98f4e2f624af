"""The native thread pools a process holds (BLAS, OpenMP), read with threadpoolctl, and
how much of the machine one call uses by itself (CPU ÷ wall).

A call that releases the GIL may still not scale on Python threads: it may already run on
every core through a pool of its own -- OpenBLAS behind numpy's ``a @ a``, an OpenMP team
behind a ``prange`` loop. Then a second Python thread finds no idle core. These helpers let
``fastfib probe`` say so, name the pool, and show how to limit it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["Pool", "cpu_per_wall", "describe", "limit_hint", "pools", "slowdown"]

Pool = dict[str, Any]  # threadpoolctl's record: user_api, internal_api, prefix, num_threads, version, filepath


def pools() -> list[Pool]:
    """The BLAS and OpenMP pools loaded in this process now (threadpoolctl.threadpool_info()),
    BLAS first, each with the fields worth reporting."""
    keep = ("user_api", "internal_api", "prefix", "num_threads", "version")
    found = [{key: info.get(key) for key in keep} for info in threadpool_info()]
    return sorted(found, key=lambda pool: (pool["user_api"] != "blas", pool["prefix"] or ""))


def describe(pool: Pool) -> str:
    """ "libscipy_openblas (BLAS, openblas, 2 threads)"."""
    api = "BLAS" if pool["user_api"] == "blas" else "OpenMP"
    return f"{pool['prefix']} ({api}, {pool['internal_api']}, {pool['num_threads']} threads)"


def limit_hint(pool: Pool) -> str:
    """How to run the calls with this pool at one thread (threadpoolctl), as Python."""
    return f"with threadpoolctl.threadpool_limits(limits=1, user_api={pool['user_api']!r}): ..."


def cpu_per_wall(work: Callable[[], Any]) -> tuple[float, float, float]:
    """(CPU s, wall s, CPU ÷ wall) of ``work()``: process CPU, so every thread it starts counts.
    Run it where no other thread of this process is busy, or their CPU counts too."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall, cpu / wall if wall > 0 else 0.0


def slowdown(pool: Pool, work: Callable[[], Any], pairs: int = 3) -> float:
    """How much longer ``work()`` takes with ``pool``'s kind limited to one thread: the median
    over ``pairs`` of (wall limited ÷ wall free), the two run back to back. Wall time, not
    CPU ÷ wall: a limited pool's idle threads may still spin (OpenBLAS's do, for a while after
    each call), so the process's CPU says little once the pool is limited; the time the work
    takes says whether the pool's threads were doing it. OpenMP's limit is per calling thread
    (omp_set_num_threads), so call this on the thread that runs the work."""
    ratios = []
    for _ in range(pairs):
        free = cpu_per_wall(work)[1]
        with threadpool_limits(limits=1, user_api=pool["user_api"]):
            capped = cpu_per_wall(work)[1]
        ratios.append(capped / free if free > 0 else 1.0)
    return statistics.median(ratios)
