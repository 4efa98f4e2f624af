"""Stress: 32 threads, released together, hammer every kernel with valid and invalid input.

Every result must be exact, every error the documented type, and nothing may be
swallowed as "unraisable" -- errors are raised concurrently on every kernel.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import fastfib
from fastfib import registry
from helpers import oracle, run_together

THREADS = 32
CALLS = 10_000  # per thread and kernel
F = oracle(200)
BAD = [(True, TypeError), (2.5, TypeError), ("7", TypeError), (None, TypeError), (Decimal(3), TypeError),
       (-1, ValueError), (-(2**80), ValueError)]


def _inputs(kernel: registry.Kernel, index: int):
    """A deterministic mix per thread: mostly valid n, one call in 8 invalid."""
    top = 93 if kernel.max_n is None or kernel.max_n > 93 else kernel.max_n
    small = kernel.name == "numpy"  # its object-dtype matrix power is the slow one
    for call in range(CALLS if not small else CALLS // 10):
        if call % 8 == 7:
            yield BAD[(call + index) % len(BAD)]
        else:
            yield (call * 7 + index) % (top + 1), None


def _hammer(kernel: registry.Kernel, index: int, failures: list[str]) -> None:
    for n, error in _inputs(kernel, index):
        try:
            got = kernel.fib(n)
        except BaseException as exc:  # noqa: BLE001 - every outcome is checked
            if error is None or type(exc) is not error:
                failures.append(f"{kernel.name}: fib({n!r}) raised {exc!r}")
        else:
            if error is not None or got != F[n]:
                failures.append(f"{kernel.name}: fib({n!r}) returned {got!r}")
        if len(failures) > 20:
            return


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("no_unraisable")
@pytest.mark.parametrize("name", registry.names())
def test_thirty_two_threads_on_one_kernel(name):
    kernel = registry.get(name)
    assert run_together(THREADS, lambda index, failures: _hammer(kernel, index, failures)) == []


@pytest.mark.timeout(600)
@pytest.mark.usefixtures("no_unraisable")
def test_burns_on_every_kernel_at_once_with_cancellation():
    """Threads burn on every kernel together while others cancel nogil burns."""
    names = registry.burn_names()
    burners = [(name, i) for name in names for i in range(4)]

    def work(index: int, failures: list[str]) -> None:
        if index < len(burners):
            name, offset = burners[index]
            for n in range(10 + offset, 20 + offset):
                if (got := fastfib.burn(n, kernel=name)) != F[n]:
                    failures.append(f"{name}: burn({n}) = {got}")
        elif "cython-nogil" in names:  # the last two threads: cancelled burns
            for _ in range(20):
                try:
                    fastfib.burn(70, kernel="cython-nogil", timeout=0.01)
                except TimeoutError:
                    continue
                failures.append(f"canceller {index}: burn(70) returned")

    assert run_together(len(burners) + 2, work) == []
