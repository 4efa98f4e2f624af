"""The GIL made certain: a heartbeat that can only run while a call has released it.

:class:`GilWatch` is the instrument of ``fastfib probe``'s verdict, of ``fastfib
lab release`` and of :mod:`fastfib.testing`'s assertions.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["SILENCE_S", "TICK_S", "GilWatch"]

TICK_S = 0.0005  # the heartbeat's sleep between ticks
SILENCE_S = 0.002  # a gap between ticks longer than this: the heartbeat could not run


class GilWatch:
    """A heartbeat thread and a switch interval far past any call: ticks inside a call
    prove the call released the GIL, since nothing else could have handed it over.

    How much of the call released it is read against *control* windows: the same
    heartbeat beside a call known to release the GIL for its whole length (the
    nogil kernel when the extension is built, else a sleep), taken in alternation
    with the calls, so a busy machine slows the heartbeat in both alike.

    >>> with GilWatch() as watch:
    ...     with watch.call():
    ...         time.sleep(0.01)
    >>> watch.ticks_inside() > 0
    True
    """

    def __init__(self, switch_interval_s: float = 10.0) -> None:
        self.switch_interval_s = switch_interval_s
        self.ticks: list[float] = []
        self.windows: list[tuple[float, float]] = []
        self.controls: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="fastfib-gil-watch", daemon=True)
        self._old_interval = sys.getswitchinterval()

    def _beat(self) -> None:
        ticks, stop, sleep, clock = self.ticks, self._stop, time.sleep, time.perf_counter
        while not stop.is_set():
            ticks.append(clock())  # only with the GIL held: a tick inside a call is a release
            sleep(TICK_S)

    def __enter__(self) -> GilWatch:
        self._thread.start()
        while len(self.ticks) < 3:  # running, and waiting for the GIL from now on
            time.sleep(TICK_S)
        sys.setswitchinterval(self.switch_interval_s)
        return self

    def __exit__(self, *_: Any) -> None:
        sys.setswitchinterval(self._old_interval)
        self._stop.set()
        self._thread.join()

    @contextlib.contextmanager
    def _timed(self, into: list[tuple[float, float]], pause: bool = True) -> Iterator[None]:
        if pause:
            time.sleep(2 * TICK_S)  # let the heartbeat tick, then wait for the GIL again
        start = time.perf_counter()
        try:
            yield
        finally:
            into.append((start, time.perf_counter()))

    def call(self, pause: bool = True) -> contextlib.AbstractContextManager[None]:
        """Time one call (or batch) inside the watch: these windows are what the verdict reads.
        ``pause=False``: no sleep before it, for calls timed back to back."""
        return self._timed(self.windows, pause)

    def control(self, seconds: float) -> None:
        """A window of ``seconds`` beside a call that releases the GIL throughout."""
        with self._timed(self.controls):
            _released_for(seconds)

    @staticmethod
    def _count(windows: list[tuple[float, float]], ticks: list[float]) -> int:
        """Ticks strictly inside any window: ticks are appended in time order, so two bisections
        a window (a verdict re-counts after every batch; a scan was quadratic in the batches)."""
        return sum(bisect.bisect_left(ticks, end) - bisect.bisect_right(ticks, start) for start, end in windows)

    def ticks_inside(self) -> int:
        return self._count(self.windows, self.ticks[:])

    def called_s(self) -> float:
        return sum(end - start for start, end in self.windows)

    def expected_ticks(self) -> float:
        """The ticks the control's rate promises over the calls' time: what a call releasing
        the GIL throughout would have let through (0 without controls)."""
        control_s = sum(end - start for start, end in self.controls)
        if control_s <= 0:
            return 0.0
        return self._count(self.controls, self.ticks[:]) / control_s * self.called_s()

    def released_fraction(self) -> float:
        """Heartbeat ticks per second during the calls over those during the controls
        (0 .. 1); without controls, the share of the calls' time in which it ran."""
        ticks = self.ticks[:]
        control_s = sum(end - start for start, end in self.controls)
        called = self.called_s()
        if called <= 0:
            return 0.0
        if control_s > 0 and self._count(self.controls, ticks):
            rate = self._count(self.windows, ticks) / called
            return min(1.0, rate / (self._count(self.controls, ticks) / control_s))
        silent = 0.0
        for start, end in self.windows:
            points = [start, *(t for t in ticks if start < t < end), end]
            silent += sum(b - a for a, b in itertools.pairwise(points) if b - a > SILENCE_S)
        return max(0.0, 1 - silent / called)

    def window_stalls(self) -> list[float]:
        """Each call window's longest stretch, in seconds, without a heartbeat tick (its edges count)."""
        ticks, stalls = self.ticks[:], []
        for start, end in self.windows:
            points = [start, *(t for t in ticks if start < t < end), end]
            stalls.append(max(b - a for a, b in itertools.pairwise(points)))
        return stalls

    def longest_stall_ms(self) -> float:
        return 1000 * max(self.window_stalls(), default=0.0)


def _released_for(seconds: float) -> None:
    """Keep a core busy with the GIL released for ``seconds`` (the nogil kernel's burn in
    short calls), or sleep that long where the extension is not built."""
    from fastfib import registry

    kernel = registry.KERNELS.get("cython-nogil")
    if kernel is None or kernel.burn is None:
        time.sleep(seconds)
        return
    burn, end = kernel.burn, time.perf_counter() + seconds
    while time.perf_counter() < end:
        burn(22)  # ~0.1 ms with the GIL released; the loop around it is a few microseconds
