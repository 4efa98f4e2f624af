"""A timeline as text, for the terminal: its figures, then one strip per thread (``fastfib
trace``, and ``fastfib probe --timeline``)."""

from __future__ import annotations

from typing import Any

__all__ = ["LEGEND", "format_timeline"]

LEGEND = ("strips: █ on a CPU for most of the cell, ▌ part of it, ░ runnable but waiting for a CPU, · not running "
          "(asleep: the GIL, a lock, I/O); overlap = share of the wall with two or more threads on a CPU; "
          "parallelism = CPU / wall.")


def format_timeline(timeline: Any, width: int = 60) -> str:
    """A timeline as text: its figures, then one strip per thread."""
    from fastfib.measure import timeline as timelines

    cost = timeline.extra.get("sampler_cost")
    lines = [f"{timeline.label}: wall {1000 * timeline.wall_s:.1f} ms, parallelism (CPU / wall) "
             f"{timeline.parallelism:.2f}, overlap {timeline.overlap:.2f} (two or more threads on a CPU "
             f"{timeline.overlap:.0%} of the time)"]
    strips = timelines.strips(timeline, width)
    name_width = max([len(name) for name, _ in strips] + [10])
    lines += [f"  {name.ljust(name_width)}  {strip}" for name, strip in strips]
    lines.append(f"  {''.ljust(name_width)}  0 ms{f'{1000 * timeline.wall_s:.0f} ms'.rjust(width - 4)}")
    if timeline.hidden_tracks:
        lines.append(f"  ({timeline.hidden_tracks} idle thread(s) not shown)")
    lines += _waited_lines(timeline)
    if cost:
        lines.append(f"  sampler: {timeline.samples} samples every {1000 * timeline.period_s:.2f} ms, its own CPU "
                     f"{1000 * timeline.sampler_cpu_s:.1f} ms; traced runs took {cost['slowdown']:.2f}x the "
                     f"untraced ones ({cost['low']:.2f}-{cost['high']:.2f}x, {cost['pairs']} pairs)")
    if timeline.truncated:
        lines.append("  the sampler's buffer ran out before the batch ended: the timeline stops early")
    return "\n".join(lines)


def _waited_lines(timeline: Any) -> list[str]:
    """Each thread's time runnable but waiting for a CPU (its run delay): a line, or none
    where no thread's could be read (worker processes only; a kernel without schedstat)."""
    read = [track for track in timeline.tracks if track.waited_s is not None]
    if not read:
        return []
    waited = [f"{track.name} {1000 * track.waited_s:.1f} ms" for track in read if track.waited_s >= 0.00005]
    return [f"  waited for a CPU (░: runnable, but the machine ran something else): {', '.join(waited) or 'none'}"]
