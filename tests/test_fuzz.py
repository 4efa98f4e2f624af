"""Fuzz: any input to any kernel, and any command line, gives the exact value or
exactly the documented error -- never a crash, never a truncated number."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastfib import registry
from fastfib.cli import main
from helpers import oracle

F = oracle(3001)
NUMPY_SCALARS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                 np.float32, np.float64, np.bool_]

integers = st.integers(min_value=-(10**40), max_value=3000)
anything = st.one_of(
    integers,
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.fractions(),
    st.complex_numbers(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.none(),
    st.lists(st.integers(0, 5), max_size=2),
    st.builds(lambda kind, v: kind(v), st.sampled_from(NUMPY_SCALARS), st.integers(0, 90)),
)


def expected(kernel: registry.Kernel, n: object, top: int):
    """What the contract says fib/burn(n) must do: a value, or an exception type."""
    if isinstance(n, (bool, np.bool_)):
        return TypeError
    try:
        value = operator.index(n)
    except TypeError:
        return TypeError
    if value < 0:
        return ValueError
    if kernel.max_n is not None and value > kernel.max_n:
        return OverflowError
    return F[value] if value <= top else None  # None: too big to run here, skip


def check(function, kernel: registry.Kernel, n: object, top: int) -> None:
    want = expected(kernel, n, top)
    if want is None:
        return
    if isinstance(want, type):
        with pytest.raises(want):
            function(n)
    else:
        got = function(n)
        assert type(got) is int and got == want


@pytest.mark.parametrize("name", registry.names())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=anything)
def test_fib_any_input(name, n):
    kernel = registry.get(name)
    check(kernel.fib, kernel, n, top=3000)


@pytest.mark.parametrize("name", registry.burn_names())
@settings(max_examples=200, deadline=None)
@given(n=st.one_of(anything, st.integers(-50, 22)))
def test_burn_any_input(name, n):
    kernel = registry.get(name)
    check(kernel.burn, kernel, n, top=22)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.one_of(st.integers(-200, 200).map(str), st.text(max_size=12)),
       kernel=st.one_of(st.sampled_from(registry.names() + ["auto"]), st.text(max_size=12)))
def test_cli_fib_any_arguments(capsys, n, kernel):
    if kernel not in registry.names() or registry.get(kernel).max_n is None:
        kernel = "cython-nogil" if kernel in registry.names() + ["auto"] else kernel  # keep n bounded
    code = main(["fib", "--kernel", kernel, "--", n]) if n.startswith("-") else main(["fib", n, "--kernel", kernel])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 0:
        assert out == f"{F[int(n, 10)]}\n" and err == ""
    else:
        assert out == "" and err.startswith("fastfib: error: ") and err.count("\n") == 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.text(max_size=10), max_size=4))
def test_cli_any_argv_never_crashes(capsys, argv):
    try:
        code = main(["fib", *argv])
    except SystemExit as exc:  # --help exits through argparse
        code = exc.code
    capsys.readouterr()
    assert code in (0, 2)
