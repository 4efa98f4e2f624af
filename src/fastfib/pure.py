"""The pure-Python twins of the C kernels: same results, same errors."""

from __future__ import annotations

from fastfib._args import check_n

__all__ = ["burn", "fib"]

KERNEL = "python"


def _burn(n: int) -> int:
    return n if n < 2 else _burn(n - 1) + _burn(n - 2)


def burn(n: object) -> int:
    """F(n) by naive double recursion: about phi**n Python calls."""
    return _burn(check_n(n, KERNEL, None))


def _fib_pair(n: int) -> tuple[int, int]:
    """(F(n), F(n+1)) by fast doubling on Python ints."""
    a, b = 0, 1
    for bit in bin(n)[2:]:
        # F(2k) = F(k) (2 F(k+1) - F(k));  F(2k+1) = F(k)^2 + F(k+1)^2
        a, b = a * (2 * b - a), a * a + b * b
        if bit == "1":
            a, b = b, a + b
    return a, b


def fib(n: object) -> int:
    """F(n) exactly for any n >= 0, by fast doubling: O(log n) big multiplications."""
    return _fib_pair(check_n(n, KERNEL, None))[0]
