"""The timelines of ``fastfib trace`` (and ``scale --timeline``) as a picture: one panel per
configuration, one lane per thread, a solid bar wherever the thread was on a CPU and a hatched
one wherever it was runnable but waiting for a CPU (the machine ran something else); blank
where it did not want a CPU (asleep: waiting for the GIL, a lock, I/O, or idle)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastfib.lab import plotting
from fastfib.measure.timeline import Timeline

__all__ = ["WAITING_STYLE", "write_timeline_plot"]

ON_CPU_COLOURS = {"thread": "tab:blue", "process": "tab:orange"}
# Runnable, waiting for a CPU: hatched and pale, in the lane's own place, so it reads as
# "this thread wanted to run here" rather than as a fourth kind of work.
WAITING_STYLE: dict[str, Any] = {"facecolor": "mistyrose", "edgecolor": "tab:red", "hatch": "////", "linewidth": 0.0}


def write_timeline_plot(path: str, timelines: Sequence[Timeline]) -> None:
    """PNG (SVG for a path ending in .svg): GIL-holding threads take turns, nogil threads overlap;
    a thread the machine did not run is hatched, one waiting for the GIL is blank."""
    from matplotlib.patches import Patch
    from matplotlib.transforms import offset_copy

    lanes = [max(1, len(timeline.tracks)) for timeline in timelines]
    figure, axes = plotting.figure(len(timelines), 1, size=(8.0, 1.2 + sum(0.45 * count + 0.6 for count in lanes)),
                                   squeeze=False, gridspec_kw={"height_ratios": lanes})
    kinds: set[str] = set()
    waited = False
    for ax, timeline in zip((row[0] for row in axes), timelines, strict=True):
        for lane, track in enumerate(reversed(timeline.tracks)):
            kinds.add(track.kind)
            ax.broken_barh([(start, end - start) for start, end in track.slices], (lane - 0.35, 0.7),
                           color=ON_CPU_COLOURS.get(track.kind, "tab:blue"))
            if track.waiting:
                waited = True
                ax.broken_barh([(start, end - start) for start, end in track.waiting], (lane - 0.35, 0.7),
                               **WAITING_STYLE)
        ax.set_yticks(range(len(timeline.tracks)), [track.name for track in reversed(timeline.tracks)], fontsize=8)
        ax.set_xlim(0, 1000 * timeline.wall_s)
        ax.set_ylim(-0.6, max(0.6, len(timeline.tracks) - 0.4))
        waits = "" if timeline.waited_s is None else f", waited for a CPU {1000 * timeline.waited_s:.1f} ms"
        ax.set_title(f"{timeline.label}: overlap {timeline.overlap:.2f}, parallelism {timeline.parallelism:.2f}"
                     f"{waits}", fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    legend = [Patch(color=ON_CPU_COLOURS[kind], label=f"on a CPU ({kind if kind == 'thread' else 'worker process'})")
              for kind in ("thread", "process") if kind in kinds or (kind == "thread" and not kinds)]
    legend.append(Patch(**WAITING_STYLE, label="runnable, waiting for a CPU" + ("" if waited else " (none here)")))
    legend.append(Patch(facecolor="white", edgecolor="lightgrey", label="blank: not running (asleep, GIL, lock)"))
    axes[-1][0].set_xlabel("ms from the batch's start (sampled every ~1 ms)", fontsize=8)
    # A legend of the last panel, 26 points below it (under its axis label) whatever its height:
    # tight_layout counts an axes' legend, so the figure makes room for it.
    below = offset_copy(axes[-1][0].transAxes, fig=figure, y=-26, units="points")
    axes[-1][0].legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
                       ncol=len(legend), fontsize=7, frameon=False)
    plotting.save(figure, path)
