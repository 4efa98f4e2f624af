# Type stubs for the compiled module built from _gmp.pyx (present only when
# fastfib was built with GMP). Keep in step with the .pyx.

from typing import Final, SupportsIndex

MAX_N: Final[int]
"""2**32 - 1: the largest n accepted (fits an unsigned long on every platform)."""
GMP_VERSION: Final[str]
"""The release of the GMP library the kernel runs on, e.g. "6.3.0" (docs/gmp.md: speed)."""

def fib_nogil(n: SupportsIndex) -> int:
    """F(n) exactly, by GMP's mpz_fib_ui with the GIL released.

    Raises TypeError, ValueError or OverflowError like every kernel, and
    MemoryError before any work when F(n) would not fit in available memory.
    """
