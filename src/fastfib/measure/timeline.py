"""Per-thread timelines: which thread was on a CPU when, while a batch ran -- the GIL made visible.

:func:`record` runs one batch on a warm pool while a sampler outside the
measured threads (:mod:`fastfib._sampler`: a C thread that never takes the
GIL) reads the CPU clock of every thread of this process and of every worker
process about every millisecond. Between two samples a thread that gained at
least half the interval in CPU time counts as *on a CPU*; consecutive such
intervals make its on-CPU slices. Threads that hold the GIL in turn show as
alternating slices of about the switch interval (5 ms); threads that released
it overlap.

A thread off a CPU is in one of two states, and the sampler tells them apart.
It also reads each thread's *run delay* (``/proc/self/task/<tid>/schedstat``:
ns runnable but waiting on a run queue): a thread waiting for the GIL or a
lock sleeps, so its run delay stands still (*not running*: it did not want a
CPU); a thread the machine did not run -- another thread or process had its
CPU -- is runnable, and its run delay grows (*waiting for a CPU*). Stretches of
the latter make a thread's waiting slices, drawn beside its on-CPU slices.

From the samples come, for the batch's wall time alone:

* ``overlap``: the share of the wall during which two or more tracks were on
  a CPU at once (0 for threads taking turns, near 1 for two nogil threads on
  two free cores);
* ``parallelism``: the tracks' CPU time / wall, as ``fastfib scale`` reports it.

Resolution: the sampling period (1 ms by default; the achieved median period
is recorded), so slices shorter than a period blur into their neighbours. A
thread's CPU clock is exact when read, unlike ``/proc/<pid>/task/<tid>/schedstat``,
which moves only at the scheduler tick (4 ms here). A worker *process* can only
be read from outside as a whole, and that clock moves at the tick too: process
tracks have a resolution of about 4 ms. The run delay in that same file, on
the other hand, is exact but late: the kernel adds a wait when it ends (the
thread gets a CPU), so waits are attributed back to the intervals just before;
a process has none (its tracks are never drawn waiting). Cost: the sampler wakes
once a period, on one of the machine's cores; ``fastfib trace`` measures how
much it slows the traced run (paired with untraced runs) and records the
sampler's own CPU time.

A timeline's document (:func:`document`) is Chrome trace-event JSON: it opens
in Perfetto (ui.perfetto.dev) and ``chrome://tracing``, one process track per
configuration, one thread track per watched thread, one slice per stretch on
a CPU and one per stretch waiting for a CPU; its ``configurations`` hold the
same slices and figures for ``fastfib report`` and for scripts. Linux only.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fastfib.files import envelope
from fastfib.runners import executors

__all__ = ["BUSY", "PERIOD_S", "READS", "SCHEMA", "SCHEMA_VERSION", "Timeline", "Track", "build", "chrome_events",
           "cost", "document", "record", "strips", "unavailable"]

# Schema history (bump SCHEMA_VERSION on any change a reader would notice):
#   1 -- {"schema", "schema_version", "meta", "configurations": [Timeline.to_dict()], "displayTimeUnit",
#        "traceEvents"}; each track: name, kind, id, cpu_s, slices ([start_ms, end_ms] on a CPU).
#   2 -- each track also has "waiting" ([start_ms, end_ms] runnable but waiting for a CPU, from the
#        run delay in schedstat) and "waited_s" (the run delay gained during the batch; null where it
#        was not read: a worker process, a version-1 file, a kernel without schedstat); traceEvents gain
#        "waiting for a CPU" slices. Version 1 files still read (READS): no waiting, waited_s null.
SCHEMA, SCHEMA_VERSION = "fastfib.trace", 2
READS = (1, 2)  # the schema versions Timeline.from_dict (and so fastfib report) reads
PERIOD_S = 0.001  # the sampler's period: about 1 kHz
BUSY = 0.5  # a track is on a CPU in an interval where it gained at least half of it in CPU time
PROCESS_RESOLUTION_S = 0.004  # a process's clock read from outside moves at the scheduler tick (HZ=250 here)
MAX_S = 120.0  # samples kept per traced batch, at most (then sampling stops; the timeline says so)


@dataclass
class Track:
    """One watched thread (of this process) or worker process."""

    name: str
    kind: str  # "thread" or "process"
    id: int  # kernel thread id or process id
    cpu_s: float = 0.0  # CPU time gained during the batch
    slices: list[list[float]] = field(default_factory=list)  # [start_ms, end_ms] on a CPU, from the batch's start
    waiting: list[list[float]] = field(default_factory=list)  # [start_ms, end_ms] runnable, waiting for a CPU
    waited_s: float | None = None  # run delay gained during the batch; None: not read (a process, no schedstat)

    @property
    def on_cpu_ms(self) -> float:
        return sum(end - start for start, end in self.slices)

    @property
    def waiting_ms(self) -> float:
        return sum(end - start for start, end in self.waiting)


@dataclass
class Timeline:
    """One traced batch: its tracks, on-CPU slices, overlap and parallelism."""

    label: str  # e.g. "cython-gil threads x2"
    wall_s: float
    period_s: float  # the median interval between samples actually achieved
    samples: int
    overlap: float  # share of the wall with two or more tracks on a CPU
    parallelism: float  # the tracks' CPU time / wall
    sampler_cpu_s: float  # CPU time the sampler itself used
    tracks: list[Track]
    hidden_tracks: int = 0  # watched threads that never ran during the batch (not drawn)
    truncated: bool = False  # the sampler's buffer ran out before the batch ended
    extra: dict[str, Any] = field(default_factory=dict)  # kernel, runner, workers, tasks, ... and cost

    @property
    def waited_s(self) -> float | None:
        """The time the tracks spent runnable but waiting for a CPU, together; None where none was read."""
        read = [track.waited_s for track in self.tracks if track.waited_s is not None]
        return sum(read) if read else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        found = dict(data)
        found["tracks"] = [Track(**track) for track in data.get("tracks", [])]
        return cls(**found)


def unavailable() -> str | None:
    """Why timelines cannot be recorded here, or None."""
    if not sys.platform.startswith("linux"):
        return "per-thread timelines need Linux (thread CPU clocks addressed by thread id)"
    try:
        from fastfib import _sampler  # noqa: F401
    except ImportError as exc:
        return f"the compiled sampler is not built ({exc}): pip install fastfib, or run 'make'"
    return None


def _watched(pool: executors.Pool) -> list[tuple[str, str, int]]:
    """(name, kind, id) of every thread of this process and every worker process of ``pool``."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    found = []
    for entry in sorted(os.listdir("/proc/self/task"), key=int):
        tid = int(entry)
        name = names.get(tid)
        if name is None:  # a thread Python did not start (a BLAS or OpenMP pool, say)
            try:
                with open(f"/proc/self/task/{tid}/comm") as comm:
                    name = f"native {tid} ({comm.read().strip()})"
            except OSError:
                continue  # it has just ended
        found.append((name, "thread", tid))
    found += [(f"worker process {pid}", "process", pid) for pid in pool.pids]
    return found


