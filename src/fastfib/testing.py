"""GIL assertions for other projects' test suites: does this call release the GIL?

    from fastfib.testing import assert_holds_gil, assert_releases_gil

    def test_compress_releases_the_gil():
        assert_releases_gil(mylib.compress, big_buffer)

    def test_tiny_call_holds_it():
        assert_holds_gil(mylib.checksum, b"abc")

Plain functions: they work under pytest, unittest or none. No timing
threshold decides them, so they pass on a loaded machine: a heartbeat thread
runs beside the calls with the switch interval raised far past them, so the
interpreter never hands the GIL over by itself, and the heartbeat can run only
while the call has released the GIL. One tick inside a call proves a release;
none in calls totalling ``min_seconds`` proves it is held. On a free-threaded
build with the GIL disabled there is nothing to hold: ``assert_releases_gil``
passes and ``assert_holds_gil`` skips (``unittest.SkipTest``, which pytest
reports as a skip).
"""

from __future__ import annotations

import time
import unittest
from collections.abc import Callable
from typing import Any

from fastfib import environment
from fastfib.gil_imports_testing import assert_gil_stays_disabled, gil_reenabling_modules
from fastfib.measure.gilwatch import GilWatch

__all__ = ["assert_gil_stays_disabled", "assert_holds_gil", "assert_releases_gil", "gil_reenabling_modules"]


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def assert_releases_gil(fn: Callable[..., Any], *args: Any, max_seconds: float = 10.0, **kwargs: Any) -> None:
    """Fail unless ``fn(*args, **kwargs)`` lets another Python thread run while it is called.

    Calls it again and again until the heartbeat has ticked inside a call, for at
    most ``max_seconds`` (on a loaded machine the heartbeat may need a few calls).
    """
    if not environment.gil_enabled():
        return  # free-threaded, GIL disabled: no call holds other threads back
    calls, deadline = 0, time.perf_counter() + max_seconds
    with GilWatch() as watch:
        while time.perf_counter() < deadline or calls == 0:
            with watch.call():
                fn(*args, **kwargs)
            calls += 1
            if watch.ticks_inside():
                return
        stall = watch.longest_stall_ms()
    raise AssertionError(
        f"{_name(fn)} held the GIL: no other Python thread ran during any of its {calls} calls "
        f"({watch.called_s():.3g} s in all; longest heartbeat stall {stall:.1f} ms)")


def assert_holds_gil(fn: Callable[..., Any], *args: Any, min_seconds: float = 0.05, min_calls: int = 3,
                     **kwargs: Any) -> None:
    """Fail if ``fn(*args, **kwargs)`` lets another Python thread run while it is called,
    over at least ``min_calls`` calls and ``min_seconds`` of calls."""
    if not environment.gil_enabled():
        raise unittest.SkipTest("no GIL on this interpreter (free-threaded build, GIL disabled): nothing to hold")
    calls = 0
    with GilWatch() as watch:
        while calls < min_calls or watch.called_s() < min_seconds:
            with watch.call():
                fn(*args, **kwargs)
            calls += 1
        ticks = watch.ticks_inside()
    if ticks:
        raise AssertionError(
            f"{_name(fn)} released the GIL: another Python thread ran {ticks} time(s) during its {calls} calls "
            f"({watch.called_s():.3g} s in all), which only a release allows at a {watch.switch_interval_s:g} s "
            f"switch interval")


