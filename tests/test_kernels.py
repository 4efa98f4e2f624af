"""Every kernel returns the exact F(n) or raises the documented error."""

from __future__ import annotations

import enum
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastfib
from fastfib import numpy_kernels
from fastfib._args import U64_MAX_N
from helpers import BURN_KERNEL_NAMES, KERNEL_NAMES, oracle

F = oracle(2001)
F93 = 12200160415121876738


def test_all_four_kernels_are_built():
    assert {"python", "numpy", "cython-gil", "cython-nogil"} <= set(KERNEL_NAMES)


def test_kernel_records():
    by_name = {k.name: k for k in fastfib.kernels()}
    assert by_name["cython-nogil"].releases_gil is True
    assert by_name["cython-gil"].releases_gil is False
    assert by_name["python"].releases_gil is False
    assert by_name["cython-gil"].max_n == by_name["cython-nogil"].max_n == 93
    assert by_name["python"].max_n is None and by_name["numpy"].max_n is None
    assert all(k.description for k in by_name.values())


def test_the_uint64_range_is_the_c_headers():
    # FIB_U64_MAX_N in csrc/fib.h, as the extension exposes it; numba's kernels take the same.
    from fastfib import _kernels

    assert _kernels.MAX_N == U64_MAX_N == 93


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_numpy_is_imported_on_the_numpy_kernels_first_call():
    assert _fresh("import sys, fastfib\n"
                  "print('numpy' in sys.modules, fastfib.fib(10, kernel='numpy'), 'numpy' in sys.modules)"
                  ) == "False 55 True\n"


def test_without_numpy_its_kernel_is_listed_as_unavailable():
    out = _fresh("import sys; sys.modules['numpy'] = None\n"
                 "from fastfib import registry\n"
                 "print('numpy' in registry.KERNELS, registry.UNAVAILABLE['numpy'])")
    assert out == "False numpy is not installed (pip install numpy)\n"


# --- exact values -----------------------------------------------------------

def _unbounded(kernel) -> bool:
    return kernel.max_n is None or kernel.max_n > len(F)


def test_fib_exact_over_fixed_width_domain(kernel):
    top = 93 if _unbounded(kernel) else kernel.max_n
    assert [kernel.fib(n) for n in range(top + 1)] == F[: top + 1]
    assert kernel.fib(93) == F93


def test_fib_exact_far_past_64_bits_when_unbounded(kernel):
    if not _unbounded(kernel):
        pytest.skip("fixed-width kernel")
    assert [kernel.fib(n) for n in range(0, 2001, 37)] == F[::37]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=2, max_value=200_000))
def test_fib_big_n_satisfies_cassini(n):
    # F(n-1) F(n+1) - F(n)^2 = (-1)^n: an identity the fast-doubling code never uses.
    for name in set(KERNEL_NAMES) & {"python", "numpy", "gmp"}:
        a, b, c = (fastfib.fib(m, kernel=name) for m in (n - 1, n, n + 1))
        assert a * c - b * b == (-1) ** n
        assert c == a + b


def test_burn_exact(kernel):
    if kernel.burn is None:
        pytest.skip("no burn workload")
    assert [kernel.burn(n) for n in range(21)] == F[:21]


def test_burn_numpy_splits_wide_levels():
    # F(28) makes levels wider than numpy_kernels.CHUNK, so the split path runs.
    assert F[28] > numpy_kernels.CHUNK
    assert fastfib.burn(28, kernel="numpy") == F[28]


def test_burn_fixed_width_range_is_checked_before_work(kernel):
    if kernel.max_n is None or kernel.burn is None:
        pytest.skip("unbounded kernel or no burn")
    with pytest.raises(OverflowError, match="93"):
        kernel.burn(94)  # would take forever if it started


def test_auto_is_exact_on_both_sides_of_64_bits():
    assert [fastfib.fib(n) for n in range(90, 100)] == F[90:100]
    assert fastfib.fib(2000) == F[2000]


