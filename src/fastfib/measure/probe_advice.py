"""The advice ``fastfib probe`` closes with: one or two plain sentences from a
:class:`fastfib.measure.probe_result.ProbeResult` and this machine's core count.

It reads only the result's data (:mod:`fastfib.measure.probe_result`), never the
measuring module that produced it: the data flows one way, measuring → result → advice."""

from __future__ import annotations

import math

from fastfib.measure import threadpools
from fastfib.measure.machine import Lent, short_reading
from fastfib.measure.paired import BUSY_AT, FLAT_BELOW, SCALES_AT, TOO_WIDE
from fastfib.measure.probe_result import INNER_PARALLEL_AT, ProbeResult, ScalePoint

__all__ = ["SHORT_CALL_S", "advice", "inner_parallelism"]

SHORT_CALL_S = 10e-6  # a held call shorter than this: advice is to give it more work, not to release the GIL


def _us(seconds: float) -> str:
    us = 1e6 * seconds
    return f"{us:.2g} µs" if us < 10 else f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.3g} ms"


def _best(result: ProbeResult, runner: str) -> ScalePoint | None:
    """The point of ``runner`` at the most workers that gave a figure."""
    points = [p for p in result.points if p.runner == runner and p.speedup is not None and p.workers > 1]
    return max(points, key=lambda p: p.workers) if points else None


def _said(point: ScalePoint | None, runner: str) -> str:
    """ "1.85x on 2 threads", or why there is no figure."""
    if point is None or point.speedup is None:
        return f"no figure on {runner}"
    at = f"on {point.workers} {runner}"
    if point.speedup.too_noisy:  # no single figure; the interval may still say enough
        return f"{point.speedup.low:.2f}-{point.speedup.high:.2f}x {at} (too wide an interval for one figure)"
    return f"{point.speedup.speedup:.2f}x {at}"


def _scaled(point: ScalePoint | None, cores: int) -> bool:
    """Whether a point's whole interval reaches SCALES_AT of the way from 1x to its ideal (1.5x of 2)."""
    if point is None or point.speedup is None:
        return False
    return point.speedup.low >= 1 + SCALES_AT * (min(point.workers, cores) - 1)  # however wide, it scaled


def _undecided(point: ScalePoint | None, cores: int) -> bool:
    """A point too noisy for one figure whose interval also leaves the answer open: it
    reaches 1x (no gain) and falls short of scaling."""
    if point is None or point.speedup is None or not point.speedup.too_noisy:
        return False
    return point.speedup.high >= 1 and point.speedup.low < 1 + SCALES_AT * (min(point.workers, cores) - 1)


def _busy(point: ScalePoint | None, cores: int) -> str:
    """What parallelism (CPU / wall) says where the speedup could not: whether the threads
    ran at once (at least 80 % of the way to the ideal, 1.8 of 2) or took turns; "" when unclear."""
    if point is None or point.speedup is None or point.speedup.parallelism is None:
        return ""
    busy, ideal = point.speedup.parallelism, min(point.workers, cores)
    said = f"parallelism {busy.median:.2f}, 95% CI {busy.low:.2f}-{busy.high:.2f}"
    if busy.width > TOO_WIDE:
        return ""
    if busy.low >= 1 + BUSY_AT * (ideal - 1) and point.speedup.high >= 1 + SCALES_AT * (ideal - 1):
        return f"the {point.workers} threads did run at once ({said}), so threads pay here"
    if busy.high <= FLAT_BELOW and point.speedup.low <= FLAT_BELOW:
        return (f"yet the {point.workers} threads took turns ({said}): something else serialises the calls "
                f"(a lock, or a busy machine)")
    return ""


def short_machine(point: ScalePoint | None) -> Lent | None:
    """The machine's reading while ``point`` ran, where it lent too few cores to tell whether
    that runner pays (:mod:`fastfib.measure.machine`); None otherwise."""
    return None if point is None or point.speedup is None else short_reading(point.speedup.machine)


def inner_parallelism(result: ProbeResult) -> str:
    """ "one call alone ran on 2.02 cores (CPU / wall): libscipy_openblas (BLAS, openblas, 2 threads)",
    or "" when one call keeps about one core busy."""
    if not result.uses_cores:
        return ""
    pool = result.inner_pool
    if pool is not None:
        by = threadpools.describe(pool)
    else:  # threads that threadpoolctl does not know (a pool of the library's own, or a BLAS it cannot limit)
        by = "threads of its own: limiting each pool threadpoolctl found (" + (
            ", ".join(threadpools.describe(p) for p in result.thread_pools) or "none") + ") to 1 did not slow it"
    return f"one call alone ran on {result.parallelism:.2f} cores (CPU / wall): {by}"


