"""The cython-prange kernel: one call whose batch is split across OpenMP threads.

Exact results and errors on every team size, the GIL released while the team
works (a heartbeat, as in test_gil.py), num_threads checked like n, and a build
without OpenMP listing the kernel as unavailable. No timing asserts: how much
faster a team is lives in fastfib/benchmarks/test_prange.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastfib
from fastfib import registry
from helpers import KERNEL_NAMES, Heartbeat, missing_build_tools, needs_gil, oracle

F = oracle(100)
ROOT = Path(__file__).resolve().parents[1]

needs_openmp = pytest.mark.skipif("cython-prange" not in registry.KERNELS,
                                  reason=registry.UNAVAILABLE.get("cython-prange", ""))


@pytest.fixture
def prange():
    from fastfib import _prange

    return _prange


@needs_openmp
@pytest.mark.parametrize("num_threads", [None, 1, 2, 3, 8])
def test_batches_are_exact_on_every_team_size(prange, num_threads):
    ns = [25, 0, 1, 2, 20, 10, 24, 3] * 3
    assert prange.burn_many(ns, num_threads) == [F[n] for n in ns]
    assert prange.fib_many(range(94), num_threads=num_threads) == F[:94]
    assert prange.burn_many([], num_threads) == [] and prange.fib_many((), num_threads) == []


@needs_openmp
def test_more_threads_than_items_and_any_iterable(prange):
    assert prange.burn_many(iter([15]), 16) == [F[15]]
    assert prange.fib_many((n for n in (93, 92)), 4) == [F[93], F[92]]
    assert prange.fib_many(np.arange(10), 2) == F[:10]


@needs_openmp
@pytest.mark.parametrize(("bad", "error"), [
    ([5, True], TypeError), ([5, -1], ValueError), ([5, 2.0], TypeError), ([5, "7"], TypeError),
    ([1, 94], OverflowError), ([1, 10**30], OverflowError),
])
def test_every_item_is_checked_before_any_work(prange, bad, error):
    for function in (prange.burn_many, prange.fib_many):
        with pytest.raises(error):
            function(bad, 2)


@needs_openmp
@pytest.mark.parametrize(("num_threads", "error"), [
    (0, ValueError), (-1, ValueError), (1025, ValueError), (True, TypeError), (2.0, TypeError), ("2", TypeError),
])
def test_num_threads_is_checked_like_n(prange, num_threads, error):
    with pytest.raises(error, match="num_threads"):
        prange.burn_many([10], num_threads)
    with pytest.raises(error, match="num_threads"):
        prange.fib_many([10], num_threads=num_threads)


@needs_openmp
@pytest.mark.parametrize("num_threads", [1, 2, 3, 5, np.int64(4)])
def test_num_threads_sets_the_team_openmp_starts(prange, num_threads):
    assert prange._team_size(num_threads) == int(num_threads)


@needs_openmp
def test_the_default_team_is_openmps_default_at_most_the_usable_cores(prange):
    from threadpoolctl import threadpool_limits

    from fastfib import environment

    assert prange._team_size() == min(prange.max_threads(), environment.usable_cores())
    with threadpool_limits(limits=1, user_api="openmp"):  # as a user limits scikit-learn's loops
        assert prange.max_threads() == 1 and prange._team_size() == 1
        assert prange._team_size(2) == 2  # an explicit num_threads wins


# --- the public call: fastfib.burn_many / fib_many(..., num_threads=) ----------------------------------

@needs_openmp
@pytest.mark.parametrize("num_threads", [None, 1, 2, np.int64(3)])
def test_the_public_batch_calls_pass_num_threads_to_the_team(monkeypatch, prange, num_threads):
    ns = [25, 0, 1, 20, 10, 24, 3] * 2
    assert fastfib.burn_many(ns, kernel="cython-prange", num_threads=num_threads) == [F[n] for n in ns]
    assert fastfib.fib_many(range(94), kernel="cython-prange", num_threads=num_threads) == F[:94]
    teams = []
    real = prange.burn_many

    def spy(items, num_threads=None):
        teams.append(num_threads)
        return real(items, num_threads)

    monkeypatch.setattr(prange, "burn_many", spy)  # the registry looks the kernel's function up at each call
    assert fastfib.burn_many([10], kernel="cython-prange", num_threads=num_threads) == [55]
    assert teams == [num_threads]  # handed on as given: the kernel checks and defaults it


@needs_openmp
@pytest.mark.parametrize(("num_threads", "error"), [(0, ValueError), (1025, ValueError), (True, TypeError),
                                                    (2.0, TypeError)])
def test_the_public_batch_calls_check_num_threads_as_the_kernel_does(num_threads, error):
    with pytest.raises(error, match="num_threads"):
        fastfib.burn_many([10], kernel="cython-prange", num_threads=num_threads)
    with pytest.raises(error, match="num_threads"):
        fastfib.fib_many([10], kernel="cython-prange", num_threads=num_threads)


@pytest.mark.parametrize("other", [name for name in KERNEL_NAMES if name != "cython-prange"])
def test_num_threads_given_to_any_other_kernel_is_a_type_error_before_any_work(other):
    checked = []

    def items():  # the batch is not even looked at
        checked.append(True)
        yield 10

    for call in (fastfib.burn_many, fastfib.fib_many):
        if call is fastfib.burn_many and fastfib.registry.get(other).burn is None:
            continue  # gmp has no burn: registry.burn_of says so in its own words
        with pytest.raises(TypeError, match="only by kernel 'cython-prange'.*" + other):
            call(items(), kernel=other, num_threads=2)
        assert call([10], kernel=other, num_threads=None) == [55]  # None is the default, for every kernel
    assert not checked


@needs_openmp
@needs_gil
@pytest.mark.timeout(120)
def test_the_gil_is_released_while_the_team_works(prange):
    ns = [30] * 4
    while True:  # size a batch of >= 0.2 s (sizing, not a test)
        start = time.perf_counter()
        prange.burn_many(ns, 2)
        if time.perf_counter() - start >= 0.2 or len(ns) > 4000:
            break
        ns *= 2
    with Heartbeat() as heart:
        start = time.perf_counter()
        result = prange.burn_many(ns, 2)
        end = time.perf_counter()
    assert result == [F[30]] * len(ns)
    ticks = heart.ticks_between(start, end)
    assert ticks > 2, f"heartbeat ticked only {ticks} times during a {1000 * (end - start):.0f} ms prange call"


# --- a build without OpenMP ------------------------------------------------------------------------

def _copy_checkout(destination: Path) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy2(ROOT / name, destination / name)
    shutil.copytree(ROOT / "csrc", destination / "csrc")
    shutil.copytree(ROOT / "bindings", destination / "bindings", ignore=shutil.ignore_patterns("target"))
    shutil.copytree(ROOT / "src", destination / "src",
                    ignore=lambda d, names: {n for n in names if n.endswith((".so", ".pyd", ".c", ".html"))
                                             or n in ("__pycache__", "benchmarks") or n.endswith(".egg-info")})


@pytest.mark.timeout(300)
@pytest.mark.skipif(not (ROOT / "setup.py").is_file(), reason="needs the source checkout (setup.py)")
@pytest.mark.skipif(missing_build_tools() is not None, reason=str(missing_build_tools()))
def test_a_build_with_openmp_off_lists_the_kernel_as_unavailable(tmp_path):
    _copy_checkout(tmp_path)
    # The C++ and Rust binding families off too: only the C modules are needed here.
    env = {**os.environ, "FASTFIB_OPENMP": "0", "FASTFIB_GMP": "0",
           "FASTFIB_PYBIND11": "0", "FASTFIB_NANOBIND": "0", "FASTFIB_PYO3": "0"}
    built = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=280)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "building without the cython-prange kernel (FASTFIB_OPENMP=0)" in built.stdout
    assert not list((tmp_path / "src" / "fastfib").glob("_prange*.so"))
    # An editable install's finder (setuptools' __editable__ hook on sys.meta_path) would
    # supply the checkout's fastfib._prange where the copy has none: leave it out.
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in repr(f)]\n"
            "import fastfib, fastfib.registry as r\n"
            f"assert fastfib.__file__.startswith({str(tmp_path)!r}), fastfib.__file__\n"
            "print('cython-prange' in r.KERNELS, 'cython-nogil' in r.KERNELS)\n"
            "print(r.UNAVAILABLE['cython-prange'])")
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(tmp_path / "src")})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "False True"
    assert "built without OpenMP" in lines[1]


def test_importing_fastfib_loads_no_openmp_runtime_until_the_kernel_is_called():
    code = ("import sys, fastfib\n"
            "print('fastfib._prange' in sys.modules)\n"
            "if 'cython-prange' in fastfib.registry.KERNELS:\n"
            "    assert fastfib.burn_many([10], kernel='cython-prange') == [55]\n"
            "    print('fastfib._prange' in sys.modules)\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.split()[0] == "False"
    if "cython-prange" in registry.KERNELS:
        assert shown.stdout.split()[1] == "True"