def test_numpy_textbook_int64_is_silently_wrong_where_fastfib_is_exact():
    assert numpy_kernels.naive_int64_fib(92) == F[92]
    wrong = numpy_kernels.naive_int64_fib(93)
    assert wrong != F93 and wrong < 0  # wrapped around, no warning
    assert fastfib.fib(93, kernel="numpy") == F93


# --- accepted integer-like arguments ----------------------------------------

class Size(enum.IntEnum):
    TEN = 10


class MyInt(int):
    def __int__(self):  # must not be consulted: fastfib uses __index__
        raise AssertionError("called __int__")


@pytest.mark.parametrize("n", [np.int64(10), np.uint8(10), np.int32(10), Size.TEN, MyInt(10)])
def test_index_objects_are_accepted(kernel, function, n):
    result = getattr(kernel, function)(n)
    assert type(result) is int and result == 55


# --- errors: the same on every kernel and both functions --------------------

NOT_INTEGERS = [
    True, False, np.True_, 3.9, 3.0, float("nan"), float("inf"), Decimal("7"), Decimal("7.5"),
    Fraction(7, 2), Fraction(6, 1), "10", b"10", None, 3 + 0j, np.float64(10.0), np.float32(2.5),
    [10], object(),
]


@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=lambda v: f"{type(v).__name__}:{v!r}"[:40])
def test_non_integers_raise_type_error(kernel, function, bad):
    with pytest.raises(TypeError, match="integer"):
        getattr(fastfib, function)(bad, kernel=kernel.name)


@pytest.mark.parametrize("bad", [-1, -(2**70), np.int64(-5)])
def test_negative_raises_value_error(kernel, function, bad):
    with pytest.raises(ValueError, match=">= 0"):
        getattr(fastfib, function)(bad, kernel=kernel.name)


@pytest.mark.parametrize("too_big", [94, 2**32, 2**64 + 1, 10**100])
def test_past_max_n_raises_overflow_error(kernel, function, too_big):
    if kernel.max_n is None:
        pytest.skip("unbounded kernel")
    too_big += kernel.max_n - 93
    with pytest.raises(OverflowError, match=rf"{kernel.name}.*n <= {kernel.max_n}"):
        getattr(fastfib, function)(too_big, kernel=kernel.name)


@pytest.mark.parametrize("name", ["cython", "GIL", "", None, 3, "auto "])
@pytest.mark.parametrize("function", ["fib", "burn"])
def test_unknown_kernel_lists_valid_names(function, name):
    with pytest.raises(ValueError, match="valid kernels: python, numpy, cython-gil, cython-nogil"):
        getattr(fastfib, function)(10, kernel=name)


def test_burn_on_a_kernel_without_burn_names_the_burn_kernels():
    for name in sorted(set(KERNEL_NAMES) - set(BURN_KERNEL_NAMES)):
        with pytest.raises(ValueError, match="burn kernels: " + ", ".join(BURN_KERNEL_NAMES)):
            fastfib.burn(10, kernel=name)


def test_burn_has_no_auto_kernel():
    with pytest.raises(ValueError, match="valid kernels"):
        fastfib.burn(10, kernel="auto")
    with pytest.raises(TypeError):
        fastfib.burn(10)  # kernel is required


@pytest.mark.parametrize("bad", [True, 3.9, Decimal(3)])
def test_auto_rejects_non_integers(bad):
    with pytest.raises(TypeError):
        fastfib.fib(bad)
    with pytest.raises(ValueError):
        fastfib.fib(-3)


def test_error_messages_say_what_was_given_and_what_is_allowed():
    with pytest.raises(TypeError) as info:
        fastfib.fib(3.9, kernel="cython-nogil")
    assert "float" in str(info.value) and "3.9" in str(info.value)
    with pytest.raises(OverflowError) as info:
        fastfib.fib(94, kernel="cython-nogil")
    assert "94" in str(info.value) and "93" in str(info.value) and "python" in str(info.value)
