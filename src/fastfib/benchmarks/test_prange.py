"""Parallelism inside one call: the cython-prange kernel's batch on an OpenMP team of 2
against the same batch on a team of 1, from one Python thread, the two timed in alternation.

Goal (reported, not asserted): >= 1.8x on 2 cores. No pool, no Python thread: the C code's
own threads do the work, as numpy's BLAS and scikit-learn's Cython loops do.
"""

from __future__ import annotations

import time

import pytest

from fastfib import registry, tasks

from ._pairs import time_pairs

pytestmark = pytest.mark.skipif("cython-prange" not in registry.KERNELS,
                                reason=registry.UNAVAILABLE.get("cython-prange", ""))

N, ITEMS = 30, 16  # ~16 x 1 ms here: about 16 ms of work per call, split by items


@pytest.mark.parametrize("threads", [1, 2])
def test_prange_team(benchmark, record, request, threads):
    """burn_many of ITEMS x burn(N) in one call on ``threads`` OpenMP threads; the 2-thread
    benchmark times the 1-thread batch in alternation with it (measure.paired)."""
    burn_many = registry.get("cython-prange").burn_many
    assert burn_many is not None
    ns, expected = [N] * ITEMS, [tasks.oracle(N)] * ITEMS
    benchmark.group = f"prange: one call, burn_many({ITEMS} x burn({N})) on an OpenMP team"

    def run(team: int) -> float:
        start = time.perf_counter()
        results = burn_many(ns, team)
        took = time.perf_counter() - start
        if results != expected:
            raise AssertionError(f"wrong result on {team} OpenMP thread(s): {results!r}")
        return took

    facts = dict(question="prange", case=f"{ITEMS} x burn({N})", kernel="cython-prange", runner="openmp",
                 workers=threads, tasks=1, n=N, items_per_call=ITEMS)
    if benchmark.disabled or threads == 1:  # the baseline itself: pytest-benchmark's table only
        benchmark.pedantic(run, args=(threads,), rounds=1 if benchmark.disabled else 10, iterations=1,
                           warmup_rounds=0 if benchmark.disabled else 1)
        record(**facts)
        return
    run(1), run(threads)  # warm both (the OpenMP team starts on first use), untimed
    budget = request.config.getoption("fastfib_pair_budget")
    budget = (10.0 if request.config.getoption("fastfib_long") else 4.0) if budget is None else budget
    record(time_pairs(benchmark, lambda: run(1), lambda: run(threads), workers=threads, budget_s=budget), **facts)
