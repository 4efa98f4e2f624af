"""Paired speedups: a baseline and a configuration timed in alternation, and how sure the ratio is.

On a shared machine the second core comes and goes for tens of milliseconds at
a time, so a speedup is only worth its name when the baseline (A) and the
configuration (B) were timed at the same moments. :class:`Alternation` keeps
the wall times of A B A B ... A: each B lies between two A's, and its ratio is

    ratio_i = (A_i + A_(i+1)) / 2 / B_i

so a drift in the machine's speed during the run moves the baseline with it.
The speedup is the median of those ratios; its precision is the distribution-free
95 % confidence interval of that median (order statistics of the ratios: no
resampling, the same answer for the same data), its spread the interquartile
range of the ratios themselves.

>>> alternation = Alternation()
>>> for a, b in [(100, 50), (104, 52), (98, 51)]:
...     alternation.add_a(a); alternation.add_b(b)
>>> alternation.add_a(102)
>>> paired = alternation.ratio()
>>> round(paired.speedup, 2), paired.pairs
(1.98, 3)
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CONFIDENCE", "MAX_PAIRS", "MIN_PAIRS", "PRECISE_WIDTH", "TOO_WIDE", "Alternation", "PairedRatio",
           "extend", "measure", "median_interval"]

CONFIDENCE = 0.95
PRECISE_WIDTH = 0.10  # stop taking pairs once the interval's width is within 10 % of the median
TOO_WIDE = 0.20  # wider than 20 % of the median when the budget is spent: too noisy to tell
MIN_PAIRS = 10  # before the first look at the interval: fewer cannot give a 95 % interval narrower than the range
MAX_PAIRS = 80


def _binomial_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(low, high, coverage): the narrowest order-statistic interval [x_(j), x_(n+1-j)]
    whose coverage of the median is at least ``confidence`` (or the whole range, and
    its coverage, when there are too few values for that).

    >>> median_interval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    (2, 9, 0.978515625)
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    j = 1  # 1-based rank of the lower end; the upper end is n + 1 - j
    while j + 1 <= n // 2 and 1 - 2 * _binomial_cdf(j, n) >= confidence:
        j += 1
    coverage = 1 - 2 * _binomial_cdf(j - 1, n)
    return ordered[j - 1], ordered[n - j], coverage


@dataclass
class PairedRatio:
    """A paired speedup: the median of the per-pair ratios, its interval and spread."""

    speedup: float
    low: float  # the median's confidence interval
    high: float
    coverage: float  # what that interval covers (>= CONFIDENCE once there are enough pairs)
    q1: float  # interquartile range of the ratios themselves
    q3: float
    pairs: int
    ratios: list[float] = field(default_factory=list)

    @property
    def width(self) -> float:
        """The interval's width relative to the median."""
        return (self.high - self.low) / self.speedup

    @property
    def precise(self) -> bool:
        return self.width <= PRECISE_WIDTH

    @property
    def too_noisy(self) -> bool:
        return self.width > TOO_WIDE

    def describe(self) -> str:
        """ "1.88x (95% CI 1.83-1.92, 14 pairs)", or says plainly that it cannot tell."""
        interval = f"{self.low:.2f}-{self.high:.2f}x"
        if self.too_noisy:
            return f"too noisy to tell: {interval} ({self.pairs} pairs)"
        return f"{self.speedup:.2f}x ({self.coverage:.0%} CI {interval}, {self.pairs} pairs)"

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found.update(width=self.width, too_noisy=self.too_noisy)
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedRatio:
        return cls(**{key: data[key] for key in ("speedup", "low", "high", "coverage", "q1", "q3", "pairs")},
                   ratios=list(data.get("ratios", [])))


class Alternation:
    """Wall times of a baseline (A) and a configuration (B), taken A B A B ... A."""

    def __init__(self) -> None:
        self.a: list[float] = []
        self.b: list[float] = []

    def add_a(self, wall_s: float) -> None:
        if len(self.a) != len(self.b):
            raise ValueError("A and B must alternate, starting and ending with A")
        self.a.append(wall_s)

    def add_b(self, wall_s: float) -> None:
        if len(self.a) != len(self.b) + 1:
            raise ValueError("each B must follow an A")
        self.b.append(wall_s)

    def ratios(self) -> list[float]:
        """(A before + A after) / 2 / B for each B that has an A on both sides."""
        return [(self.a[i] + self.a[i + 1]) / 2 / b for i, b in enumerate(self.b) if i + 1 < len(self.a)]

    def ratio(self) -> PairedRatio:
        ratios = self.ratios()
        if not ratios:
            raise ValueError("no complete pair yet: A B A is the least")
        low, high, coverage = median_interval(ratios)
        q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
        return PairedRatio(statistics.median(ratios), low, high, coverage, q1, q3, len(ratios), ratios)


Timed = Callable[[], float]  # runs A or B once and returns its wall time in seconds


def extend(alternation: Alternation, run_a: Timed, run_b: Timed, *, budget_s: float,
           max_pairs: int = MAX_PAIRS) -> PairedRatio:
    """Add B A pairs to ``alternation`` (which ends with an A) until its interval is within
    ``PRECISE_WIDTH`` of the median, ``max_pairs`` or ``budget_s`` seconds from now."""
    deadline = time.perf_counter() + budget_s
    paired = alternation.ratio()
    while not paired.precise and paired.pairs < max_pairs and time.perf_counter() < deadline:
        alternation.add_b(run_b())
        alternation.add_a(run_a())
        paired = alternation.ratio()
    return paired


def measure(run_a: Timed, run_b: Timed, *, budget_s: float, min_pairs: int = MIN_PAIRS,
            max_pairs: int = MAX_PAIRS) -> PairedRatio:
    """A B A B ... A: ``min_pairs`` pairs, then more as :func:`extend` decides."""
    alternation = Alternation()
    alternation.add_a(run_a())
    for _ in range(min_pairs):
        alternation.add_b(run_b())
        alternation.add_a(run_a())
    return extend(alternation, run_a, run_b, budget_s=budget_s, max_pairs=max_pairs)
