# Type stubs for fastfib._pybind11, built from bindings/pybind11.cpp (pybind11): csrc/fib.c's kernels.
# Every function checks n with fastfib._args.check_n first (TypeError, ValueError, OverflowError).

MAX_N: int  # csrc/fib.h's FIB_U64_MAX_N: 93

def fib_gil(n: object) -> int: ...  # F(n) by fast doubling in C, holding the GIL
def fib_nogil(n: object) -> int: ...  # the same with the GIL released around the C call
def burn_gil(n: object) -> int: ...  # F(n) by naive recursion in C, holding the GIL
def burn_nogil(n: object) -> int: ...  # the same with the GIL released around the C call
def _thread_state_attached() -> tuple[bool, bool]: ...  # (outside, inside) the release: for the tests
