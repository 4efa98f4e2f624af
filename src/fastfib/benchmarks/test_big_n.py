"""Big exact F(n): the gmp kernel against gmpy2 and Python's own integers, and on threads.

Goals (reported, not asserted): gmp at most gmpy2's time (<= 1.0x) at n = 10**5 .. 10**7,
called alternately with it in one process; a 2-thread speedup >= 1.8x on a batch of big n
where gmpy2.fib (GIL held) stays near 1x. Both call GMP's mpz_fib_ui, so the ratio is
mostly which GMP each links and how it was built (docs/gmp.md): the rows record both.
"""

from __future__ import annotations

import time

import pytest

from fastfib import pure, registry
from fastfib.measure import paired as pairing

from . import _tasks

pytestmark = pytest.mark.skipif("gmp" not in registry.KERNELS, reason=registry.UNAVAILABLE.get("gmp", ""))

SIZES = [10**5, 10**6, 10**7]


@pytest.mark.parametrize("kernel", ["gmp", "gmpy2", "python"])
@pytest.mark.parametrize("n", SIZES)
def test_big_fib(benchmark, record, kernel, n, request):
    if kernel == "gmpy2":
        pytest.importorskip("gmpy2")
    if kernel == "python" and n > 10**6 and not request.config.getoption("fastfib_long"):
        pytest.skip("python at 10**7 takes seconds: run with --fastfib-long")
    benchmark.group = f"big exact F({n}): gmp vs gmpy2 vs Python ints"
    result = benchmark.pedantic(_tasks.big_fib, args=(kernel, n), rounds=5, iterations=1, warmup_rounds=1)
    assert result % 2**64 == _fib_mod_2_64(n)
    record(question="big-n", case=f"F({n})", kernel=kernel, n=n, **_gmp_facts(kernel))


@pytest.mark.parametrize("n", SIZES)
def test_gmp_over_gmpy2_interleaved(benchmark, record, n):
    """gmp's time over int(gmpy2.fib(n))'s, the two called alternately (A B A ... A) in one
    process: the median of the per-pair ratios and its 95 % interval (goal: <= 1.0x)."""
    gmpy2 = pytest.importorskip("gmpy2")
    expected = int(gmpy2.fib(n))

    def timed(kernel):
        def run() -> float:
            start = time.perf_counter()
            result = _tasks.big_fib(kernel, n)
            wall = time.perf_counter() - start
            assert result == expected, f"{kernel} gave a wrong F({n})"
            return wall
        return run

    benchmark.group = f"gmp / gmpy2, interleaved: F({n})"
    ratio = benchmark.pedantic(pairing.measure, args=(timed("gmp"), timed("gmpy2")),
                               kwargs=dict(budget_s=1.5, min_pairs=20), rounds=1, iterations=1)
    # Its own key, not "paired" (the summary reads that as a parallel speedup): gmp / gmpy2 wall.
    record(question="big-n", case=f"F({n})", kernel="gmp", n=n, interleaved_with="gmpy2",
           time_ratio=ratio.to_dict(), **_gmp_facts("gmp"))


def _gmp_facts(kernel: str) -> dict[str, str]:
    """The GMP release behind a big-n row (gmpy2's wheel bundles its own)."""
    if kernel == "gmp":
        from fastfib import _gmp

        found = {"gmp_version": _gmp.GMP_VERSION}
        try:
            import gmpy2
        except ImportError:
            return found
        return {**found, "gmpy2_gmp_version": gmpy2.mp_version()}
    if kernel == "gmpy2":
        import gmpy2

        return {"gmp_version": gmpy2.mp_version()}
    return {}


BATCH_N, BATCH_TASKS = 2 * 10**6, 8


@pytest.fixture(scope="module")
def batch_expected():
    return pure.fib(BATCH_N)


@pytest.mark.parametrize("runner,workers", [("sequential", 1), ("threads", 2)])
@pytest.mark.parametrize("kernel", ["gmp", "gmpy2"])
def test_big_fib_threads(benchmark, record, pool, paired, batch_expected, kernel, runner, workers):
    """A batch of big F(n) on 2 threads, its sequential run timed in alternation with it."""
    if kernel == "gmpy2":
        pytest.importorskip("gmpy2")
    warm = pool(runner, workers)
    benchmark.group = f"big-n batch on threads: {BATCH_TASKS} x F({BATCH_N})"
    args = [(kernel, BATCH_N)] * BATCH_TASKS

    def exact(results):
        return results == [batch_expected] * BATCH_TASKS

    facts = dict(question="big-n threads", case=f"{BATCH_TASKS} x F({BATCH_N})", kernel=kernel, runner=runner,
                 workers=workers, tasks=BATCH_TASKS, n=BATCH_N)
    record(paired(warm, _tasks.big_fib, args, exact), **facts)


def _fib_mod_2_64(n: int) -> int:
    """F(n) mod 2**64 by fast doubling on residues: an independent, cheap check."""
    a, b, m = 0, 1, 2**64
    for bit in bin(n)[2:]:
        a, b = a * (2 * b - a) % m, (a * a + b * b) % m
        if bit == "1":
            a, b = b, (a + b) % m
    return a
