"""The numba kernels: the same exact work, compiled by numba's JIT, holding the GIL or not.

``numba-gil`` and ``numba-nogil`` differ in one flag, ``@njit(nogil=True)``: with
it, numba drops the GIL on entry to the compiled function and takes it back on
return, as Cython's ``with nogil:`` does around the C call. The bodies are
identical on purpose, as in ``_kernels.pyx``: the diff is the lesson.

The contract is every kernel's: :func:`fastfib._args.check_n` validates ``n``
in Python-object space *before* anything reaches the jitted code (numba would
convert 3.9 or True on its own), so errors match the other kernels exactly;
the range is uint64's (F(93) is the last Fibonacci number that fits), so past
93 it is OverflowError. Inside, no operation can wrap: ``burn`` adds two
smaller Fibonacci numbers, and ``fib`` is a loop that stops *at* F(n) (a fast
doubling or a loop run to F(n + 1) would compute F(94), which wraps silently
in uint64).

Import compiles all four functions (the explicit signature makes numba compile
eagerly, so no task ever pays for the JIT); ``cache=True`` keeps the machine
code in ``__pycache__``, so later imports load it instead of compiling again.
Importing numba itself costs about half a second, which is why it is an
optional extra (``pip install 'fastfib[numba]'``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from fastfib._args import U64_MAX_N, check_n

__all__ = ["burn_gil", "burn_nogil", "fib_gil", "fib_nogil"]

SIGNATURE = types.uint64(types.int64)  # n (already checked: 0 <= n <= 93) -> F(n)


# --- the jitted bodies: each pair identical but for nogil ----------------------------------

@njit(SIGNATURE, nogil=False, cache=True)
def _burn_gil(n):
    if n < 2:
        return np.uint64(n)
    return _burn_gil(n - 1) + _burn_gil(n - 2)


@njit(SIGNATURE, nogil=True, cache=True)
def _burn_nogil(n):
    if n < 2:
        return np.uint64(n)
    return _burn_nogil(n - 1) + _burn_nogil(n - 2)


@njit(SIGNATURE, nogil=False, cache=True)
def _fib_gil(n):
    if n < 2:
        return np.uint64(n)
    a, b = np.uint64(0), np.uint64(1)
    for _ in range(n - 1):  # b reaches F(n) and stops: nothing past F(93) is ever computed
        a, b = b, a + b
    return b


@njit(SIGNATURE, nogil=True, cache=True)
def _fib_nogil(n):
    if n < 2:
        return np.uint64(n)
    a, b = np.uint64(0), np.uint64(1)
    for _ in range(n - 1):
        a, b = b, a + b
    return b


# --- the Python surface: validate, then call the compiled code ------------------------------

def fib_gil(n: object) -> int:
    """F(n) exactly, in uint64, by numba-compiled code holding the GIL (n <= 93)."""
    return int(_fib_gil(check_n(n, "numba-gil", U64_MAX_N)))


def fib_nogil(n: object) -> int:
    """F(n) exactly, in uint64, by numba-compiled code with the GIL released (n <= 93)."""
    return int(_fib_nogil(check_n(n, "numba-nogil", U64_MAX_N)))


def burn_gil(n: object) -> int:
    """F(n) by naive recursion, numba-compiled, holding the GIL: no other thread runs."""
    return int(_burn_gil(check_n(n, "numba-gil", U64_MAX_N)))


def burn_nogil(n: object) -> int:
    """F(n) by naive recursion, numba-compiled, with the GIL released: threads scale."""
    return int(_burn_nogil(check_n(n, "numba-nogil", U64_MAX_N)))
