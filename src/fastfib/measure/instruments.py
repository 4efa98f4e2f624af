"""The instruments every measurement reads: a 1 ms heartbeat thread (the GIL made
visible), the CPU time of this process and of worker processes, and the metadata
every figure depends on."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from fastfib import environment, runners

__all__ = ["Heartbeat", "cpu_seconds", "metadata"]

class Heartbeat:
    """A thread that wakes every ``tick_s`` and notes when: gaps in its ticks are stalls.

    >>> with Heartbeat() as beat:
    ...     time.sleep(0.02)
    >>> beat.max_stall_ms(beat.started, time.perf_counter()) < 20
    True
    """

    def __init__(self, tick_s: float = 0.001) -> None:
        self.tick_s = tick_s
        self.ticks: list[float] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="fastfib-heartbeat", daemon=True)

    def _beat(self) -> None:
        ticks, stop, sleep, clock = self.ticks, self._stop, time.sleep, time.perf_counter
        while not stop.is_set():
            sleep(self.tick_s)  # needs the GIL back to return: that wait is the stall
            ticks.append(clock())

    def __enter__(self) -> Heartbeat:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def max_stall_ms(self, start: float, end: float) -> float:
        """The longest time between heartbeats within [start, end], in milliseconds."""
        points = [start] + [t for t in self.ticks if start < t < end] + [end]
        return 1000 * max(b - a for a, b in zip(points, points[1:], strict=False))


def _process_cpu_s(pid: int) -> float:
    """CPU time (user + system) of another live process, 0.0 if it cannot be read."""
    if sys.platform.startswith("linux"):
        try:  # the process's CPU-time clock: nanosecond resolution (clockid = (~pid << 3) | 2)
            return time.clock_gettime((~pid << 3) | 2)
        except OSError:
            pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            parts = stat.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_seconds(pids: Sequence[int] = ()) -> float:
    """CPU time of this process (all its threads) plus that of the live worker ``pids``."""
    return time.process_time() + sum(_process_cpu_s(pid) for pid in pids)


def metadata(**settings: Any) -> dict[str, Any]:
    """What every figure depends on (interpreter, GIL, cores, CPU, build), plus ``settings``."""
    info: dict[str, Any] = {**environment.collect(), "unavailable_runners": runners.unavailable_runners()}
    extension = info.pop("extension", {}) or {}
    info.pop("kernels", None)
    return {
        **info,
        "cython_version": extension.get("cython_version"),
        "cflags": extension.get("cflags"),
        "extension_built": bool(extension.get("built")),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **settings,
    }
