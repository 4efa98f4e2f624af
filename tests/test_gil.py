"""GIL behaviour, tested by what the GIL makes certain rather than by timing.

A heartbeat thread ticks every millisecond. While the main thread is inside one
long call of a kernel that holds the GIL, the heartbeat cannot run at all; while
it is inside the nogil kernel, the heartbeat keeps ticking. The tests look at
the ticks inside the call's window -- how many, and the longest stretch
without one -- so a slow or loaded machine changes the counts but not the
verdict.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time

import pytest

import fastfib
from fastfib import registry, technologies
from helpers import BURN_KERNEL_NAMES, KERNEL_NAMES, Heartbeat, needs_gil, needs_no_gil, oracle, run_together

F = oracle(200)

# The C kernel pairs of every technology built here (Cython, the C API, pybind11, nanobind, PyO3):
# each technology's -gil kernel must stop the heartbeat, its -nogil kernel must let it tick.
HOLDING = [f"{t.family}-gil" for t in technologies.TECHNOLOGIES if f"{t.family}-gil" in registry.KERNELS]
RELEASING = [f"{t.family}-nogil" for t in technologies.TECHNOLOGIES if f"{t.family}-nogil" in registry.KERNELS]


def _long_n(kernel: str) -> int:
    """An n whose burn takes >= 0.2 s on this machine (sizing, not a test)."""
    n = 36
    while True:
        start = time.perf_counter()
        fastfib.burn(n, kernel=kernel)
        if time.perf_counter() - start >= 0.2 or n >= 50:
            return n
        n += 1


def _ticks_during_one_call(kernel: str) -> tuple[int, float, float]:
    """(ticks, longest stretch without a tick, whole window), both in seconds, around one long burn."""
    n = _long_n(kernel)
    with Heartbeat() as heart:
        start = time.perf_counter()
        result = fastfib.burn(n, kernel=kernel)
        end = time.perf_counter()
    assert result == F[n]
    return heart.ticks_between(start, end), heart.longest_gap(start, end), end - start


@pytest.mark.timeout(120)
@needs_gil
@pytest.mark.parametrize("holding", HOLDING)
def test_gil_holding_call_stops_every_other_python_thread(holding):
    ticks, gap, window = _ticks_during_one_call(holding)
    # The C call holds the GIL from start to end: the heartbeat cannot tick anywhere inside
    # it, so one tick-less stretch spans all of it. A few ticks can slip into the Python code
    # on either side (a forced switch there, and on a loaded machine the main thread may wait
    # a while for the GIL back), never into the call: that stretch stays most of the window.
    # (A released GIL lets the heartbeat tick every millisecond: stretches of ~1 ms.)
    assert gap > window / 2, (f"heartbeat ticked {ticks} times during a {1000 * window:.0f} ms GIL-holding "
                              f"call; its longest silence was only {1000 * gap:.1f} ms")


@pytest.mark.timeout(120)
@needs_no_gil
@pytest.mark.parametrize("holding", HOLDING)
def test_without_a_gil_the_gil_holding_call_lets_other_threads_run(holding):
    ticks, _, window = _ticks_during_one_call(holding)
    # The same C call that stops the heartbeat under a GIL: here nothing holds it back.
    assert ticks > 2, f"heartbeat ticked only {ticks} times during a {1000 * window:.0f} ms call with no GIL"


def _second_thread_ran_while_this_one_spun(limit_s: float) -> bool:
    """Spin in pure Python (never blocking, never calling anything that releases a GIL)
    for up to ``limit_s`` while a second pure-Python thread, woken just before, tries to
    mark that it ran. The switch interval is pushed far past ``limit_s`` first, so under
    a GIL this thread never hands it over: the other one cannot run until the spin ends."""
    started, go = threading.Event(), threading.Event()
    ran: list[bool] = []

    def other() -> None:
        started.set()
        go.wait()
        ran.append(True)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    thread = threading.Thread(target=other, daemon=True)
    try:
        thread.start()
        started.wait()
        go.set()
        deadline = time.perf_counter() + limit_s
        while not ran and time.perf_counter() < deadline:
            pass
        seen = bool(ran)
    finally:
        sys.setswitchinterval(interval)
        thread.join()
    return seen


@pytest.mark.timeout(120)
@needs_gil
def test_under_the_gil_pure_python_threads_take_turns():
    assert not _second_thread_ran_while_this_one_spun(0.3), "a second thread ran while this one held the GIL"


@pytest.mark.timeout(120)
@needs_no_gil
def test_without_a_gil_pure_python_threads_overlap():
    # Only the failure path waits the 30 s: a loaded machine delays the other thread, never stops it.
    assert _second_thread_ran_while_this_one_spun(30), "the other thread never ran while this one spun"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("releasing", RELEASING)
def test_nogil_call_lets_other_python_threads_run(releasing):
    ticks, _, window = _ticks_during_one_call(releasing)
    # ~1 tick per ms is expected; a loaded machine gets fewer, never <= 2.
    assert ticks > 2, f"heartbeat ticked only {ticks} times during a {1000 * window:.0f} ms nogil call"


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("no_unraisable")
def test_sixteen_threads_get_exact_results_and_exact_errors():
    def work(index: int, failures: list[str]) -> None:
        for _ in range(10):
            check_every_kernel(index, failures)

    def check_every_kernel(index: int, failures: list[str]) -> None:
        for name in KERNEL_NAMES:
            top = 93 if name != "numpy" else 60  # numpy's object path is slower
            for n in range(index % 3, top + 1, 3):
                if fastfib.fib(n, kernel=name) != F[n]:
                    failures.append(f"{name}: fib({n}) wrong")
            if name in BURN_KERNEL_NAMES and fastfib.burn(12 + index % 5, kernel=name) != F[12 + index % 5]:
                failures.append(f"{name}: burn wrong")
            for bad, error in ((-1, ValueError), (2.5, TypeError), (True, TypeError)):
                try:
                    fastfib.fib(bad, kernel=name)
                except error:
                    pass
                except BaseException as exc:  # noqa: BLE001 - report anything else
                    failures.append(f"{name}: fib({bad!r}) raised {exc!r}")
                else:
                    failures.append(f"{name}: fib({bad!r}) did not raise")

    assert run_together(16, work) == []


@pytest.mark.parametrize("technology", technologies.TECHNOLOGIES, ids=lambda t: t.family)
def test_inside_with_nogil_no_thread_state_is_attached(technology):
    # Each module's probe runs its own release (`with nogil:`, Py_BEGIN_ALLOW_THREADS,
    # gil_scoped_release, py.detach) and reads the thread state inside it.
    if f"{technology.family}-nogil" not in registry.KERNELS:
        pytest.skip(registry.UNAVAILABLE.get(f"{technology.family}-nogil", "not built"))
    module = importlib.import_module(technology.module)
    # No other thread may run here: before 3.12 the probe reads a process-wide value.
    assert threading.active_count() == 1
    assert module._thread_state_attached() == (True, False)
