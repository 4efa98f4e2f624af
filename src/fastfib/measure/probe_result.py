"""What ``fastfib probe`` found: :class:`ProbeResult` and its :class:`ScalePoint` rows.

Data only, in a module of its own so that both the measuring (:mod:`fastfib.measure.probing`)
and the advice (:mod:`fastfib.measure.probe_advice`) import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fastfib.measure import paired

__all__ = ["INNER_PARALLEL_AT", "SLOWED_AT", "ProbeResult", "ScalePoint"]

INNER_PARALLEL_AT = 1.3  # CPU ÷ wall of one call alone from which it counts as running its own threads
# A pool did a call's parallel work when limiting it to one thread slows the call by at least this
# share of what its parallelism allows: 1 + 0.5 x (2.0 - 1) = 1.5x for a call on 2 cores.
SLOWED_AT = 0.5


@dataclass
class ScalePoint:
    runner: str
    workers: int
    speedup: paired.PairedRatio | None = None
    startup_s: float | None = None  # starting and warming the pool, outside the figures
    handover_s: float | None = None  # one empty task per worker, gate to last result
    error: str | None = None
    # CPU ÷ wall of the parallel runs (median): how many cores they kept busy. Measured where the
    # workers are this process's threads (process CPU time); None for processes and the rest.
    parallelism: float | None = None

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["speedup"] = None if self.speedup is None else self.speedup.to_dict()
        return found


@dataclass
class ProbeResult:
    """What :func:`probe` found; ``to_json()`` for CI."""

    label: str
    verdict: str  # "released", "held", "partly released" or "no GIL"
    released_fraction: float
    longest_stall_ms: float
    per_call_s: float  # median
    per_call_q1_s: float
    per_call_q3_s: float
    calls_per_batch: int
    task_calls: int
    points: list[ScalePoint] = field(default_factory=list)
    advice: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    # Inner parallelism: the call's own threads, measured while it runs alone (no heartbeat, no pool).
    parallelism: float = 1.0  # CPU ÷ wall of the cost batches: 2.0 = one call keeps two cores busy
    thread_pools: list[dict[str, Any]] = field(default_factory=list)  # threadpoolctl's BLAS / OpenMP pools
    inner_pool: dict[str, Any] | None = None  # the pool whose limit to 1 thread made the call slowest
    limited_slowdown: float | None = None  # a call's wall with inner_pool limited to 1 thread / without

    @property
    def uses_cores(self) -> bool:
        """Whether one call alone already keeps more than about one core busy."""
        return self.parallelism >= INNER_PARALLEL_AT

    @property
    def speedup(self) -> dict[str, dict[int, float | None]]:
        """{runner: {workers: median paired speedup, or None (error, or too noisy to tell)}}."""
        found: dict[str, dict[int, float | None]] = {}
        for point in self.points:
            paired = point.speedup
            told = paired is not None and not paired.too_noisy
            found.setdefault(point.runner, {})[point.workers] = paired.speedup if paired is not None and told else None
        return found

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["points"] = [point.to_dict() for point in self.points]
        return data
