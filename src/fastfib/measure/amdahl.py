"""Amdahl's law, as the lab and the reports use it: the curve, its fit to measured
speedups, the Karp-Flatt serial fraction of one speedup, and the two lines every
speedup plot draws (the ideal and a fitted curve).

``p`` is the number of processors the work can use: min(workers, usable cores).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["draw_curve", "draw_ideal", "fit", "karp_flatt", "speedup"]


def speedup(serial: float, p: float) -> float:
    """The speedup on p processors of work whose serial fraction is ``serial``."""
    return 1 / (serial + (1 - serial) / p)


def karp_flatt(measured: float | None, p: int) -> float | None:
    """The serial fraction one measured speedup on p processors implies (Karp-Flatt);
    None for p < 2 or no speedup."""
    if measured is None or p < 2 or measured <= 0:
        return None
    return (1 / measured - 1 / p) / (1 - 1 / p)


def fit(points: Sequence[tuple[float, float | None]]) -> float | None:
    """The serial fraction (0..1) whose curve best fits (p, speedup) points.

    Least squares on the speedups, by a fine search (one parameter, a bounded
    range: simpler and sturdier than a solver). None without a point at p > 1.
    """
    usable = [(p, s) for p, s in points if p > 1 and s is not None and s > 0]
    if not usable:
        return None

    def misfit(f: float) -> float:
        return sum((speedup(f, p) - s) ** 2 for p, s in usable)

    return min((i / 2000 for i in range(2001)), key=misfit)


def _workers_axis(most: float) -> list[float]:
    return [1 + i * (most - 1) / 100 for i in range(101)]


def draw_ideal(ax: Any, most: float, cores: int) -> None:
    """The grey ideal min(workers, cores) on a matplotlib axis, from 1 to ``most`` workers."""
    xs = _workers_axis(most)
    ax.plot(xs, [min(w, cores) for w in xs], color="0.6", lw=1, label=f"ideal: min(workers, {cores})")


def draw_curve(ax: Any, serial: float, most: float, cores: int, color: Any, label: str | None = None) -> None:
    """The dashed curve of serial fraction ``serial`` against workers, from 1 to ``most``."""
    xs = _workers_axis(most)
    ax.plot(xs, [speedup(serial, min(w, cores)) for w in xs], ls="--", lw=1, color=color, label=label)
