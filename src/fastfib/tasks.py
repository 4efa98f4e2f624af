"""One task of the lab's measurements: what it computes, how it is checked, how big it is.

A task is one call of a kernel's workload -- burn(n), F(n) by naive recursion,
or for a kernel with no burn (gmp) exact F(n) at big n. :func:`burn_task` runs
one and lives in an importable module so that process and interpreter pools
can run it; :func:`oracle` is the independent answer every result is checked
against; :func:`calibrate` picks n per kernel so one task costs about the same
(``--target-ms``) on every kernel.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastfib import pure, registry

__all__ = ["PHI", "Calibration", "burn_task", "calibrate", "oracle", "task_cost", "unavailable_kernels"]

PHI = (1 + 5 ** 0.5) / 2  # burn(n) costs about PHI ** n calls


@functools.lru_cache(maxsize=16)
def oracle(n: int) -> int:
    """F(n) by the pure-Python fast doubling: exact, and independent of every burn kernel.
    (Cached: at the big n of a fib workload it costs up to a second.)"""
    return pure.fib(n)


def burn_task(kernel: str, n: int) -> int:
    """One task of ``kernel``'s workload: F(n) by naive recursion -- or, for a kernel
    with no burn (gmp), exact F(n) at big n. Importable, so processes can run it."""
    chosen = registry.get(kernel)
    return (chosen.burn or chosen.fib)(n)


def unavailable_kernels(kernels: Sequence[str]) -> dict[str, str]:
    """Run on a worker: which of ``kernels`` cannot load there, each with one line saying why.

    A worker in another interpreter (a subinterpreter, a process) loads kernels
    of its own: numpy refuses an own-GIL subinterpreter, say. Lazily imported
    kernels (numba's, numpy's) are loaded now to find out.
    """
    missing = {}
    for name in kernels:
        why = registry.probe(name)
        if why:
            missing[name] = _first_cause(why)
    return missing


def _first_cause(why: str) -> str:
    """One line of a long import error (numpy's is a page): the line that names the cause."""
    lines = [line.strip() for line in why.splitlines() if line.strip()]
    for line in lines:
        if "subinterpreter" in line:
            return line.removeprefix("Original error was: ")
    return lines[0] if lines else why


@dataclass(frozen=True)
class Calibration:
    kernel: str
    n: int  # burn(n) is one task
    task_s: float  # its measured cost here, in seconds (best of a few)


def _best_time(burn: Callable[[int], int], n: int, budget_s: float = 0.003) -> float:
    """The best of a few timings of burn(n): enough repeats to fill ``budget_s``, 3 to 200."""
    best = math.inf
    spent, count = 0.0, 0
    while count < 3 or (spent < budget_s and count < 200):
        start = time.perf_counter()
        burn(n)
        took = time.perf_counter() - start
        best, spent, count = min(best, took), spent + took, count + 1
    return best


def task_cost(kernel: str, n: int) -> float:
    """What one task (see burn_task) of ``kernel`` at ``n`` costs here: the best of a few runs."""
    chosen = registry.get(kernel)
    return _best_time(chosen.burn or chosen.fib, n)


def _calibrate_fib(kernel: str, target_s: float) -> Calibration:
    """For a fib workload: cost grows a little faster than n, so double n, then interpolate."""
    fib = registry.get(kernel).fib
    n, took = 10_000, _best_time(fib, 10_000)
    while took < target_s / 2:
        n, took = 2 * n, _best_time(fib, 2 * n)
    n = max(1, int(n * (target_s / took) ** (1 / 1.1)))
    return Calibration(kernel, n, _best_time(fib, n))


def calibrate(kernel: str, target_s: float) -> Calibration:
    """The n whose task (see burn_task) on ``kernel`` takes closest to ``target_s`` here.

    Burn cost grows by about PHI per step of n, so the chosen task lands within
    about 25 % of the target; the row records the cost actually measured.
    """
    burn = registry.get(kernel).burn
    if burn is None:
        return _calibrate_fib(kernel, target_s)
    max_n = registry.get(kernel).max_n or 200
    n, took = 8, _best_time(burn, 8)
    while took < target_s and n < max_n:
        # Jump most of the way in one step (small n are dominated by call overhead).
        step = max(1, int(0.8 * math.log(target_s / took, PHI)))
        n = min(n + step, max_n)
        took = _best_time(burn, n)
    if n > 1:
        below = _best_time(burn, n - 1)
        if abs(math.log(below / target_s)) < abs(math.log(took / target_s)):
            n, took = n - 1, below
    return Calibration(kernel, n, took)