def _inner_advice(result: ProbeResult, cores: int, on_threads: str) -> str:
    """The advice for a call that already runs on more than one core by itself."""
    share = (f"already keeps {result.parallelism:.2f} of the {cores} cores busy" if result.parallelism >= 0.8 * cores
             else f"already runs on {result.parallelism:.2f} of the {cores} cores")
    pool = result.inner_pool
    if pool is None:
        return (f"One call {share} with threads of its own, so Python threads have little left to add "
                f"({on_threads}); see the library's documentation for how to limit its threads.")
    return (f"One call {share} through {threadpools.describe(pool)}: Python threads find no idle core, so "
            f"{on_threads} is what to expect, not a lock. To parallelise at the Python level instead, limit the "
            f"pool -- `{threadpools.limit_hint(pool)}` (one call then took {result.limited_slowdown:.2f}x as long) "
            f"-- and run the calls on threads or processes; never both at full size (outer x inner threads <= "
            f"{cores} cores, see `fastfib lab oversubscription`).")


def _instead_of_threads(processes: ScalePoint | None, cores: int, *, more_work: bool) -> str:
    """ "use processes (1.9x on 2 processes here)", saying only what was measured."""
    if processes is None:
        return "processes (not measured here: add --runners processes)"
    said = _said(processes, "processes")
    if _scaled(processes, cores) or not more_work:
        return f"processes ({said} here)"
    return f"processes with more work per task (they gave {said} here)"


def _held(result: ProbeResult, cores: int, on_threads: str, processes: ScalePoint | None) -> str:
    """Advice for a call that holds the GIL: what holds it -- bytecode, or C -- decides what helps."""
    cost = _us(result.per_call_s)
    waits = (f"other threads wait up to {result.stall_ms:.3g} ms for the GIL beside it (at the "
             f"{1000 * result.switch_interval_s:g} ms switch interval)")
    if result.is_bytecode:
        how = ("hands the GIL over every switch interval, as bytecode does" if result.yields else
               f"{result.opcodes_per_call} Python opcodes a call, at least {result.bytecode_share:.0%} of its time")
        return (f"Holds the GIL for {cost} per call, running Python bytecode ({how}): threads serialise it "
                f"({on_threads}) and {waits}. There is no C work to release the GIL around: use "
                f"{_instead_of_threads(processes, cores, more_work=False)}, subinterpreters, a free-threaded build, "
                f"or move the loop into C (Cython, an extension) and release the GIL there.")
    if result.per_call_s < SHORT_CALL_S:
        return (f"Holds the GIL for {cost} per call -- too short for a release to pay (releasing and retaking the GIL "
                f"costs about a microsecond, and more when another thread takes it): threads serialise it "
                f"({on_threads}); give each call more work (≥ 100 µs per release) and release the GIL around that, "
                f"or use {_instead_of_threads(processes, cores, more_work=True)}.")
    return (f"Holds the GIL for {cost} per call in C (not bytecode): threads serialise it ({on_threads}) and "
            f"{waits} -- release the GIL around the C work, or use "
            f"{_instead_of_threads(processes, cores, more_work=not _scaled(processes, cores))}.")


def _short_call(result: ProbeResult, threads: ScalePoint | None, on_threads: str) -> str:
    """Advice for a releasing call too short for the hand-over of the GIL to pay in full."""
    cost = _us(result.per_call_s)
    batch = math.ceil(100e-6 / max(result.per_call_s, 1e-9))
    gained = threads is not None and threads.speedup is not None and threads.speedup.low > FLAT_BELOW
    if gained:
        return (f"Releases the GIL, and threads give {on_threads}, short of the ideal: at {cost} per call the "
                f"hand-over of the GIL takes part of each call; batch ≥ {batch} items per call (≥ 100 µs of work "
                f"per release) for the rest.")
    return (f"Releases the GIL, but at {cost} per call the hand-over of the GIL costs more than the call: "
            f"threads give {on_threads}; batch ≥ {batch} items per call (≥ 100 µs of work per release) to pay.")


def _gave_up(result: ProbeResult) -> str:
    return (f" The budget ({result.budget_s:g} s) could not afford {'; '.join(result.gave_up)}: give it more with "
            f"--budget.") if result.gave_up else ""


