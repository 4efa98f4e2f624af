"""What several test modules share: the kernel lists, an oracle, a heartbeat thread."""

from __future__ import annotations

import threading
import time

import fastfib

KERNEL_NAMES = [k.name for k in fastfib.kernels()]
BURN_KERNEL_NAMES = [k.name for k in fastfib.kernels() if k.burn is not None]


def oracle(count: int) -> list[int]:
    """F(0) .. F(count - 1) by plain addition: independent of every kernel."""
    values = [0, 1]
    while len(values) < count:
        values.append(values[-1] + values[-2])
    return values[:count]


class Heartbeat:
    """A Python thread that records a timestamp, then sleeps ~1 ms, until stopped."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.is_set():
            self.ticks.append(time.perf_counter())
            time.sleep(0.001)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        while len(self.ticks) < 3:  # make sure it is really running
            time.sleep(0.001)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def ticks_between(self, start: float, end: float) -> int:
        return sum(start < t < end for t in self.ticks)
