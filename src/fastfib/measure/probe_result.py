"""What ``fastfib probe`` found: :class:`ProbeResult` and its :class:`ScalePoint` rows.

Data only, in a module of its own so that both the measuring (:mod:`fastfib.measure.probing`)
and the advice (:mod:`fastfib.measure.probe_advice`) import it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fastfib.measure import paired, verdicts

__all__ = ["BYTECODE_AT", "INNER_PARALLEL_AT", "SLOWED_AT", "ProbeResult", "ScalePoint"]

INNER_PARALLEL_AT = 1.3  # CPU ÷ wall of one call alone from which it counts as running its own threads
# A pool did a call's parallel work when limiting it to one thread slows the call by at least this
# share of what its parallelism allows: 1 + 0.5 x (2.0 - 1) = 1.5x for a call on 2 cores.
SLOWED_AT = 0.5
BYTECODE_AT = 0.5  # share of a call's time in Python opcodes from which it counts as bytecode


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

    def verdict(self, cores: int) -> str:
        """The scaling verdict of this point (:mod:`fastfib.measure.verdicts`): "scales", "flat",
        "partly", "too noisy to tell", "cannot tell" (the machine was short) or "" (no figure)."""
        if self.speedup is None:
            return ""
        return verdicts.verdict({**self.speedup.to_dict(), "ideal": min(self.workers, cores)})

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
    judged: dict[str, Any] = field(default_factory=dict)  # the verdict's evidence (gil_verdict.Judged.to_dict)
    # What other threads see: their longest wait beside the call at the interpreter's real switch
    # interval (not the probe's raised one). A C call holding the GIL stalls them for its whole
    # length; bytecode hands the GIL over every switch interval.
    switch_interval_s: float = 0.005
    stall_ms: float = 0.0
    yields: bool | None = None  # a call that holds the GIL hands it over at a short switch interval
    opcodes_per_call: int = 0  # Python opcodes one call executes (fastfib's harness subtracted)
    bytecode_share: float = 0.0  # their share of the call's time (a lower bound; see measure.bytecode)
    budget_s: float | None = None  # what the probe was allowed in all
    gave_up: list[str] = field(default_factory=list)  # what the budget could not afford, and why

    @property
    def uses_cores(self) -> bool:
        """Whether one call alone already keeps more than about one core busy."""
        return self.parallelism >= INNER_PARALLEL_AT

    @property
    def is_bytecode(self) -> bool:
        """Whether the call is mostly Python bytecode (a Python loop, or C calling back into Python):
        it hands the GIL over at a short switch interval, or its opcodes take half its time."""
        return bool(self.yields) or self.bytecode_share >= BYTECODE_AT

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
