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

# Above this n, auto prefers the pure-Python fast doubling (no fixed width).
_AUTO_FAST = ("cython-gil", "python")


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
        for name in _AUTO_FAST:
            chosen = _registry.KERNELS.get(name)
            if chosen is not None and (chosen.max_n is None or value <= chosen.max_n):
                return chosen.fib(value)
    return _registry.get(kernel).fib(n)


def burn(n: object, *, kernel: str) -> int:
    """F(n) by naive double recursion on ``kernel``: the lab's CPU workload (~phi**n calls)."""
    return _registry.get(kernel).burn(n)
