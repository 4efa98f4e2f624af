"""Timing threads that start together: shared by the experiments that race threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

__all__ = ["start_together"]


def start_together(workers: Sequence[threading.Thread], barrier: threading.Barrier) -> float:
    """Start ``workers`` (each waits at ``barrier`` first), release them together, and
    return the seconds from the release until the last one ends. ``barrier`` has one
    party more than there are workers: this caller."""
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started
