"""``fastfib lab release``: which library calls release the GIL?

Each operation is sized so one call takes about ``target`` here, then measured
two ways:

* the heartbeat: a Python thread that wakes every millisecond runs beside one
  call; its longest stall says whether the call let it run. About 1 ms: the
  call released the GIL. About the switch interval (5 ms): Python bytecode,
  handed over at each switch interval. About the whole call: a C call that
  holds the GIL from start to end. The verdict comes from a second look with
  the switch interval raised far past the call: then only a call that really
  releases the GIL lets the heartbeat run at all, so a busy machine (which
  lengthens every stall a little) cannot blur the answer;
* 2 threads: two calls started together on two threads against the same two
  calls one after the other. Releasing is necessary for a speedup, not
  sufficient: the work must also be able to run on a second core.

numpy's BLAS is pinned to one thread (threadpoolctl) so its own threads do not
pass for ours.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastfib import gil, measure, registry
from fastfib.command import names
from fastfib.lab.experiment import Experiment, Option, ProgressFn
from fastfib.lab.timing import start_together
from fastfib.measure.gilwatch import GilWatch
from fastfib.tables import grid
from fastfib.tasks import calibrate

__all__ = ["EXPERIMENT", "OPERATIONS", "Operation", "classify", "measure_operation", "run"]

SHORT_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class Operation:
    name: str
    what: str  # one line: what a call does
    build: Callable[[int], Callable[[], Any]]  # size -> a call of that size (allocations done here)
    base: int  # a small size to time first; the call is then scaled to the target
    scales: bool = True  # False: size is a duration in µs, set directly


def _sleep(us: int) -> Callable[[], Any]:
    return lambda: time.sleep(us / 1e6)


def _file_read(size: int) -> Callable[[], Any]:
    handle = tempfile.TemporaryFile(buffering=0)
    handle.write(os.urandom(1 << 20) * max(1, size >> 20))
    buffer = memoryview(bytearray(1 << 22))

    def read() -> int:
        handle.seek(0)
        got = 0
        while count := handle.readinto(buffer):  # into one buffer: no allocation per chunk
            got += count
        return got

    read.keep = handle  # type: ignore[attr-defined]  # the file lives as long as the call
    return read


def _socket_wait(us: int) -> Callable[[], Any]:
    def wait() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            udp.settimeout(us / 1e6)
            try:
                udp.recv(1)  # nothing is sent: a blocking wait for a datagram that never comes
            except TimeoutError:
                pass

    return wait


def _hash(size: int) -> Callable[[], Any]:
    data = os.urandom(size)
    return lambda: hashlib.sha256(data).digest()


def _compress(size: int) -> Callable[[], Any]:
    data = os.urandom(size // 2) + bytes(size // 2)  # half noise, half zeros
    return lambda: zlib.compress(data, 6)


def _numpy_add(size: int) -> Callable[[], Any]:
    import numpy

    a, b = numpy.ones(size), numpy.ones(size)
    out = numpy.empty(size)
    return lambda: numpy.add(a, b, out=out)


def _numpy_matmul(size: int) -> Callable[[], Any]:
    import numpy

    a = numpy.random.default_rng(0).random((size, size))
    return lambda: a @ a


def _numpy_tiny(count: int) -> Callable[[], Any]:
    import numpy

    a, b = numpy.ones(4), numpy.ones(4)

    def loop() -> None:
        for _ in range(count):
            a + b

    return loop


def _python_loop(count: int) -> Callable[[], Any]:
    def loop() -> int:
        total = 0
        for i in range(count):
            total += i
        return total

    return loop


def _builtin_sum(count: int) -> Callable[[], Any]:
    return lambda: sum(range(count))


def _burn(kernel: str) -> Callable[[int], Callable[[], Any]]:
    def build(n: int) -> Callable[[], Any]:
        burn = registry.burn_of(kernel)
        return lambda: burn(n)

    return build


OPERATIONS: list[Operation] = [
    Operation("time.sleep", "time.sleep(t)", _sleep, 0, scales=False),
    Operation("socket wait", "recv on a UDP socket until its timeout", _socket_wait, 0, scales=False),
    Operation("file read", "os.read of a temporary file (page cache)", _file_read, 1 << 22),
    Operation("hashlib.sha256", "sha256 of a large bytes buffer", _hash, 1 << 20),
    Operation("zlib.compress", "zlib.compress, level 6, of a large buffer", _compress, 1 << 19),
    Operation("numpy add (large)", "numpy.add of two large float64 arrays", _numpy_add, 1 << 20),
    Operation("numpy matmul (BLAS)", "a @ a, float64 square matrix, BLAS on 1 thread", _numpy_matmul, 100),
    Operation("numpy add (tiny)", "a loop of numpy additions of 4-element arrays", _numpy_tiny, 2000),
    Operation("python loop", "a pure-Python for loop summing integers", _python_loop, 20000),
    Operation("builtin sum(range)", "sum(range(k)): one long C call", _builtin_sum, 100000),
]
_KERNEL_OPS = [
    Operation(f"fastfib {kernel}", f"burn(n) on {kernel}", _burn(kernel), 0, scales=False)
    for kernel in ("cython-gil", "cython-nogil")
]


def operations() -> list[Operation]:
    """Every operation available here (the fastfib kernels when the extension is built)."""
    return OPERATIONS + [op for op in _KERNEL_OPS if op.name.split()[1] in registry.names()]


def _best(call: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def sized(op: Operation, target_s: float) -> tuple[int, Callable[[], Any]]:
    """(size, call) with one call taking about ``target_s``."""
    if op.name.startswith("fastfib "):
        n = calibrate(op.name.split()[1], target_s).n
        return n, op.build(n)
    if not op.scales:
        return int(target_s * 1e6), op.build(int(target_s * 1e6))
    size = op.base
    for _ in range(4):  # scale linearly, twice over, from the base size's cost
        took = _best(op.build(size), 2)
        if abs(took / target_s - 1) < 0.2:
            break
        exponent = 1 / 3 if op.name.endswith("(BLAS)") else 1.0  # matmul costs size ** 3
        size = max(1, int(size * (target_s / took) ** exponent))
    return size, op.build(size)


def _pinned_blas() -> contextlib.AbstractContextManager[Any]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the measurement still runs; the report says so
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _stall_ms(call: Callable[[], Any], switch_interval_s: float | None = None) -> tuple[float, float]:
    """(the call's seconds, the longest heartbeat stall during it in ms)."""
    old = sys.getswitchinterval()
    try:
        with measure.Heartbeat() as beat:
            time.sleep(0.003)  # let the heartbeat get going
            if switch_interval_s is not None:
                sys.setswitchinterval(switch_interval_s)
            start = time.perf_counter()
            call()
            end = time.perf_counter()
            sys.setswitchinterval(old)
    finally:
        sys.setswitchinterval(old)
    return end - start, beat.max_stall_ms(start, end)


def measure_operation(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    """One call's time, its heartbeat stall (at the usual switch interval, and at one far
    longer than the call), and the 2-thread speedup (medians of ``repeats``)."""
    calls, stalls, long_stalls, short_stalls, sequential, parallel, fractions = [], [], [], [], [], [], []

    def worker(barrier: threading.Barrier) -> None:
        barrier.wait()
        call()

    for _ in range(repeats):
        took, stall = _stall_ms(call)
        calls.append(took)
        stalls.append(stall)
        long_stalls.append(_stall_ms(call, max(1.0, 20 * took))[1] / (1000 * took))
        with GilWatch(switch_interval_s=max(1.0, 20 * took)) as watch:  # the verdict's instrument, as probe's
            with watch.call():
                call()
            start, end = watch.windows[-1]
            watch.control(end - start)  # the same heartbeat beside a call that releases throughout
        fractions.append(watch.released_fraction())
        short_stalls.append(_stall_ms(call, SHORT_INTERVAL_S)[1] / (1000 * took))
        start = time.perf_counter()
        call()
        call()
        sequential.append(time.perf_counter() - start)
        barrier = threading.Barrier(3)
        parallel.append(start_together([threading.Thread(target=worker, args=(barrier,)) for _ in range(2)], barrier))
    call_ms = 1000 * statistics.median(calls)
    return {"call_ms": call_ms, "stall_ms": statistics.median(stalls), "least_stall_ms": min(stalls),
            "held_share": min(long_stalls),  # least stall / call, switch interval far past the call
            "held_share_short": min(short_stalls),  # the same at a 0.5 ms switch interval
            # the heartbeat's rate beside the call over its rate beside a releasing control, at the long
            # interval: a busy machine slows both alike, so this decides (see fastfib.measure.probing.GilWatch)
            "released_fraction": max(fractions),
            "speedup": statistics.median(sequential) / statistics.median(parallel)}


def classify(held_share: float, held_share_short: float, switch_interval_ms: float,
             released_fraction: float | None = None) -> tuple[bool, str]:
    """(releases the GIL?, why). With ``released_fraction`` (the heartbeat's rate beside the
    call over its rate beside a releasing control, switch interval far past the call), that
    decides: 0.5 or more releases. Without it, the heartbeat's longest stall over the call's
    length does: ``held_share`` at that long interval (under 0.5 only if the call released
    the GIL -- but a busy machine can starve the heartbeat too). ``held_share_short`` at a
    0.5 ms switch interval tells bytecode (handed over that often) from a C call that holds it."""
    releases = held_share < 0.5 if released_fraction is None else released_fraction >= 0.5
    if releases:
        return True, "yes: the heartbeat kept ticking"
    if held_share_short >= 0.5:
        return False, "no: held for the whole call"
    return False, f"no: bytecode, handed over every switch interval ({switch_interval_ms:g} ms)"


def run(*, target_ms: float, repeats: int, only: Sequence[str] | None = None,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Every operation; a JSON-ready dict with a one-sentence ``finding``."""
    chosen = [op for op in operations() if only is None or op.name in only]
    interval_ms = 1000 * sys.getswitchinterval()
    rows = []
    with _pinned_blas():
        for done, op in enumerate(chosen):
            progress(f"{op.name}: sizing", done, len(chosen))
            size, call = sized(op, target_ms / 1000)
            call()  # warm
            progress(f"{op.name}: {repeats} repeats", done, len(chosen))
            figures = measure_operation(call, repeats)
            # The least of the repeats decides: a busy machine can only lengthen a stall.
            releases, why = classify(figures["held_share"], figures["held_share_short"], interval_ms,
                                     figures["released_fraction"])
            rows.append({"operation": op.name, "what": op.what, "size": size, **figures,
                         "releases_gil": releases, "verdict": why})
    progress("done", len(chosen), len(chosen))
    try:
        import threadpoolctl  # noqa: F401

        pinned = True
    except ImportError:
        pinned = False
    return {"settings": {"target_ms": target_ms, "repeats": repeats, "switch_interval_ms": interval_ms,
                         "blas_pinned_to_one_thread": pinned}, "rows": rows, "finding": finding(rows)}


def finding(rows: list[dict[str, Any]]) -> str:
    yes = [r for r in rows if r["releases_gil"]]
    no = [r for r in rows if not r["releases_gil"]]

    def named(group: list[dict[str, Any]]) -> str:
        return ", ".join(f"{r['operation']} ({r['least_stall_ms']:.1f} ms, {r['speedup']:.2f}×)" for r in group)

    if not gil.gil_enabled():  # the heartbeat tells whether others ran, not why: here nothing holds them back
        return (f"With no GIL here (free-threaded build), other threads ran beside (least heartbeat stall; "
                f"2-thread speedup): {named(yes) or 'none'}; stopped them: {named(no) or 'none'}.")
    return (f"Released the GIL (least heartbeat stall; 2-thread speedup): {named(yes) or 'none'}; "
            f"held it: {named(no) or 'none'}.")


def format_text(result: dict[str, Any]) -> str:
    header = ["operation", "one call ms", "stall ms (least)", "stall/call, long interval", "2 threads",
              "releases the GIL?"]
    body = [[r["operation"], f"{r['call_ms']:.1f}", f"{r['stall_ms']:.1f} ({r['least_stall_ms']:.1f})",
             f"{r['held_share']:.2f}",
             f"{r['speedup']:.2f}×", r["verdict"]]
            for r in result["rows"]]
    s = result["settings"]
    notes = [f"stall = longest gap of a 1 ms heartbeat thread beside one call, median (least) of the repeats;\n"
             "stall/call, long interval = the least stall over the call with the switch interval far past the "
             "call: under 0.5 only if the call releases the GIL (the verdict; at a 0.5 ms interval it tells "
             "bytecode from a C call).\n2 threads = 2 calls one after the other / 2 calls on 2 "
             f"threads together; switch interval {s['switch_interval_ms']:g} ms.",
             "Releasing is necessary for a speedup, not sufficient: sleeps and waits overlap on any core count, "
             "computing needs a second core."]
    if not s["blas_pinned_to_one_thread"]:
        notes.append("threadpoolctl is not installed: numpy's BLAS was not pinned to one thread.")
    return grid(header, body, left=1) + "\n\n" + "\n".join(notes)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    only = names(settings.only, [op.name for op in operations()], "operation") if settings.only else None
    return run(target_ms=settings.target_ms, repeats=settings.repeats, only=only, progress=progress)


EXPERIMENT = Experiment(
    name="release", help="which library calls release the GIL: a yes/no table with the numbers", description=__doc__,
    examples=("fastfib lab release --only 'time.sleep,hashlib.sha256,python loop'",),
    options=(
        Option("--target-ms", "length of one call", default="25", quick="15", number=float),
        Option("--repeats", "repeats", default="5", quick="3", number=int),
        Option("--only", "comma-separated operations: " + ", ".join(op.name for op in operations())),
    ),
    run=_run, format_text=format_text,
    readme=("which library calls release the GIL",
            "Sleeps, socket waits, file reads, hashlib, zlib, large numpy operations and the nogil kernel "
            "release the GIL; Python loops hand it over every switch interval, and a C call that holds it "
            "(builtin `sum`, the GIL kernel) blocks every other thread for the whole call."),
)
