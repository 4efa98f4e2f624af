"""Does a call release the GIL? One method, shared by ``fastfib probe`` and :mod:`fastfib.testing`.

The instrument is :class:`~fastfib.measure.gilwatch.GilWatch`: a heartbeat thread
that can run only while the call has released the GIL, the switch interval raised
far past any batch. Three things make its answer right on any call size:

* **batches.** A call of 2 µs that releases the GIL is over before a sleeping
  heartbeat wakes up: timed alone, it shows no tick even though it releases.
  Run back to back for a few milliseconds, the GIL is free most of that time and
  the heartbeat, woken, takes it. So calls run in batches of ``batch_s``.
* **a control in alternation.** After each batch, a window of the same length
  beside a call known to release the GIL throughout: the heartbeat's rate there
  is what "released" looks like on this machine at this moment.
* **evidence before "held".** No tick inside the batches proves the GIL held
  only when the control's rate says ticks would have come: at least
  ``HELD_EVIDENCE`` of them over the batches' time. Short of that within the
  budget, the answer is ``cannot tell``, never ``held``.

:func:`stall_at` then measures what the GIL costs *other* threads at the
interpreter's real switch interval: the longest heartbeat gap beside batches of
the call. A C call that holds the GIL stalls them for its whole length; Python
bytecode hands the GIL over every switch interval.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from fastfib import environment
from fastfib.measure.gilwatch import GilWatch

__all__ = ["BATCH_S", "HELD_EVIDENCE", "RELEASED_AT", "Judged", "hands_over", "judge", "number_for", "stall_at"]

RELEASED_AT = 0.8  # released fraction from which a call counts as releasing the GIL (else "partly released")
HELD_EVIDENCE = 20  # heartbeat ticks the control's rate must promise over the batches before "held"
BATCH_S = 0.005  # a batch: long enough for a sleeping heartbeat (0.5 ms ticks) to wake and wait inside it

Loop = Callable[[int], None]  # loop(number): that many calls, back to back


@dataclass
class Judged:
    """What the heartbeat saw beside batches of the call, and the verdict it makes."""

    verdict: str  # "released", "partly released", "held", "no GIL" or "cannot tell"
    released_fraction: float  # heartbeat's rate inside the calls / beside the control (0..1)
    longest_stall_ms: float  # longest heartbeat gap inside a batch, at the raised switch interval
    calls: int
    batches: int
    calls_per_batch: int
    called_s: float  # the batches' time in all
    ticks: int  # heartbeat ticks inside the batches
    expected_ticks: float  # ticks the control's rate promised over that time, had the call released the GIL
    switch_interval_s: float  # the raised interval the watch ran at

    def why(self) -> str:
        """The evidence in words, for a message."""
        if self.verdict == "no GIL":
            return "there is no GIL on this interpreter (free-threaded build, GIL disabled)"
        return (f"{self.ticks} heartbeat tick(s) inside {self.calls} call(s) in {self.batches} batch(es) of "
                f"{self.calls_per_batch} ({self.called_s:.3g} s in all), where a call releasing the GIL throughout "
                f"would have let about {self.expected_ticks:.0f} through")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "why": self.why()}


def number_for(one_call_s: float, loop: Loop, target_s: float) -> int:
    """Calls per batch so that a batch takes about ``target_s`` (at least one call)."""
    number = max(1, int(target_s / max(one_call_s, 1e-9)))
    if number == 1 and one_call_s >= target_s:
        return 1  # one call already fills a batch: no need to run it again to know
    for _ in range(3):  # the first call may have been cold: correct from a real batch
        start = time.perf_counter()
        loop(number)
        took = time.perf_counter() - start
        if took <= 0 or 0.5 < took / target_s < 2:
            break
        number = max(1, int(number * target_s / took))
    return number


def judge(loop: Loop, number: int, *, min_s: float = 0.05, budget_s: float = 5.0,
          stop_at_first_tick: bool = False) -> Judged:
    """Batches of ``number`` calls under a :class:`GilWatch`, each followed by a control of
    the same length, until ``min_s`` of calls (at least 3 batches) and evidence for any
    answer -- or ``budget_s``. ``stop_at_first_tick``: done as soon as one tick proves a release."""
    if not environment.gil_enabled():
        return Judged("no GIL", 1.0, 0.0, 0, 0, number, 0.0, 0, 0.0, sys.getswitchinterval())
    deadline, calls = time.perf_counter() + budget_s, 0
    with GilWatch(switch_interval_s=max(10.0, 1000 * budget_s)) as watch:
        while True:
            with watch.call():
                loop(number)
            calls += number
            start, end = watch.windows[-1]
            watch.control(end - start)  # in alternation: the same machine for both
            if end - start < BATCH_S / 2:  # a batch too short for a sleeping heartbeat to wake inside: grow it
                number = max(number + 1, int(number * BATCH_S / max(end - start, 1e-7)))
            ticks, expected = watch.ticks_inside(), watch.expected_ticks()
            if stop_at_first_tick and ticks:
                break
            enough = watch.called_s() >= min_s and len(watch.windows) >= 3 and (ticks or expected >= HELD_EVIDENCE)
            if enough and ticks and abs(watch.released_fraction() - RELEASED_AT) < 0.1:
                enough = watch.called_s() >= 4 * min_s  # near the line between released and partly: more evidence
            if enough or time.perf_counter() >= deadline:
                break
        fraction, stall = watch.released_fraction(), watch.longest_stall_ms()
    if ticks:
        verdict = "released" if fraction >= RELEASED_AT else "partly released"
    else:
        verdict = "held" if expected >= HELD_EVIDENCE else "cannot tell"
    return Judged(verdict, fraction, stall, calls, len(watch.windows), number,
                  watch.called_s(), ticks, expected, watch.switch_interval_s)


def _watched_at(loop: Loop, number: int, interval_s: float, min_s: float, budget_s: float) -> GilWatch:
    deadline = time.perf_counter() + budget_s
    with GilWatch(switch_interval_s=interval_s) as watch:
        while (watch.called_s() < min_s or len(watch.windows) < 3) and time.perf_counter() < deadline:
            with watch.call():
                loop(number)
    return watch


def stall_at(loop: Loop, number: int, interval_s: float, *, min_s: float = 0.05, budget_s: float = 2.0) -> float:
    """The longest wait, in ms, of a heartbeat thread beside batches of the call while the
    switch interval is ``interval_s`` (the interpreter's own): what other threads of the
    caller's program would see. At least 3 batches and ``min_s``, at most ``budget_s``."""
    if not environment.gil_enabled():
        return 0.0
    return _watched_at(loop, number, interval_s, min_s, budget_s).longest_stall_ms()


def hands_over(loop: Loop, per_call_s: float, *, budget_s: float = 1.0) -> bool | None:
    """Whether a call that holds the GIL hands it over while it runs when the switch interval is
    a twentieth of the call -- as bytecode does (a Python loop, C calling back into Python); C
    holding the GIL never can. Calls are timed one by one, back to back: beside C the heartbeat
    cannot tick from the moment the call starts until it returns, so most of each window is one
    stretch without a tick (the harness's bytecode around the call, where the GIL does change
    hands, is a sliver at its edges); beside bytecode ticks keep coming every interval or so.
    Bytecode when at least half the windows had no stretch past half their length. A machine
    too busy to run the heartbeat can hide a hand-over; only waits for a CPU longer than the call
    itself, at its edges, can fake one. None for calls under 2 ms."""
    if per_call_s < 0.002 or not environment.gil_enabled():
        return None
    deadline = time.perf_counter() + budget_s
    with GilWatch(switch_interval_s=per_call_s / 20) as watch:
        while (len(watch.windows) < 5 or watch.called_s() < 0.03) and time.perf_counter() < deadline:
            with watch.call(pause=False):
                loop(1)
        stalls = watch.window_stalls()
        lengths = [end - start for start, end in watch.windows]
    return 2 * sum(stall < length / 2 for stall, length in zip(stalls, lengths, strict=True)) >= len(stalls)