def _sampled_run(pool: executors.Pool, fn: Callable[..., Any], arglist: Iterable[Sequence[Any]],
                 period_s: float) -> tuple[executors.Batch, Any, list[tuple[str, str, int]]]:
    from fastfib._sampler import Sampler

    watched = _watched(pool)
    sampler = Sampler([(ident, kind == "process") for _, kind, ident in watched], period_s, MAX_S)
    sampler.start()
    try:
        batch = pool.run(fn, list(arglist))
    finally:
        sampler.stop()
    return batch, sampler, watched


def record(pool: executors.Pool, fn: Callable[..., Any], arglist: Iterable[Sequence[Any]], *, label: str,
           period_s: float = PERIOD_S) -> tuple[executors.Batch, Timeline]:
    """Run ``fn`` over ``arglist`` on ``pool`` once, sampled; the batch and its timeline."""
    batch, sampler, watched = _sampled_run(pool, fn, arglist, period_s)
    timeline = build(label, sampler.rows(), watched, batch.started, batch.finished, waits=sampler.waits(),
                     sampler_cpu_s=sampler.own_cpu_ns / 1e9, truncated=sampler.full)
    return batch, timeline


def cost(pool: executors.Pool, fn: Callable[..., Any], arglist: Sequence[Sequence[Any]], *,
         period_s: float = PERIOD_S, pairs: int = 6, budget_s: float = 2.0) -> dict[str, Any]:
    """How much sampling slows the batch: untraced (A) and traced (B) runs in alternation;
    ``slowdown`` = traced / untraced wall (the median over pairs, with its interval)."""
    from fastfib.measure import paired

    def untraced() -> float:
        return pool.run(fn, list(arglist)).wall_s

    def traced() -> float:
        return _sampled_run(pool, fn, arglist, period_s)[0].wall_s

    kept = paired.measure(untraced, traced, budget_s=budget_s, min_pairs=pairs)  # untraced / traced
    return {"slowdown": 1 / kept.speedup, "low": 1 / kept.high, "high": 1 / kept.low, "pairs": kept.pairs}


