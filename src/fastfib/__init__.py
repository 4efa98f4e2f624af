"""fastfib: the GIL made visible, with the same exact Fibonacci work in pure
Python, numpy, and C called holding the GIL or inside ``with nogil:``.

>>> import fastfib
>>> fastfib.fib(100)
354224848179261915075
>>> fastfib.burn(20, kernel="cython-nogil")
6765
"""

from __future__ import annotations

from fastfib import registry as _registry
from fastfib._args import check_n as _check_n
from fastfib._version import __version__
from fastfib.registry import Kernel

__all__ = ["Kernel", "__version__", "burn", "fib", "kernels"]

# auto takes the first of these whose range covers n: C in uint64 up to 93,
# then GMP, then Python's own integers (always there, unbounded).
_AUTO_ORDER = ("cython-gil", "gmp", "python")


def kernels() -> list[Kernel]:
    """The kernels available here: ``.name``, ``.releases_gil``, ``.max_n``, ``.description``."""
    return list(_registry.KERNELS.values())


def fib(n: object, *, kernel: str = "auto") -> int:
    """F(n), exactly. ``kernel="auto"`` picks the fastest exact path for this n.

    Raises TypeError if n is not an integer (bools included), ValueError if
    n < 0 or the kernel is unknown, OverflowError if n is past the kernel's
    ``max_n``.
    """
    if kernel == "auto":
        value = _check_n(n, "auto", None)
        for name in _AUTO_ORDER:
            chosen = _registry.KERNELS.get(name)
            if chosen is not None and (chosen.max_n is None or value <= chosen.max_n):
                return chosen.fib(value)
    return _registry.get(kernel).fib(n)


def burn(n: object, *, kernel: str) -> int:
    """F(n) by naive double recursion on ``kernel``: the lab's CPU workload (~phi**n calls)."""
    chosen = _registry.get(kernel)
    if chosen.burn is None:
        raise ValueError(
            f"kernel {kernel!r} has no burn workload; burn kernels: {', '.join(_registry.burn_names())}"
        )
    return chosen.burn(n)
