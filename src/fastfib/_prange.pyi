# Type stubs for the compiled module built from _prange.pyx (present only when
# fastfib was built with OpenMP). Keep in step with the .pyx.

from collections.abc import Iterable
from typing import Final, SupportsIndex

MAX_N: Final[int]
"""93: F(93) is the last Fibonacci number in uint64."""
MAX_THREADS: Final[int]
"""The largest num_threads accepted."""

def max_threads() -> int:
    """omp_get_max_threads(): OpenMP's default team size here (OMP_NUM_THREADS)."""

def burn_many(ns: Iterable[SupportsIndex], num_threads: SupportsIndex | None = None) -> list[int]:
    """[burn(n) for n in ns], split across num_threads OpenMP threads (default: OpenMP's, at most usable cores)."""

def fib_many(ns: Iterable[SupportsIndex], num_threads: SupportsIndex | None = None) -> list[int]:
    """[fib(n) for n in ns], split across num_threads OpenMP threads (default: OpenMP's, at most usable cores)."""

def burn(n: SupportsIndex) -> int:
    """burn(n) alone (a batch of one: one OpenMP thread)."""

def fib(n: SupportsIndex) -> int:
    """F(n) exactly, the GIL released (a batch of one)."""
