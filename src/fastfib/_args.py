"""The argument check every kernel shares, so every kernel fails the same way.

It runs in Python-object space, before any conversion to a C integer: Cython's
own conversion would truncate ``3.9`` to 3 and accept ``True`` as 1.
"""

from __future__ import annotations

import operator

__all__ = ["U64_MAX_N", "check_n"]

# F(93) = 12200160415121876738 is the last Fibonacci number in uint64: the range of every
# uint64 kernel (numba's; the C kernels' is csrc/fib.h's FIB_U64_MAX_N, the same number).
U64_MAX_N = 93


def _shown(value: object) -> str:
    """A short repr for an error message (a huge int or str stays readable)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_n(n: object, kernel: str, max_n: int | None) -> int:
    """Return ``n`` as an exact ``int`` that ``kernel`` can compute F(n) for.

    Raises ``TypeError`` for anything that is not an integer (bools included),
    ``ValueError`` for n < 0, and ``OverflowError`` for n > ``max_n`` (``None``
    means unbounded). Objects with ``__index__`` (numpy integers, IntEnum
    members, int subclasses) are accepted.
    """
    # bool is an int subclass, but fib(True) is a bug in the caller, not F(1).
    # (numpy.bool_ has no __index__, so operator.index rejects it below.)
    if isinstance(n, bool):
        raise TypeError(f"n must be an integer, not bool ({n!r})")
    try:
        # __index__ is the "this really is an integer" protocol: float, Decimal
        # and Fraction lack it, so nothing is ever silently truncated.
        value = operator.index(n)  # type: ignore[arg-type]  # any object: its TypeError is the check
    except TypeError:
        raise TypeError(
            f"n must be an integer (int or an object with __index__), "
            f"not {type(n).__name__} ({_shown(n)})"
        ) from None
    # int.__index__ turns an int subclass into an exact int without calling
    # any method the subclass may have overridden.
    value = int.__index__(value)
    if value < 0:
        raise ValueError(f"n must be >= 0, got {_shown(value)}")
    if max_n is not None and value > max_n:
        raise OverflowError(
            f"kernel {kernel!r} computes F(n) only for n <= {max_n}, got n={_shown(value)}; "
            f"use kernel='python' or kernel='auto' for any n"
        )
    return value
