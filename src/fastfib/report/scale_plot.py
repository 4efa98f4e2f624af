"""A scale run's plot: speedup against workers, one panel per kernel (PNG, or SVG for the HTML report)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from fastfib.files import write_atomic
from fastfib.measure import Row, amdahl

__all__ = ["dress_panel", "write_plot"]

def _series(rows: Sequence[Row]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(kernel, runner) -> [(workers, speedup)], each sorted, errors left out."""
    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        if row.speedup is not None and row.runner != "sequential":
            found.setdefault((row.kernel, row.runner), []).append((row.workers, row.speedup))
    return {key: sorted(points) for key, points in found.items()}


def dress_panel(ax: Any, kernel: str, top: float) -> None:
    """One kernel's panel of a speedup-vs-workers plot: its title, axes, grid and legend."""
    ax.set_title(kernel)
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup vs sequential")
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def write_plot(path: str | os.PathLike[str], rows: Sequence[Row], cores: int, title: str = "") -> None:
    """PNG (SVG for a path ending in .svg): speedup vs workers, one panel per kernel, one line per runner, with
    the ideal min(workers, cores), each line's fitted Amdahl curve (dashed) and, for rows whose ``extra``
    carries ``speedup_low``/``speedup_high``, that interval as error bars."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only: never needs a display
    from matplotlib import pyplot as plt

    series = _series(rows)
    intervals: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for row in rows:
        if row.speedup is not None and "speedup_low" in row.extra:
            intervals.setdefault((row.kernel, row.runner), []).append(
                (row.workers, row.extra["speedup_low"], row.extra["speedup_high"]))
    kernels = list(dict.fromkeys(row.kernel for row in rows))
    columns = min(2, max(1, len(kernels)))
    lines = max(1, math.ceil(len(kernels) / columns))
    figure, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 3.8 * lines),
                                squeeze=False, sharey=True)
    top = max([cores] + [s for points in series.values() for _, s in points]
              + [hi for bars in intervals.values() for _, _, hi in bars]) * 1.15
    for index, kernel in enumerate(kernels):
        ax = axes[index // columns][index % columns]
        most = max([w for (k, _), pts in series.items() if k == kernel for w, _ in pts] or [cores])
        amdahl.draw_ideal(ax, most, cores)
        for (name, runner), points in series.items():
            if name != kernel:
                continue
            drawn = ax.plot([w for w, _ in points], [s for _, s in points], marker="o", label=runner)
            bars = intervals.get((name, runner))
            if bars:  # paired speedups carry their 95 % interval
                ax.errorbar([w for w, _, _ in bars], [(lo + hi) / 2 for _, lo, hi in bars],
                            yerr=[(hi - lo) / 2 for _, lo, hi in bars], fmt="none", capsize=3,
                            color=drawn[0].get_color(), lw=1)
            serial = amdahl.fit([(min(w, cores), s) for w, s in points])
            if serial is not None:
                amdahl.draw_curve(ax, serial, most, cores, drawn[0].get_color(),
                                  label=f"{runner}: Amdahl, serial {serial:.2f}")
        ax.set_xticks(sorted({w for (k, _), pts in series.items() if k == kernel for w, _ in pts} | {1}))
        dress_panel(ax, kernel, top)
    for index in range(len(kernels), lines * columns):
        axes[index // columns][index % columns].set_visible(False)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()

    def write(temporary: str) -> None:  # SVG when the name ends in .svg (the HTML report's), else PNG
        figure.savefig(temporary, format="svg" if str(path).endswith(".svg") else "png", dpi=110)

    try:
        write_atomic(path, write)
    finally:
        plt.close(figure)
