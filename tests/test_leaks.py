"""Leaks: a million calls per kernel, valid and invalid, leave memory and refcounts as they were."""

from __future__ import annotations

import enum
import gc
import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fastfib import registry
from fastfib.cancel import CancelToken
from helpers import rss_bytes


class Small(enum.IntEnum):
    N = 40


class MyInt(int):
    pass


def _calls(kernel: registry.Kernel) -> int:
    return 100_000 if kernel.name == "numpy" else 1_000_000  # numpy's object matrix power: ~15 us a call


def _exercise(kernel: registry.Kernel, rounds: int, args: list[object]) -> None:
    fib = kernel.fib
    for _ in range(rounds):
        for n in args:
            try:
                fib(n)
            except (TypeError, ValueError, OverflowError):
                pass


def _arguments(kernel: registry.Kernel) -> list[object]:
    # Objects that are not cached by the interpreter, so their refcounts mean something.
    valid = [MyInt(40), np.int64(40), Small.N, 40]
    invalid = [3.9, Decimal("7"), "7", MyInt(-3), -(10**40)]
    if kernel.max_n is not None and kernel.max_n < 10**6:
        invalid.append(MyInt(kernel.max_n + 1))
    return valid + invalid


@pytest.mark.timeout(600)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read RSS")
@pytest.mark.parametrize("name", registry.names())
def test_a_million_calls_leave_rss_and_refcounts_unchanged(name):
    kernel = registry.get(name)
    args = _arguments(kernel)
    rounds = _calls(kernel) // len(args)
    _exercise(kernel, 2000, args)  # warm every path and cache first
    gc.collect()
    refs = [sys.getrefcount(a) for a in args]
    rss = rss_bytes()
    _exercise(kernel, rounds, args)
    gc.collect()
    grown = rss_bytes() - rss
    assert [sys.getrefcount(a) for a in args] == refs
    print(f"\n{name}: {rounds * len(args)} calls, RSS {grown / 1024:+.0f} KiB")
    assert grown < 1 << 20, f"RSS grew {grown / 1024:.0f} KiB over {rounds * len(args)} calls"


@pytest.mark.timeout(600)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read RSS")
@pytest.mark.parametrize("name", registry.cancellable_names())
def test_burns_with_cancel_tokens_leave_rss_and_refcounts_unchanged(name):
    burn = registry.get(name).burn
    token, n, bad = CancelToken(), MyInt(5), MyInt(94)
    stopped = CancelToken()
    stopped.set(InterruptedError("stop"))

    def exercise(rounds: int) -> None:
        for _ in range(rounds):
            burn(n, cancel=token)
            for args in ((bad, token), (MyInt(30), stopped)):
                try:
                    burn(*args)
                except (OverflowError, InterruptedError):
                    pass

    exercise(1000)
    gc.collect()
    refs = [sys.getrefcount(x) for x in (token, stopped, n, bad, stopped.reason)]
    rss = rss_bytes()
    exercise(300_000)
    gc.collect()
    assert [sys.getrefcount(x) for x in (token, stopped, n, bad, stopped.reason)] == refs
    assert rss_bytes() - rss < 1 << 20


def _traced_growth(kernel: registry.Kernel, args: list[object], rounds: int) -> int:
    """Bytes tracemalloc sees more of after ``rounds`` more rounds (tracing must be on)."""
    gc.collect()
    before = tracemalloc.take_snapshot()
    _exercise(kernel, rounds, args)
    gc.collect()
    after = tracemalloc.take_snapshot()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", registry.names())
def test_tracemalloc_is_steady(name):
    # Two equal windows after a warm-up, and the smaller growth must stay under the bar: a leak per
    # call (64 KiB over 20,000 calls is 3.3 bytes a call) grows in both windows, a one-off allocation
    # (a lazily filled cache, memory whose free is deferred) in one at most. Why two: pybind11-gil and
    # -nogil once grew 72-76 KB in one window in a loaded full run on 3.13t and passed alone. Then
    # each call imported fastfib._args; measured alone on 3.13t, that build showed ~2.3 KB in its
    # first traced window (~196 blocks of ~65 B held at the call) and nothing after, i.e. no growth
    # per call. The full run's bigger one-off was not reproduced; on free-threaded CPython memory
    # freed while other threads lag can stay allocated until they pass a quiescent point (QSBR).
    kernel = registry.get(name)
    args = _arguments(kernel)
    _exercise(kernel, 500, args)
    tracemalloc.start()
    try:
        _exercise(kernel, 200, args)
        grown = [_traced_growth(kernel, args, 2000) for _ in range(2)]
    finally:
        tracemalloc.stop()
    calls = 2000 * len(args)
    print(f"\n{name}: traced memory grew {grown} bytes in two windows of {calls} calls")
    assert min(grown) < 64 * 1024, f"{name}: traced memory grew {grown} bytes in two windows of {calls} calls"
