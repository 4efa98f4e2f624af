"""What a paired speedup says -- "scales", "flat", "partly", "too noisy to tell" or "cannot
tell" -- judged against the cores the machine actually lent, not the ones it lists.

A row is a dict with the fields of :meth:`PairedRatio.to_dict` (the speedup's
interval, ``parallelism``, and ``machine``: :meth:`Lent.to_dict`) plus ``ideal``,
min(workers, usable cores). The machine comes first:

* when it lent too few cores to tell (:func:`fastfib.measure.machine.short_of`:
  under 1.5 of 2, half way from one core to the ideal), the verdict is "cannot
  tell", whatever the speedup: a machine with one core to give makes every
  workload look flat;
* otherwise the bars are drawn from the cores lent (``room`` = min(ideal, lent)):
  a speedup "scales" from half way between 1x and the room, parallelism from 80 %
  of the way; "flat" stays at ``FLAT_BELOW``.

Then the speedup decides when its interval is narrow (within 10 % of the
median) or decisive (all of it past a bar); otherwise -- a wide interval that
straddles a bar -- parallelism (were the workers on a CPU at the same time?)
decides if its own interval is narrow and the speedup's does not contradict
it; where neither can, the speedup's "partly" stands, or past ``TOO_WIDE``
"too noisy to tell".

>>> row = {"ideal": 2, "speedup": 1.0, "low": 0.97, "high": 1.02, "q1": 0.98, "q3": 1.01, "pairs": 10,
...        "coverage": 0.98, "too_noisy": False,
...        "machine": {"threads": 2, "control": None, "others": 1.0, "quota": None, "cpus": 2}}
>>> verdict_and_basis(row)
('cannot tell', 'machine')
>>> said(row)
'cannot tell: the machine lent 1.0 cores of 2 (other processes kept 1.0 cores busy meanwhile)'
"""

from __future__ import annotations

from typing import Any

from fastfib.measure.machine import Lent
from fastfib.measure.paired import BUSY_AT, FLAT_BELOW, SCALES_AT, TOO_WIDE, PairedRatio, Spread

__all__ = ["CANNOT_TELL", "room", "said", "verdict", "verdict_and_basis"]

CANNOT_TELL = "cannot tell"


def room(row: dict[str, Any]) -> float:
    """The cores a row's workers could use: min(ideal, the cores the machine lent)."""
    lent = Lent.from_dict(row.get("machine"))
    cores = None if lent is None else lent.cores
    return float(row["ideal"]) if cores is None else min(float(row["ideal"]), cores)


def _from_speedup(row: dict[str, Any], lent: float) -> str:
    if row["low"] >= 1 + SCALES_AT * (lent - 1):
        return "scales"
    if row["high"] <= FLAT_BELOW:
        return "flat"
    return "partly"


def _from_parallelism(row: dict[str, Any], busy: Spread, lent: float) -> str:
    """What parallelism says, where the speedup's own interval does not rule it out."""
    if busy.width > TOO_WIDE:
        return ""
    if busy.low >= 1 + BUSY_AT * (lent - 1) and row["high"] >= 1 + SCALES_AT * (lent - 1):
        return "scales"
    if busy.high <= FLAT_BELOW and row["low"] <= FLAT_BELOW:
        return "flat"
    if FLAT_BELOW < busy.low and busy.high < 1 + BUSY_AT * (lent - 1) and row["high"] > FLAT_BELOW:
        return "partly"
    return ""


def verdict_and_basis(row: dict[str, Any]) -> tuple[str, str]:
    """(verdict, what decided it: "speedup", "parallelism" or "machine"); ("", "") for one worker."""
    if row["ideal"] < 2:
        return "", ""
    lent = Lent.from_dict(row.get("machine"))
    if lent is not None and lent.short(row["ideal"]):
        return CANNOT_TELL, "machine"
    cores = room(row)
    by_speedup = _from_speedup(row, cores)
    # A wide interval can still be decisive: all of it above the bar, or all of it flat.
    if PairedRatio.from_dict(row).precise or by_speedup != "partly":
        return by_speedup, "speedup"
    busy = Spread.from_dict(row.get("parallelism"))
    found = _from_parallelism(row, busy, cores) if busy is not None else ""
    if found:
        return found, "parallelism"
    return ("too noisy to tell", "") if row["too_noisy"] else (by_speedup, "speedup")


def verdict(row: dict[str, Any]) -> str:
    """The verdict alone: "scales", "flat", "partly", "too noisy to tell", "cannot tell" or ""."""
    return verdict_and_basis(row)[0]


def said(row: dict[str, Any]) -> str:
    """The verdict in words, with what decided it where that is not the speedup alone:
    "scales (by parallelism)", "scales (of 1.6 lent cores)", "cannot tell: the machine lent ..."."""
    found, basis = verdict_and_basis(row)
    lent = Lent.from_dict(row.get("machine"))
    if basis == "machine" and lent is not None and lent.cores is not None:
        return f"{found}: the machine lent {lent.cores:.1f} cores of {row['ideal']} ({lent.why()})"
    notes = ["by parallelism"] if basis == "parallelism" else []
    cores = room(row)
    if found and cores < row["ideal"] - 0.1:
        notes.append(f"of {cores:.1f} lent cores")
    return f"{found} ({', '.join(notes)})" if notes else found
