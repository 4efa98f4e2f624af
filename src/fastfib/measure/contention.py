"""Why threads did not scale once the GIL is gone: they **took turns**, or they **ran at once, each slower**.

Without a GIL two causes remain, and they look different in two figures fastfib already
pairs (:mod:`fastfib.measure.paired`): the speedup of N threads over the same tasks on one,
and the parallelism of the N-thread runs (process CPU / wall: how many cores were busy).

* **took turns** -- parallelism near 1: one thread ran while the others waited. A lock held
  around the work (a ``threading.Lock``; a per-object lock of a shared list, dict or
  ``random.Random`` held long enough to make the others sleep), or the GIL itself, re-enabled.
* **ran at once, each slower** -- parallelism near N, speedup low: every thread was on a CPU,
  but each did its share slower than it did alone. Contention for shared memory: reference
  counts of one shared object, a shared counter or attribute, the lock word of a shared
  container bouncing between cores (CPython's per-object locks spin briefly before they
  sleep, so a lock held for a few nanoseconds looks like this, not like taking turns), false
  sharing.

The machine comes first, as for every paired figure (:mod:`fastfib.measure.verdicts`): where it
lent too few cores to tell, the answer is "cannot tell" -- a machine with one core to give makes
every case look like taking turns. Parallelism is judged against the cores lent (``room``).

>>> row = {"ideal": 2, "speedup": 1.02, "low": 0.98, "high": 1.05, "q1": 1.0, "q3": 1.04, "pairs": 12,
...        "coverage": 0.96, "too_noisy": False, "machine": None,
...        "parallelism": {"median": 1.96, "low": 1.93, "high": 1.98, "coverage": 0.96, "q1": 1.94,
...                        "q3": 1.97, "n": 12}}
>>> diagnose(row, gil_enabled=False).kind
'ran at once, each slower'
>>> diagnose(row, gil_enabled=True).kind
'took turns'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fastfib.measure import verdicts
from fastfib.measure.paired import Spread

__all__ = ["ADVICE", "CANNOT_TELL", "MIXED", "RAN_SLOWER", "SCALES", "TOOK_TURNS", "TURNS_BELOW", "AT_ONCE_FROM",
           "Diagnosis", "diagnose"]

TOOK_TURNS = "took turns"
RAN_SLOWER = "ran at once, each slower"
MIXED = "partly took turns"
SCALES = "scales"
CANNOT_TELL = verdicts.CANNOT_TELL
# Share of the extra cores lent that the N-thread runs kept busy: (parallelism - 1) / (room - 1).
TURNS_BELOW = 0.35  # at most this: the threads took turns (1.35 cores busy of 2)
AT_ONCE_FROM = 0.5  # at least this: they ran at once (1.5 cores busy of 2); in between: partly both

ADVICE = {
    "lock": "hold the lock for less time (compute outside it, lock only the update), give each thread its own "
            "data (a copy, threading.local) and merge once at the end, or hand the updates to one owner thread "
            "(queue.Queue)",
    "gil": "the GIL is on, so only one thread runs Python at a time: find the module that re-enabled it (fastfib "
           "probe names it; fastfib.testing.assert_gil_stays_disabled in CI) and have it declare free-threading "
           "support once it is safe; PYTHON_GIL=0 forces it off, at your own risk, to see what that would give",
    "memory": "share less: a copy per thread or threading.local (one random.Random per thread, a local counter), "
              "fewer shared objects touched in the loop (bind them to locals; refcounts of a shared object are "
              "atomic and bounce between cores: 3.14t defers them for more objects), batching (accumulate locally, "
              "publish once), and data written by different threads kept apart (false sharing)",
}


@dataclass
class Diagnosis:
    """Which of the two causes the figures show, in plain words, with what to try."""

    kind: str  # TOOK_TURNS, RAN_SLOWER, MIXED, SCALES, CANNOT_TELL, or "" for one thread
    cause: str  # "gil", "lock", "memory", "machine" or ""
    busy_share: float | None  # (parallelism - 1) / (room - 1)
    each_slower: float | None  # parallelism / speedup: how many times longer each thread's share took than alone
    said: str  # one sentence
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(row: dict[str, Any], *, gil_enabled: bool) -> Diagnosis:
    """The diagnosis of one paired row: :meth:`PairedRatio.to_dict` fields plus ``ideal``
    (min(threads, usable cores)); ``gil_enabled``: whether the GIL was on while it was measured."""
    if row["ideal"] < 2:
        return Diagnosis("", "", None, None, "", "")
    busy = Spread.from_dict(row.get("parallelism"))
    room = verdicts.room(row)
    share = None if busy is None or room <= 1 else (busy.median - 1) / (room - 1)
    slower = None if busy is None or row["speedup"] <= 0 else busy.median / row["speedup"]
    figures = f"speedup {row['speedup']:.2f}x" + ("" if busy is None else f", {busy.median:.2f} cores busy")
    if gil_enabled:
        return Diagnosis(TOOK_TURNS, "gil", share, slower,
                         f"the threads took turns: the GIL is enabled, one thread runs Python at a time ({figures})",
                         ADVICE["gil"])
    found = verdicts.verdict(row)
    if found == CANNOT_TELL:
        return Diagnosis(CANNOT_TELL, "machine", share, slower, verdicts.said(row), "run it again on a quieter machine")
    if found == "scales":
        return Diagnosis(SCALES, "", share, slower, f"the threads scaled ({figures})", "")
    if share is None:
        return Diagnosis(CANNOT_TELL, "", None, None, f"cannot tell which cause: no CPU time measured ({figures})",
                         "")
    if share <= TURNS_BELOW:
        return Diagnosis(TOOK_TURNS, "lock", share, slower,
                         f"the threads took turns: one ran while the others waited, a lock ({figures})",
                         ADVICE["lock"])
    if share >= AT_ONCE_FROM:
        each = "" if slower is None else f"; each thread's share took {slower:.1f}x its time alone"
        return Diagnosis(RAN_SLOWER, "memory", share, slower,
                         f"the threads ran at once, but each slower: contention for shared memory ({figures}{each})",
                         ADVICE["memory"])
    return Diagnosis(MIXED, "lock", share, slower,
                     f"the threads partly took turns and partly ran at once ({figures}): a lock held for part of "
                     "the work, or contention on a shared object", ADVICE["lock"] + "; and " + ADVICE["memory"])