def _fractions(rows: Sequence[Sequence[int]], column: int, span: int) -> list[float]:
    """Per interval between consecutive rows: the CPU share the track gained, read over
    ``span`` intervals around it (1: the interval itself); 0 where it could not be read."""
    last = len(rows) - 1
    found = []
    for index in range(last):
        first = min(max(0, index - (span - 1) // 2), max(0, last - span))
        end = min(last, first + span)
        a, b = rows[first][column], rows[end][column]
        took = rows[end][0] - rows[first][0]
        found.append((b - a) / took if a >= 0 and b >= 0 and took > 0 else 0.0)
    return found


def _waiting(rows: Sequence[Sequence[int]], waits: Sequence[Sequence[int]], index: int) -> list[float] | None:
    """Per interval between consecutive rows: the ns track ``index`` spent runnable but
    waiting for a CPU; None where its run delay was never read (a process; no schedstat).

    The kernel adds a wait to the run delay only when the thread *arrives* on a CPU, so a
    wait shows as a jump at the first sample after it ended, however long it lasted. Each
    jump is therefore attributed to the interval it shows in and then to the ones just
    before, backwards, each taking at most the part of it the thread was not on a CPU (a
    thread cannot run and wait at once). A wait still going on at the last sample is not
    seen at all: it is added only when the thread next gets a CPU."""
    column = [row[index] for row in waits]
    if all(value < 0 for value in column):
        return None
    found = [0.0] * (len(rows) - 1)
    for step in range(len(found)):
        a, b = column[step], column[step + 1]
        jump: float = b - a if a >= 0 and b >= 0 else 0  # ns of waits that ended in this interval
        back = step
        while jump > 0 and back >= 0:
            before, after = rows[back], rows[back + 1]
            a_cpu, b_cpu = before[1 + index], after[1 + index]
            on_cpu = b_cpu - a_cpu if a_cpu >= 0 and b_cpu >= 0 else 0
            taken = min(jump, max(0.0, after[0] - before[0] - on_cpu - found[back]))
            found[back] += taken
            jump -= taken
            back -= 1
    return found


def _mark(into: list[list[float]], since: list[float | None], index: int, now: bool, at_ms: float) -> None:
    """One track's state at ``at_ms``: a slice of it opens where the state begins (``since``
    remembers where) and is added to ``into`` where it ends."""
    if now and since[index] is None:
        since[index] = at_ms
    elif not now and (began := since[index]) is not None:
        into.append([round(began, 3), round(at_ms, 3)])
        since[index] = None


def build(label: str, rows: Sequence[Sequence[int]], watched: Sequence[tuple[str, str, int]], started: float,
          finished: float, *, waits: Sequence[Sequence[int]] | None = None, sampler_cpu_s: float = 0.0,
          truncated: bool = False) -> Timeline:
    """A timeline from the sampler's rows (monotonic ns, then each track's CPU ns), for the
    window ``started``..``finished`` (``time.perf_counter()`` seconds: the same clock on Linux).

    A worker process's clock, read from outside it, moves only at the scheduler tick
    (``PROCESS_RESOLUTION_S``), so a process track is on a CPU where it gained at least
    ``BUSY`` of the interval over a tick's worth of samples around it.

    ``waits`` (the sampler's run delays, one row per row of ``rows``; None: not read) give
    each thread's waiting slices: where it spent at least ``BUSY`` of an interval runnable
    but waiting for a CPU (see :func:`_waiting`)."""
    start_ns, end_ns = int(started * 1e9), int(finished * 1e9)
    wall_ns = max(1, end_ns - start_ns)
    periods = [b[0] - a[0] for a, b in zip(rows, rows[1:], strict=False)]
    period_ns = statistics.median(periods) if periods else 0
    tick = max(1, round(PROCESS_RESOLUTION_S * 1e9 / period_ns)) if period_ns else 1
    tracks = [Track(name, kind, ident) for name, kind, ident in watched]
    busy = [_fractions(rows, 1 + index, tick if track.kind == "process" else 1) for index, track in enumerate(tracks)]
    waited = [_waiting(rows, waits, index) if waits else None for index in range(len(tracks))]
    waited_ns = [0.0 if found is not None else None for found in waited]
    waiting_since: list[float | None] = [None] * len(tracks)  # where each track's current wait began (ms)
    overlap_ns = 0  # time with two or more tracks on a CPU
    cpu_ns = [0.0] * len(tracks)
    open_at: list[float | None] = [None] * len(tracks)  # where each track's current slice began (ms)
    last_ms = 0.0  # the end of the last interval inside the window
    for step, (before, after) in enumerate(zip(rows, rows[1:], strict=False)):
        lo, hi = max(before[0], start_ns), min(after[0], end_ns)
        if hi <= lo:
            continue
        share = (hi - lo) / (after[0] - before[0])  # the part of this interval inside the window
        lo_ms = (lo - start_ns) / 1e6
        on = 0
        for index, track in enumerate(tracks):
            a, b = before[1 + index], after[1 + index]
            cpu_ns[index] += (b - a) * share if a >= 0 and b >= 0 else 0
            running = busy[index][step] >= BUSY
            on += running
            _mark(track.slices, open_at, index, running, lo_ms)
            if (found := waited[index]) is not None:
                waited_ns[index] = (waited_ns[index] or 0.0) + found[step] * share
                waiting = not running and found[step] >= BUSY * (after[0] - before[0])  # one state at a time
                _mark(track.waiting, waiting_since, index, waiting, lo_ms)
        last_ms = (hi - start_ns) / 1e6
        if on >= 2:
            overlap_ns += hi - lo
    for index, track in enumerate(tracks):
        _mark(track.slices, open_at, index, False, last_ms)
        _mark(track.waiting, waiting_since, index, False, last_ms)
        track.cpu_s = cpu_ns[index] / 1e9
        track.waited_s = None if (track_ns := waited_ns[index]) is None else track_ns / 1e9
    shown = [track for track in tracks if track.slices or track.waiting or track.cpu_s > 0.001 * wall_ns / 1e9]
    return Timeline(
        label=label, wall_s=wall_ns / 1e9, period_s=period_ns / 1e9, samples=len(rows),
        overlap=overlap_ns / wall_ns, parallelism=sum(cpu_ns) / wall_ns, sampler_cpu_s=sampler_cpu_s,
        tracks=shown, hidden_tracks=len(tracks) - len(shown), truncated=truncated,
    )


# --- outputs ------------------------------------------------------------------------------------

def strips(timeline: Timeline, width: int = 60) -> list[tuple[str, str]]:
    """(track name, a strip of ``width`` cells): "█" on a CPU for most of the cell, "▌" for
    part of it, "░" runnable but waiting for a CPU (for more than a tenth of the cell, and
    not on a CPU for most of it), "·" neither -- the timeline in a terminal."""
    wall_ms = 1000 * timeline.wall_s
    cell = wall_ms / width

    def covered(slices: list[list[float]], lo: float, hi: float) -> float:
        return sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in slices)

    found = []
    for track in timeline.tracks:
        cells = []
        for index in range(width):
            lo, hi = index * cell, (index + 1) * cell
            on, waiting = covered(track.slices, lo, hi), covered(track.waiting, lo, hi)
            cells.append("█" if on >= 0.5 * cell else "░" if waiting >= max(on, 0.1 * cell)
                         else "▌" if on > 0.1 * cell else "·")
        found.append((track.name, "".join(cells)))
    return found


def chrome_events(timelines: Sequence[Timeline]) -> list[dict[str, Any]]:
    """Chrome trace events: a process track per timeline (``pid`` = its number), a thread
    track per watched thread, an "on CPU" complete event ("X", times in µs) per slice and a
    "waiting for a CPU" one per waiting slice, coloured (``cname``) as chrome://tracing colours
    a thread's running and runnable states."""
    events: list[dict[str, Any]] = []
    for number, timeline in enumerate(timelines, start=1):
        events.append({"name": "process_name", "ph": "M", "pid": number,
                       "args": {"name": f"{timeline.label}: overlap {timeline.overlap:.2f}, "
                                        f"parallelism {timeline.parallelism:.2f}"}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": number, "args": {"sort_index": number}})
        for tid, track in enumerate(timeline.tracks, start=1):
            events.append({"name": "thread_name", "ph": "M", "pid": number, "tid": tid,
                           "args": {"name": track.name}})
            for name, colour, slices in (("on CPU", "thread_state_running", track.slices),
                                         ("waiting for a CPU", "thread_state_runnable", track.waiting)):
                events += [{"name": name, "cat": track.kind, "ph": "X", "pid": number, "tid": tid,
                            "ts": round(1000 * start, 1), "dur": round(1000 * (end - start), 1), "cname": colour}
                           for start, end in slices]
    return events


def document(timelines: Sequence[Timeline], meta: dict[str, Any]) -> dict[str, Any]:
    """The trace document: fastfib's envelope, ``configurations`` (each timeline), and
    ``traceEvents`` / ``displayTimeUnit`` for Perfetto and chrome://tracing."""
    return envelope(SCHEMA, SCHEMA_VERSION, meta, {
        "configurations": [timeline.to_dict() for timeline in timelines],
        "displayTimeUnit": "ms",
        "traceEvents": chrome_events(timelines),
    })

