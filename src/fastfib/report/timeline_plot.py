"""The timelines of ``fastfib trace`` (and ``scale --timeline``) as a picture: one panel per
configuration, one lane per thread, a bar wherever the thread was on a CPU."""

from __future__ import annotations

from collections.abc import Sequence

from fastfib.lab import plotting
from fastfib.measure.timeline import Timeline

__all__ = ["write_timeline_plot"]


def write_timeline_plot(path: str, timelines: Sequence[Timeline]) -> None:
    """PNG (SVG for a path ending in .svg): GIL-holding threads take turns, nogil threads overlap."""
    lanes = [max(1, len(timeline.tracks)) for timeline in timelines]
    figure, axes = plotting.figure(len(timelines), 1, size=(8.0, 0.9 + sum(0.45 * count + 0.6 for count in lanes)),
                                   squeeze=False, gridspec_kw={"height_ratios": lanes})
    for ax, timeline in zip((row[0] for row in axes), timelines, strict=True):
        for lane, track in enumerate(reversed(timeline.tracks)):
            ax.broken_barh([(start, end - start) for start, end in track.slices], (lane - 0.35, 0.7),
                           color="tab:orange" if track.kind == "process" else "tab:blue")
        ax.set_yticks(range(len(timeline.tracks)), [track.name for track in reversed(timeline.tracks)], fontsize=8)
        ax.set_xlim(0, 1000 * timeline.wall_s)
        ax.set_ylim(-0.6, max(0.6, len(timeline.tracks) - 0.4))
        ax.set_title(f"{timeline.label}: overlap {timeline.overlap:.2f}, parallelism {timeline.parallelism:.2f}",
                     fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[-1][0].set_xlabel("ms from the batch's start (bars: on a CPU, sampled every ~1 ms)", fontsize=8)
    plotting.save(figure, path)