def advice(result: ProbeResult, cores: int) -> str:
    """One or two plain sentences from the figures and this machine."""
    return _advice(result, cores) + _gave_up(result)


def _advice(result: ProbeResult, cores: int) -> str:
    threads, processes = _best(result, "threads"), _best(result, "processes")
    on_threads = _said(threads, "threads")
    scaled = _scaled(threads, cores)
    cost = _us(result.per_call_s)
    if result.verdict == "cannot tell":
        why = result.judged.get("why", "the heartbeat ran too little beside the control")
        return (f"Whether it releases the GIL cannot be told here: {why}. Run the probe again on a quieter machine, "
                f"or with a larger --budget.")
    if cores < 2:
        return f"Only {cores} usable core here: no runner can run two calls at once; measure on a bigger machine."
    if result.verdict == "held":
        return _held(result, cores, on_threads, processes)
    if threads is None:
        said = {"released": "Releases the GIL", "partly released": "Releases the GIL in part",
                "no GIL": "No GIL here (free-threaded build)"}[result.verdict]
        return (f"{said} ({result.released_fraction:.0%} of each {cost} call); threads, where that would pay, "
                f"were not measured here" + ("" if result.gave_up else ": add --runners threads") + ".")
    short = short_machine(threads)
    if short is not None and short.cores is not None:
        lead = {"released": f"Releases the GIL ({result.released_fraction:.0%} of each {cost} call)",
                "partly released": f"Releases the GIL for about {result.released_fraction:.0%} of each {cost} call",
                "no GIL": "There is no GIL here (free-threaded build)"}
        return (f"{lead[result.verdict]}, but whether threads pay cannot be told here: the machine lent "
                f"{short.cores:.1f} cores of {short.threads} while they ran ({short.why()}), so {on_threads} shows "
                f"the machine, not the call. Run the probe again when it is quieter.")
    if result.uses_cores and not scaled:
        return _inner_advice(result, cores, on_threads)
    if result.verdict == "no GIL":
        return f"There is no GIL on this interpreter (free-threaded build): threads give {on_threads} here."
    busy = _busy(threads, cores) if _undecided(threads, cores) else ""
    if busy:
        return (f"Releases the GIL ({result.released_fraction:.0%} of each {cost} call), and {busy}; the speedup "
                f"itself was too noisy for one figure ({on_threads}): run it again on a quieter machine for one.")
    if _undecided(threads, cores):
        return (f"Releases the GIL ({result.released_fraction:.0%} of each {cost} call), but this machine was too "
                f"noisy to tell whether threads pay ({on_threads}): run it again on a quieter one.")
    if scaled:
        return (f"Releases the GIL ({result.released_fraction:.0%} of each call), and it pays: threads give "
                f"{on_threads} here, with no start-up or pickling to pay.")
    if result.verdict == "partly released":
        ceiling = 1 / max(1e-9, 1 - result.released_fraction)
        held = ("Python bytecode" if result.is_bytecode else "the rest")
        return (f"Releases the GIL for only about {result.released_fraction:.0%} of each {cost} call: threads give "
                f"{on_threads} (Amdahl's ceiling on any number of threads: {ceiling:.2g}x); release it around more "
                f"of the work ({held} holds it), or use {_instead_of_threads(processes, cores, more_work=False)}.")
    if result.per_call_s < 100e-6:
        return _short_call(result, threads, on_threads)
    # A call that computes (one call alone keeps a core busy) whose threads together kept only about
    # one core busy: the machine's other work took the second core. (A call that waits -- on a lock,
    # on I/O -- keeps no core busy alone, and stays with "something else serialises".)
    if threads.parallelism is not None and threads.parallelism < INNER_PARALLEL_AT and result.parallelism >= 0.8:
        return (f"Releases the GIL for {cost} per call, yet threads give {on_threads}: the {threads.workers} threads "
                f"kept only {threads.parallelism:.2f} cores busy between them (CPU / wall), so this machine lent no "
                f"second core -- other work shares it; run the probe again on a quieter one.")
    compare = (f"compare processes ({_said(processes, 'processes')} here)" if processes is not None
               else "compare processes (add --runners processes)")
    return (f"Releases the GIL for {cost} per call, yet threads give {on_threads}: something else serialises the "
            f"calls (a lock, memory bandwidth, or a busy machine); {compare}.")
