"""One paired benchmark: pytest-benchmark times the configuration (B), round by round; the
baseline (A) runs before each round, untimed by pytest-benchmark but timed by the caller; one
more A closes the last round; then more pairs as :func:`fastfib.measure.paired.extend`
decides. Between the pairs the machine's control is sampled, and each B accounts the CPU
other processes took meanwhile (:mod:`fastfib.measure.machine`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastfib import environment
from fastfib.measure import machine
from fastfib.measure import paired as pairing

__all__ = ["time_pairs"]


def time_pairs(benchmark: Any, run_a: pairing.Timed, run_b: pairing.Timed, *,
               workers: int, budget_s: float, pids: Callable[[], Sequence[int]] = tuple) -> pairing.PairedRatio:
    """A B A B ... A for ``benchmark`` (B timed by pytest-benchmark too); ``run_a`` and ``run_b``
    return what :class:`~fastfib.measure.paired.Alternation` takes: wall, or (wall, CPU)."""
    alternation = pairing.Alternation()
    watch = machine.MachineWatch(min(workers, environment.usable_cores()), pids=pids)

    def baseline_first() -> None:  # pytest-benchmark's setup: must return None
        pairing.add(alternation.add_a, run_a())
        if alternation.b:  # after an A, as extend() samples (see there)
            watch.sample()

    benchmark.pedantic(watch.around(lambda: pairing.add(alternation.add_b, run_b())), rounds=pairing.MIN_PAIRS,
                       iterations=1, setup=baseline_first)
    pairing.add(alternation.add_a, run_a())
    watch.sample()
    return pairing.extend(alternation, run_a, run_b, budget_s=budget_s, watch=watch)
