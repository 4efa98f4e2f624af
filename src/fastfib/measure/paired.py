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

Beside the speedup, each run may also bring its CPU time (all the threads and
worker processes that did the work). Then the pairs also give *parallelism*,
CPU / wall of the configuration's runs: how many cores were busy at once, with
its own interval. It does not swing when the machine changes speed (the
recursive burn runs at two speeds on some hosts, switching every few hundred
milliseconds), so it can still answer "did both threads run at once?" when the
speedup is too noisy to tell. :func:`speed_change` says when the baseline's
own wall times moved that way.

>>> alternation = Alternation()
>>> for a, b in [(100, 50), (104, 52), (98, 51)]:
...     alternation.add_a(a); alternation.add_b(b)
>>> alternation.add_a(102)
>>> paired = alternation.ratio()
>>> round(paired.speedup, 2), paired.pairs
(1.96, 3)
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from fastfib.tables import ms

if TYPE_CHECKING:
    from fastfib.measure.machine import MachineWatch

__all__ = [
    "BUSY_AT", "CONFIDENCE", "FLAT_BELOW", "MAX_PAIRS", "MIN_PAIRS", "PRECISE_WIDTH", "SCALES_AT", "SPEED_CHANGE",
    "TOO_WIDE", "Alternation", "PairedRatio", "Spread", "Timed", "add", "describe_speed_change", "extend", "measure",
    "median_interval", "speed_change",
]

