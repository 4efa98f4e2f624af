"""The HTML report's plots: matplotlib's SVG output, made fit to sit inline in a page.

Every plot is drawn by a function that writes to a path (``report.write_plot``,
each lab module's ``plot``, or the ones here), given a name ending in ``.svg``.
:func:`inline_svg` runs one in a temporary folder and returns the SVG element:
text kept as text (small, searchable, crisp in print), no fixed size (the
page's CSS scales it), and every ``id`` prefixed so that several plots in one
page never share one.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from fastfib import measure, report
from fastfib.lab import crossover, plotting

__all__ = ["crossover_plot", "inline_svg", "overlay_plot"]

_XML_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)  # the XML declaration and DOCTYPE
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_SIZE = re.compile(r'\s(width|height)="[^"]*pt"')


def inline_svg(draw: Callable[[str], None], prefix: str, label: str) -> str:
    """The SVG that ``draw(path)`` writes, as an element for an HTML page (see the module notes)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    # "none": fonts as <text>, not as paths; the salt: the same ids on every run (reproducible pages).
    with tempfile.TemporaryDirectory(prefix="fastfib-report-") as folder, \
            matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fastfib"}):
        path = str(Path(folder) / "plot.svg")
        draw(path)
        text = Path(path).read_text(encoding="utf-8")
    text = _METADATA.sub("", _XML_PROLOGUE.sub("", text, count=1))
    head, rest = text.split(">", 1)
    head = _SIZE.sub("", head) + f' class="plot" role="img" aria-label="{_attribute(label)}"'
    rest = re.sub(r'\bid="', f'id="{prefix}-', rest)
    rest = re.sub(r'href="#', f'href="#{prefix}-', rest)
    rest = re.sub(r"url\(#", f"url(#{prefix}-", rest)
    return head + ">" + rest


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def crossover_plot(path: str, runs: Sequence[tuple[str, Sequence[crossover.Point]]]) -> None:
    """Threads / processes throughput against task size, one line per run, the meeting band shaded."""
    figure, ax = plotting.figure()
    for label, points in runs:
        ordered = sorted(points, key=lambda p: p.task_ms)
        ax.plot([p.task_ms for p in ordered], [p.ratio for p in ordered], marker="o",
                label=f"{label + ': ' if label else ''}threads / processes")
    ax.axhline(1.0, color="0.5", lw=1)
    ax.axhspan(1.0, crossover.MEET_WITHIN, color="0.85", label=f"met (within {crossover.MEET_WITHIN - 1:.0%})")
    ax.set_xscale("log")
    ax.set_xlabel("task ms (log scale)")
    ax.set_ylabel("throughput ratio, threads / processes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plotting.save(figure, path)


_LINESTYLES = ("-", "--", ":", "-.")


def overlay_plot(path: str, runs: Sequence[tuple[str, Sequence[measure.Row]]], cores: int) -> None:
    """Speedup vs workers, one panel per kernel, a colour per runner and a line style per run."""
    kernels = list(dict.fromkeys(row.kernel for _, rows in runs for row in rows))
    runner_names = list(dict.fromkeys(row.runner for _, rows in runs for row in rows if row.runner != "sequential"))
    colours = {name: f"C{index % 10}" for index, name in enumerate(runner_names)}
    columns = min(2, max(1, len(kernels)))
    lines = max(1, math.ceil(len(kernels) / columns))
    figure, axes = plotting.figure(lines, columns, size=(5.2 * columns, 3.8 * lines), squeeze=False, sharey=True)
    speedups = [row.speedup for _, rows in runs for row in rows if row.speedup is not None]
    top = max([cores, *speedups]) * 1.15
    for index, kernel in enumerate(kernels):
        ax = axes[index // columns][index % columns]
        counts = sorted({row.workers for _, rows in runs for row in rows if row.kernel == kernel} | {1})
        ax.plot(counts, [min(w, cores) for w in counts], color="0.6", lw=1, label=f"ideal: min(workers, {cores})")
        for number, (label, rows) in enumerate(runs):
            for runner in runner_names:
                points = sorted((row.workers, row.speedup) for row in rows if row.kernel == kernel
                                and row.runner == runner and row.speedup is not None)
                if points:
                    ax.plot([w for w, _ in points], [s for _, s in points], marker="o", color=colours[runner],
                            ls=_LINESTYLES[number % len(_LINESTYLES)], label=f"{label}: {runner}")
        ax.set_xticks(counts)
        report.dress_panel(ax, kernel, top)
    for index in range(len(kernels), lines * columns):
        axes[index // columns][index % columns].set_visible(False)
    plotting.save(figure, path)
