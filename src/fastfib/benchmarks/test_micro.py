"""Micro benchmarks: the price of releasing the GIL, exact F(n) by size, and the
granularity at which releasing it starts to pay on threads."""

from __future__ import annotations

import pytest

from fastfib import pure, registry, tasks, technologies
from fastfib.lab import granularity

from . import _tasks

C_KERNELS = [name for name in ("cython-gil", "cython-nogil") if name in registry.KERNELS]
# Every technology's pair (Cython, C API, pybind11, nanobind, PyO3), for the price of one call.
TECHNOLOGY_KERNELS = [f"{t.family}-{suffix}" for t in technologies.TECHNOLOGIES for suffix in ("gil", "nogil")
                      if f"{t.family}-{suffix}" in registry.KERNELS]


@pytest.mark.parametrize("n", [1, 5, 10, 15, 20])
@pytest.mark.parametrize("kernel", C_KERNELS)
def test_price_of_releasing_the_gil(benchmark, record, kernel, n):
    """burn(n) per call, holding vs releasing the GIL: the difference is the release's cost."""
    benchmark.group = f"price of releasing the GIL: burn({n}) per call"
    assert benchmark(registry.burn_of(kernel), n) == tasks.oracle(n)
    record(question="price", case=f"burn({n})", kernel=kernel, n=n)


@pytest.mark.parametrize("kernel", TECHNOLOGY_KERNELS)
def test_call_overhead(benchmark, record, kernel):
    """One call of fib(10) per technology, holding or releasing the GIL: each binding's call
    overhead (argument check, C call, int result) and what releasing the GIL adds to it.
    The function is taken from the registry once, so only the call itself is timed; the
    reference is cython-gil (docs/benchmarks.md's call-overhead table)."""
    fib = registry.get(kernel).fib
    benchmark.group = "call overhead: one fib(10) per call"
    assert benchmark(fib, 10) == 55
    record(question="call overhead", case="fib(10)", kernel=kernel, n=10)


def _exact_cases():
    cases = []
    for n in (93, 10**3, 10**5, 10**6):
        for kernel in registry.KERNELS.values():
            if kernel.max_n is None or n <= kernel.max_n:
                cases.append((kernel.name, n))
        cases.append(("gmpy2", n))
    return cases


@pytest.mark.parametrize(("kernel", "n"), _exact_cases(), ids=lambda v: str(v))
def test_exact_fib(benchmark, record, kernel, n):
    """fib(n) per kernel at n = 93 .. 10**6, with gmpy2's fib beside them when installed."""
    if kernel == "gmpy2":
        pytest.importorskip("gmpy2")
    benchmark.group = f"exact fib({n})"
    expected = pure.fib(n)
    assert benchmark(_tasks.big_fib, kernel, n) == expected
    record(question="exact", case=f"fib({n})", kernel=kernel, n=n)


# Work per nogil call, in microseconds; each thread makes ~20 ms of such calls. The sweep is
# fastfib.lab.granularity's (the same one `fastfib lab granularity` runs): task sizing and the
# per-thread share live there, once.
GRANULARITY_US = list(granularity.QUICK_WORK_US)


@pytest.fixture(scope="module")
def granularity_tasks():
    """Each size in GRANULARITY_US: one thread's share of cython-nogil calls, sized here."""
    return {us: granularity.task_for("cython-nogil", us, share_s=0.02) for us in GRANULARITY_US}


@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
@pytest.mark.parametrize("runner,workers", [("sequential", 1), ("threads", 2)])
@pytest.mark.parametrize("work_us", GRANULARITY_US)
def test_granularity(benchmark, record, pool, paired, granularity_tasks, work_us, runner, workers):
    """Two threads, each calling the nogil kernel in a loop: where does releasing the GIL pay?
    The 2-thread benchmark times the sequential run in alternation with itself."""
    task = granularity_tasks[work_us]
    args = [task.args] * 2  # the same two shares, run one after the other or together
    warm = pool(runner, workers)
    case = f"{work_us:g} us/call"
    benchmark.group = f"granularity: 2 x {task.calls} calls of burn({task.n}) ~{case}"

    def exact(results):
        return results == [task.expected()] * 2

    facts = dict(question="granularity", case=case, kernel="cython-nogil", runner=runner, workers=workers,
                 tasks=2, n=task.n, calls_per_task=task.calls, measured_us_per_call=round(task.measured_us, 3))
    record(paired(warm, granularity.repeat_burn, args, exact), **facts)


@pytest.fixture(scope="module")
def batch_task():
    """~1 µs of cython-nogil work per item, ~20 ms per thread: the batching comparison's items."""
    return granularity.batch_task_for("cython-nogil", 1.0, share_s=0.02)


@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
@pytest.mark.parametrize("runner,workers", [("sequential", 1), ("threads", 2)])
@pytest.mark.parametrize("calls", ["per_item", "batched"])
def test_batching(benchmark, record, pool, paired, batch_task, calls, runner, workers):
    """The fix for tiny nogil calls: the same items per thread as per-item burn() calls or as
    burn_many() batches of granularity.BATCH (one GIL release per batch).
    Goal (reported, not asserted): batched >= 1.7x on 2 cores where per-item gives <= 1.0x."""
    task, args = batch_task.cases()[calls]
    expected = [batch_task.expected()] * 2
    benchmark.group = f"batching: 2 x {batch_task.items:,} items of burn({batch_task.n}) ~1 us of work each"
    record(paired(pool(runner, workers), task, [args] * 2, lambda results: results == expected),
           question="batching", case=calls.replace("_", "-"), kernel="cython-nogil", runner=runner,
           workers=workers, tasks=2, n=batch_task.n, items_per_task=batch_task.items,
           items_per_call=1 if calls == "per_item" else batch_task.batch,
           measured_us_per_item=round(batch_task.measured_us, 3))