CONFIDENCE = 0.95
PRECISE_WIDTH = 0.10  # stop taking pairs once the interval's width is within 10 % of the median
TOO_WIDE = 0.20  # wider than 20 % of the median when the budget is spent: too noisy to tell
MIN_PAIRS = 10  # before the first look at the interval: fewer cannot give a 95 % interval narrower than the range
MAX_PAIRS = 80
SPEED_CHANGE = 1.25  # the same baseline run taking 25 % longer at its slowest than at its fastest: the machine moved
SCALES_AT = 0.5  # a speedup "scales" when its interval's low end reaches half way from 1x to the ideal (1.5x of 2)
BUSY_AT = 0.8  # parallelism says "scales" when its interval's low end reaches 80 % of the way from 1 to the ideal
FLAT_BELOW = 1.15  # ... and "flat" (speedup or parallelism) when its interval's high end stays under this
TWO_SPEEDS_GAP = 1.10  # ... and its sorted times jump by 10 % or more between two groups of at least two each


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
class Spread:
    """The median of some values, the median's 95 % interval and the values' interquartile range.

    >>> Spread.of([1.9, 2.0, 1.95, 1.98, 2.01]).median
    1.98
    """

    median: float
    low: float
    high: float
    coverage: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        low, high, coverage = median_interval(values)
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else list(values) * 3
        return cls(statistics.median(values), low, high, coverage, q1, q3, len(values))

    @property
    def width(self) -> float:
        """The interval's width relative to the median."""
        return (self.high - self.low) / self.median if self.median else math.inf

    def describe(self, unit: str = "") -> str:
        """ "1.97 (95% CI 1.95-1.99)" """
        return f"{self.median:.2f}{unit} ({self.coverage:.0%} CI {self.low:.2f}-{self.high:.2f}{unit})"

    def to_dict(self) -> dict[str, Any]:
        # A median of 0 (a machine control that got no core at all) has no relative width: JSON
        # has no inf, so the document says null rather than failing to be written.
        return {**asdict(self), "width": self.width if math.isfinite(self.width) else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Spread | None:
        if not data:
            return None
        return cls(**{key: data[key] for key in ("median", "low", "high", "coverage", "q1", "q3", "n")})


def speed_change(walls: Sequence[float]) -> dict[str, Any] | None:
    """How far the *same* run's wall time moved during a measurement, when its slowest
    took ``SPEED_CHANGE`` times its fastest or more (None when it held steady).

    ``kind`` is "two speeds" when the sorted times fall into two groups of at
    least two, split by a jump of ``TWO_SPEEDS_GAP`` or more (``modes`` gives
    each group's range and count), else "drift".

    >>> found = speed_change([0.010, 0.0101, 0.017, 0.0099, 0.0172, 0.0102])
    >>> found["kind"], round(found["ratio"], 2), [mode[2] for mode in found["modes"]]
    ('two speeds', 1.74, [4, 2])
    >>> speed_change([0.010, 0.0105, 0.0102]) is None
    True
    """
    ordered = sorted(walls)
    if len(ordered) < 3 or ordered[0] <= 0 or ordered[-1] / ordered[0] < SPEED_CHANGE:
        return None
    jumps = [(ordered[i + 1] / ordered[i], i) for i in range(1, len(ordered) - 2)]  # two or more on each side
    gap, at = max(jumps, default=(1.0, 0))
    found: dict[str, Any] = {"low_s": ordered[0], "high_s": ordered[-1], "ratio": ordered[-1] / ordered[0],
                             "runs": len(ordered), "kind": "drift", "modes": []}
    if gap >= TWO_SPEEDS_GAP:
        fast, slow = ordered[:at + 1], ordered[at + 1:]
        found.update(kind="two speeds", modes=[[fast[0], fast[-1], len(fast)], [slow[0], slow[-1], len(slow)]])
    return found


def describe_speed_change(found: dict[str, Any]) -> str:
    """ "two speeds: 9.9-10.2 ms (4 runs) and 17.0-17.2 ms (2 runs), 1.74x apart" """
    if found["kind"] == "two speeds":
        (a_lo, a_hi, a_n), (b_lo, b_hi, b_n) = found["modes"]
        return (f"two speeds: {ms(a_lo)}-{ms(a_hi)} ms ({a_n} runs) and {ms(b_lo)}-{ms(b_hi)} ms ({b_n} runs), "
                f"{found['ratio']:.2f}x apart")
    return (f"drifted: {ms(found['low_s'])}-{ms(found['high_s'])} ms over {found['runs']} runs, "
            f"{found['ratio']:.2f}x apart")


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
    parallelism: Spread | None = None  # CPU / wall of the configuration's runs (B), when CPU was measured
    baseline_parallelism: Spread | None = None  # ... and of the baseline's (A): about 1 for one thread
    baseline_s: Spread | None = None  # the baseline's wall times
    speed_change: dict[str, Any] | None = None  # speed_change() of the baseline's wall times
    machine: dict[str, Any] | None = None  # what the machine lent meanwhile (fastfib.measure.machine.Lent.to_dict)

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
            said = f"too noisy to tell: {interval} ({self.pairs} pairs)"
        else:
            said = f"{self.speedup:.2f}x ({self.coverage:.0%} CI {interval}, {self.pairs} pairs)"
        if self.parallelism is not None:
            said += f", parallelism {self.parallelism.describe()}"
        return said

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        for name in ("parallelism", "baseline_parallelism", "baseline_s"):
            spread = getattr(self, name)
            found[name] = None if spread is None else spread.to_dict()
        found.update(width=self.width, too_noisy=self.too_noisy)
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedRatio:
        return cls(**{key: data[key] for key in ("speedup", "low", "high", "coverage", "q1", "q3", "pairs")},
                   ratios=list(data.get("ratios", [])), parallelism=Spread.from_dict(data.get("parallelism")),
                   baseline_parallelism=Spread.from_dict(data.get("baseline_parallelism")),
                   baseline_s=Spread.from_dict(data.get("baseline_s")), speed_change=data.get("speed_change"),
                   machine=data.get("machine"))


class Alternation:
    """Wall times (and, where measured, CPU times) of a baseline (A) and a configuration (B),
    taken A B A B ... A."""

    def __init__(self) -> None:
        self.a: list[float] = []
        self.b: list[float] = []
        self.cpu_a: list[float] = []  # filled only by runs that measured their CPU time
        self.cpu_b: list[float] = []

    def add_a(self, wall_s: float, cpu_s: float | None = None) -> None:
        if len(self.a) != len(self.b):
            raise ValueError("A and B must alternate, starting and ending with A")
        self.a.append(wall_s)
        if cpu_s is not None:
            self.cpu_a.append(cpu_s)

    def add_b(self, wall_s: float, cpu_s: float | None = None) -> None:
        if len(self.a) != len(self.b) + 1:
            raise ValueError("each B must follow an A")
        self.b.append(wall_s)
        if cpu_s is not None:
            self.cpu_b.append(cpu_s)

    @staticmethod
    def _parallelism(walls: list[float], cpus: list[float]) -> Spread | None:
        if not cpus or len(cpus) != len(walls):  # every run measured, or none counts
            return None
        return Spread.of([cpu / wall for cpu, wall in zip(cpus, walls, strict=True) if wall > 0])

    def ratios(self) -> list[float]:
        """(A before + A after) / 2 / B for each B that has an A on both sides."""
        return [(self.a[i] + self.a[i + 1]) / 2 / b for i, b in enumerate(self.b) if i + 1 < len(self.a)]

    def ratio(self) -> PairedRatio:
        ratios = self.ratios()
        if not ratios:
            raise ValueError("no complete pair yet: A B A is the least")
        spread = Spread.of(ratios)
        return PairedRatio(spread.median, spread.low, spread.high, spread.coverage, spread.q1, spread.q3,
                           len(ratios), ratios, parallelism=self._parallelism(self.b, self.cpu_b),
                           baseline_parallelism=self._parallelism(self.a, self.cpu_a),
                           baseline_s=Spread.of(self.a), speed_change=speed_change(self.a))


Timed = Callable[[], "float | tuple[float, float]"]  # runs A or B once: its wall time, or (wall, CPU) in seconds


def add(add_to: Callable[..., None], got: float | tuple[float, float]) -> None:
    """Give one run's result (wall, or (wall, CPU)) to ``Alternation.add_a`` or ``add_b``."""
    if isinstance(got, tuple):
        add_to(*got)
    else:
        add_to(got)


def extend(alternation: Alternation, run_a: Timed, run_b: Timed, *, budget_s: float,
           max_pairs: int = MAX_PAIRS, watch: MachineWatch | None = None) -> PairedRatio:
    """Add B A pairs to ``alternation`` (which ends with an A) until its interval is within
    ``PRECISE_WIDTH`` of the median, ``max_pairs`` or ``budget_s`` seconds from now.
    ``watch``: the machine's control (:mod:`fastfib.measure.machine`), sampled after each A
    -- after the baseline's single worker rather than the parallel run, whose idle workers may
    still spin a while (an OpenMP team does: sampled after B, it read 0.8 of 2 cores on a quiet
    machine) -- its reading kept in the result's ``machine``; each B is accounted by it too."""
    deadline = time.perf_counter() + budget_s
    if watch is not None:
        run_b = watch.around(run_b)
    paired = alternation.ratio()
    while not paired.precise and paired.pairs < max_pairs and time.perf_counter() < deadline:
        add(alternation.add_b, run_b())
        add(alternation.add_a, run_a())
        if watch is not None:
            watch.sample()
        paired = alternation.ratio()
    if watch is not None:
        paired.machine = watch.reading().to_dict()
    return paired


def measure(run_a: Timed, run_b: Timed, *, budget_s: float, min_pairs: int = MIN_PAIRS,
            max_pairs: int = MAX_PAIRS, watch: MachineWatch | None = None) -> PairedRatio:
    """A B A B ... A: ``min_pairs`` pairs, then more as :func:`extend` decides (``watch``: see there)."""
    alternation = Alternation()
    accounted = run_b if watch is None else watch.around(run_b)
    add(alternation.add_a, run_a())
    for _ in range(min_pairs):
        add(alternation.add_b, accounted())
        add(alternation.add_a, run_a())
        if watch is not None:
            watch.sample()
    return extend(alternation, run_a, run_b, budget_s=budget_s, max_pairs=max_pairs, watch=watch)
