"""What ``fastfib probe`` adds on a free-threaded build: who re-enabled the GIL, why the threads
did not scale, and what free threading costs this call on one thread.

* **re-enabled**: SETUP and one STMT run again in a fresh interpreter that names every module
  whose import re-enabled the GIL, with its import chain (:mod:`fastfib.measure.gil_reenabled`);
  the figures were then taken *with* the GIL. Asked (``--gil-off``), the probe runs once more in
  a child with ``PYTHON_GIL=0`` forcing it off: what the call would do if the module declared
  support (at your own risk: it did not).
* **diagnosis**: for each threads row that does not scale, took turns or ran at once, each
  slower (:mod:`fastfib.measure.contention`), with what to try.
* **tax**: one call on this binary against the same binary with ``PYTHON_GIL=1`` and against
  ``--compare-with PYTHON`` (:mod:`fastfib.measure.single_thread_tax`).

Everything lands in ``result.meta["free_threading"]`` (so ``--json`` carries it) and in the
lines :func:`examine` returns for the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from fastfib import environment, gil
from fastfib.measure import contention, gil_reenabled, single_thread_tax

__all__ = ["add_arguments", "diagnoses", "examine"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compare-with", metavar="PYTHON", action="append", default=[],
                        help="also time one call on this interpreter (e.g. the default build of the same version) "
                             "against this one: the single-thread tax (repeatable)")
    parser.add_argument("--gil-off", action="store_true",
                        help="free-threaded build: where an import re-enabled the GIL, probe again with PYTHON_GIL=0 "
                             "forcing it off (what the call would do if the module declared support)")


def diagnoses(result: Any) -> list[tuple[str, contention.Diagnosis]]:
    """(row label, diagnosis) for each threads row of 2+ workers."""
    found = []
    cores = environment.usable_cores()
    for point in result.points:
        if point.runner != "threads" or point.workers < 2 or point.speedup is None:
            continue
        row = {**point.speedup.to_dict(), "ideal": min(point.workers, cores)}
        found.append((f"threads x{point.workers}", contention.diagnose(row, gil_enabled=gil.gil_enabled())))
    return found


def _gil_off(args: argparse.Namespace) -> dict[str, Any] | str:
    """The probe again, threads only, quick, in a child with PYTHON_GIL=0: its JSON result, or why not."""
    with tempfile.TemporaryDirectory(prefix="fastfib-gil-off-") as folder:
        out = os.path.join(folder, "probe.json")
        command = [sys.executable, "-m", "fastfib", "probe", *[f"--setup={text}" for text in args.setup], args.stmt,
                   "--runners", "threads", "--quick", "--no-progress", "--json", out]
        done = subprocess.run(command, env={**os.environ, "PYTHON_GIL": "0"}, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0 or not os.path.exists(out):
            return (done.stderr or done.stdout).strip()[-400:] or f"exit status {done.returncode}"
        with open(out, encoding="utf-8") as handle:
            return dict(json.load(handle)["result"])


def _speedups(points: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{p['runner']} x{p['workers']} {p['speedup']['speedup']:.2f}x" for p in points
                     if p.get("speedup") and p["workers"] > 1)


def examine(args: argparse.Namespace, result: Any, quick: bool = False) -> list[str]:
    """The free-threading lines for a probe of ``args.setup`` / ``args.stmt``; records them in
    ``result.meta["free_threading"]``. Nothing on a GIL build unless ``--compare-with`` is given."""
    lines: list[str] = []
    record: dict[str, Any] = {}
    free = gil.free_threaded_build()
    if free:
        check = gil_reenabled.find(setup=args.setup, stmt=args.stmt)
        record["imports"] = check.to_dict()
        reenabled = check.reenabled or environment.gil_reenabled()
        lines += [f"free threading: {line}" for line in check.lines()]
        if reenabled:
            lines.append("  so the figures above were taken WITH the GIL: threads took turns whatever the call does")
            if args.gil_off:
                forced = _gil_off(args)
                record["gil_off"] = forced
                if isinstance(forced, str):
                    lines.append(f"  with PYTHON_GIL=0: could not probe ({forced})")
                else:
                    lines.append(f"  with PYTHON_GIL=0 forcing it off (at your own risk: the module did not declare "
                                 f"support): {_speedups(forced['points'])}")
            else:
                lines.append("  (--gil-off probes again with PYTHON_GIL=0 forcing it off: what the call would do if "
                             "the module declared support)")
        found = diagnoses(result)
        record["diagnoses"] = {label: one.to_dict() for label, one in found}
        for label, one in found:
            if one.kind in (contention.SCALES, ""):
                continue
            lines.append(f"why it does not scale ({label}): {one.said}")
            if one.advice:
                lines.append(f"  try: {one.advice}")
    others = [single_thread_tax.Side("this binary with PYTHON_GIL=1", sys.executable, (("PYTHON_GIL", "1"),))
              ] if free and not environment.gil_reenabled() else []
    others += [single_thread_tax.Side(python, python, (("PYTHON_GIL", None),)) for python in args.compare_with]
    if others:
        taxes = single_thread_tax.measure(args.setup, args.stmt, others, budget_s=1.0 if quick else 2.0)
        record["tax"] = [tax.to_dict() for tax in taxes]
        lines.append("single-thread tax of this call (time here / time there, one thread each):")
        lines += [f"  {tax.describe()}" for tax in taxes]
        best = max((p.speedup.speedup for p in result.points if p.runner == "threads" and p.speedup is not None
                    and p.workers > 1), default=None)
        for tax in taxes:
            if best is not None and tax.ratio is not None:
                net = best / tax.ratio.speedup
                lines.append(f"  on threads here the work ran {net:.2f}x as fast as one thread {tax.against} "
                             f"(free threading {'pays' if net > 1.05 else 'does not pay'} for this call)")
    result.meta["free_threading"] = record
    return lines
