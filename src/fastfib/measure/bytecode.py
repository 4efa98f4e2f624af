"""How much of a call is Python bytecode? Counted, not guessed: one call is traced opcode by
opcode (``sys.monitoring`` INSTRUCTION events on 3.12+, ``sys.settrace`` with
``f_trace_opcodes`` before), and the count is turned into time with this interpreter's own
rate for a simple loop.

Why ``fastfib probe`` asks: advice to "release the GIL around the C work" is wrong for a
call that is mostly bytecode -- a Python loop, or a C function that calls back into Python
for every item (``sorted(key=...)``, ``map`` over a lambda). Bytecode needs the GIL (on a
GIL build) whatever the extension does; what helps there is processes, subinterpreters, a
free-threaded build, or moving the loop into C.

The rate is that of the cheapest opcodes (a ``+=`` loop), so the share is a lower bound:
a call counted at 60 % bytecode spends at least about that much of its time interpreting.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["CAP", "MOST", "count_opcodes", "ns_per_opcode", "share"]

CAP = 200_000  # opcodes always counted if the call runs them (tracing costs ~0.3 µs each)
MOST = 3_000_000  # ... and at most, however long the call: ~1 s of tracing


class _Counter:
    """A trace function that counts opcode events in every frame the call enters, then lets go."""

    def __init__(self, cap: int) -> None:
        self.count, self.cap, self.capped = 0, cap, False

    def enter(self, frame: FrameType, event: str, arg: Any) -> Any:  # the global trace: a new frame
        if self.capped:
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self.step

    def step(self, frame: FrameType, event: str, arg: Any) -> Any:  # the local trace: each opcode
        if self.capped:  # a frame still traced when the cap was reached: let it go
            frame.f_trace_opcodes = False
            frame.f_trace = None
            return None
        if event == "opcode":
            self.count += 1
            if self.count >= self.cap:
                self.capped = True
                sys.settrace(None)  # no new frame is traced from here on
                frame.f_trace_opcodes = False
                frame.f_trace = None
                return None
        return self.step


def count_opcodes(call: Callable[[], Any], cap: int = CAP) -> tuple[int, bool]:
    """(opcodes executed by ``call()`` on this thread, whether ``cap`` stopped the count).
    Threads the call starts are not counted; their bytecode runs beside it."""
    if sys.version_info >= (3, 12):
        return _count_monitored(call, cap)
    counter = _Counter(cap)
    previous = sys.gettrace()
    sys.settrace(counter.enter)
    try:
        call()
    finally:
        sys.settrace(previous)
    return counter.count, counter.capped


def _count_monitored(call: Callable[[], Any], cap: int) -> tuple[int, bool]:
    """The count through ``sys.monitoring`` (3.12+): there ``sys.settrace`` is built on it, and
    a frame whose ``f_trace_opcodes`` is set in its own "call" event is instrumented only from
    its code's next call, so a call's first frames were not counted at all. INSTRUCTION events
    set globally instrument every code object at once, frames already running included."""
    monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    tool = next((i for i in (4, 3) if monitoring.get_tool(i) is None), None)
    if tool is None:
        return 0, False  # both free tool ids taken (a debugger and a profiler at once): not counted
    me, found = threading.get_ident(), {"count": 0, "capped": False}

    def on_instruction(code: Any, offset: int) -> None:
        if threading.get_ident() == me:
            found["count"] += 1
            if found["count"] >= cap:
                found["capped"] = True
                monitoring.set_events(tool, 0)

    monitoring.use_tool_id(tool, "fastfib")
    try:
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, on_instruction)
        monitoring.set_events(tool, monitoring.events.INSTRUCTION)
        call()
    finally:
        monitoring.set_events(tool, 0)
        monitoring.register_callback(tool, monitoring.events.INSTRUCTION, None)
        monitoring.free_tool_id(tool)
    return int(found["count"]), bool(found["capped"])


def _calibration_loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


_rate: dict[str, float] = {}
_lock = threading.Lock()


def _cpu_of(work: Callable[[], Any], repeats: int = 5) -> float:
    """The least CPU time of this thread over ``repeats`` runs of ``work()``: CPU, not wall, so
    that a machine busy with other work does not make the call look slower than its bytecode."""
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        work()
        best = min(best, time.thread_time() - start)
    return best


def ns_per_opcode() -> float:
    """This interpreter's CPU nanoseconds per opcode in a plain ``+=`` loop (measured once)."""
    with _lock:
        if "ns" not in _rate:
            n = 50_000
            opcodes, _ = count_opcodes(lambda: _calibration_loop(n))
            _rate["ns"] = 1e9 * _cpu_of(lambda: _calibration_loop(n)) / max(opcodes, 1)
        return _rate["ns"]


def share(loop: Callable[[int], Any], empty: Callable[[int], Any], per_call_cpu: float,
          most: int = MOST) -> tuple[int, float]:
    """(opcodes per call, share of the call's CPU time spent interpreting them: 0..1, a lower
    bound) for ``loop(1)``, less those of ``empty(1)`` -- the same harness calling nothing.
    ``per_call_cpu``: one call's CPU seconds, measured untraced. The count stops at enough
    opcodes to fill the whole call (or ``most``), so a long Python loop is counted in full."""
    rate = ns_per_opcode()
    cap = max(CAP, min(most, int(1.2 * per_call_cpu * 1e9 / rate)))
    opcodes, _ = count_opcodes(lambda: loop(1), cap)
    base, _ = count_opcodes(lambda: empty(1))
    own = max(0, opcodes - base)
    if per_call_cpu <= 0:
        return own, 0.0
    return own, min(1.0, own * rate * 1e-9 / per_call_cpu)  # capped: ``own`` and so the share are lower bounds
