"""Task functions for the benchmarks: importable, so process pools can run them too."""

from __future__ import annotations

import fastfib


def big_fib(kernel: str, n: int) -> int:
    """F(n) on a fastfib kernel, or on gmpy2 (which holds the GIL) when kernel == "gmpy2"."""
    if kernel == "gmpy2":
        import gmpy2

        return int(gmpy2.fib(n))
    return fastfib.fib(n, kernel=kernel)
