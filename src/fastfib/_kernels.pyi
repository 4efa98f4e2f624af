# Type stubs for the compiled module built from _kernels.pyx (a type checker
# cannot read a .so). Keep in step with the .pyx: one line per public name.
#
# Every function takes any integer-like `n` (int, or an object with
# __index__; never bool) and raises TypeError for a non-integer, ValueError
# for n < 0 and OverflowError for n > MAX_N, before any C code runs.

from collections.abc import Iterable
from typing import Final, SupportsIndex

MAX_N: Final[int]
"""93: the largest n whose F(n) fits in a uint64 (F(93) = 12200160415121876738)."""

BUILD_INFO: Final[dict[str, str]]
"""Build facts for `fastfib info`: "cython_version" and "cflags"."""

def fib_gil(n: SupportsIndex) -> int:
    """F(n) exactly, by fast doubling in C, holding the GIL (n <= 93)."""

def fib_nogil(n: SupportsIndex) -> int:
    """F(n) exactly, by fast doubling in C, with the GIL released (n <= 93)."""

class CancelToken:
    """Asks a running burn to stop: call set() from any thread."""

    @property
    def reason(self) -> BaseException | None: ...
    @property
    def is_set(self) -> bool: ...
    def set(self, reason: BaseException | None = None) -> None:
        """Ask the burn using this token to stop and raise ``reason`` (default KeyboardInterrupt);
        a token already set keeps its first reason."""

def burn_gil(n: SupportsIndex, cancel: CancelToken | None = None) -> int:
    """F(n) by naive recursion in C, holding the GIL: no other thread runs."""

def burn_nogil(n: SupportsIndex, cancel: CancelToken | None = None) -> int:
    """F(n) by naive recursion in C, with the GIL released: threads scale."""

def burn_many_gil(ns: Iterable[SupportsIndex]) -> list[int]:
    """[burn(n) for n in ns] in one C call, holding the GIL throughout."""

def burn_many_nogil(ns: Iterable[SupportsIndex]) -> list[int]:
    """[burn(n) for n in ns] in one C call, the GIL released once for the whole batch."""

def fib_many_gil(ns: Iterable[SupportsIndex]) -> list[int]:
    """[fib(n) for n in ns] in one C call, holding the GIL throughout."""

def fib_many_nogil(ns: Iterable[SupportsIndex]) -> list[int]:
    """[fib(n) for n in ns] in one C call, the GIL released once for the whole batch."""

def _thread_state_attached() -> tuple[bool, bool]:
    """(outside, inside) a `with nogil:` block: is a thread state attached? For the tests."""
