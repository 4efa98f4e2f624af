"""The single-thread tax of one call: its time on this free-threaded binary against the same
binary with ``PYTHON_GIL=1``, or against another interpreter (``fastfib probe --compare-with``).

Each side is a fresh interpreter that runs SETUP once, then, on each request, the statement
``number`` times and answers the wall time: the same batch size on both, timed in alternation
(:mod:`fastfib.measure.paired`), so a ratio is the median of pairs taken at the same moments.
The children use the standard library only: the other interpreter need not have fastfib.

tax = time here / time there: 1.15 means this build pays 15 % more per call on one thread. On
N threads free threading pays when the N-thread speedup beats the tax.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastfib.measure import paired

__all__ = ["Side", "Tax", "measure"]

_CHILD = r'''
import json, os, sys, threading, time
parent = os.getppid()
def orphaned():  # a parent killed mid-run (a test timeout) must not leave this loop burning a core
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
threading.Thread(target=orphaned, daemon=True).start()
plan = json.loads(sys.argv[1])
sys.path[:0] = plan["path"]
namespace = {"__name__": "__fastfib_tax__"}
for text in plan["setup"]:
    exec(compile(text, "<setup>", "exec"), namespace)
body = "\n".join("        " + line for line in plan["stmt"].splitlines()) or "        pass"
# The loop's own names cannot shadow SETUP's (a SETUP may well define n).
exec(compile("def __fastfib_loop(__fastfib_number):\n    for __fastfib_i in range(__fastfib_number):\n" + body
             + "\n", "<stmt>", "exec"), namespace)
loop = namespace["__fastfib_loop"]
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(json.dumps({"ready": sys.version.split()[0], "gil": gil}), flush=True)
for line in sys.stdin:
    number = int(line)
    start = time.perf_counter()
    loop(number)
    print(time.perf_counter() - start, flush=True)
'''


@dataclass(frozen=True)
class Side:
    """One interpreter to time the call on: its label, executable and environment changes."""

    label: str  # "this binary, PYTHON_GIL=1"
    python: str
    env: tuple[tuple[str, str | None], ...] = ()  # None: unset


@dataclass
class Tax:
    """This side's time per call over the other's, paired."""

    against: str
    ratio: paired.PairedRatio | None
    version: str = ""
    gil_there: bool | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.ratio is None:
            return f"against {self.against}: could not measure ({self.error})"
        figure = self.ratio
        word = "slower" if figure.speedup >= 1 else "faster"
        return (f"against {self.against}: {figure.speedup:.2f}x the time per call ({figure.low:.2f}-"
                f"{figure.high:.2f}x, {figure.pairs} pairs), {abs(figure.speedup - 1):.0%} {word} here on one thread")

    def to_dict(self) -> dict[str, Any]:
        return {"against": self.against, "ratio": None if self.ratio is None else self.ratio.to_dict(),
                "version": self.version, "gil_there": self.gil_there, "error": self.error}


class _Child:
    def __init__(self, side: Side, setup: Sequence[str], stmt: str) -> None:
        env = dict(os.environ)
        for key, value in side.env:
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        plan = json.dumps({"setup": list(setup), "stmt": stmt, "path": [p for p in sys.path if p]})
        self.process = subprocess.Popen([side.python, "-c", _CHILD, plan], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            self.close()
            told = (self.process.stderr.read() if self.process.stderr else "").strip().splitlines()
            raise RuntimeError(f"SETUP or STMT failed there: {told[-1]}" if told else f"{side.python} exited")
        self.ready = json.loads(first)

    def time(self, number: int) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{number}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            told = (self.process.stderr.read() if self.process.stderr else "").strip().splitlines()
            raise RuntimeError(f"STMT failed there: {told[-1]}" if told else "the interpreter exited")
        return float(answer)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def measure(setup: Sequence[str], stmt: str, others: Sequence[Side], *, here: Side | None = None,
            target_s: float = 0.01, budget_s: float = 2.0) -> list[Tax]:
    """The tax of ``stmt`` (after ``setup``) on ``here`` (default: this binary, PYTHON_GIL unset)
    against each of ``others``."""
    here = here or Side("this binary", sys.executable, (("PYTHON_GIL", None),))
    found: list[Tax] = []
    try:
        mine = _Child(here, setup, stmt)
    except (OSError, RuntimeError) as exc:
        return [Tax(side.label, None, error=f"{here.label}: {exc}") for side in others]
    try:
        number = 1
        try:
            while mine.time(number) < target_s / 2 and number < 10**8:
                number *= 4
        except RuntimeError as exc:
            return [Tax(side.label, None, error=f"{here.label}: {exc}") for side in others]
        for side in others:
            try:
                theirs = _Child(side, setup, stmt)
            except (OSError, RuntimeError) as exc:
                found.append(Tax(side.label, None, error=str(exc)))
                continue
            try:
                theirs.time(number)
                # A = here, B = there: each pair's ratio (A before + A after) / 2 / B is the tax itself.
                ratio = paired.measure(lambda: mine.time(number), partial(theirs.time, number), budget_s=budget_s)
                found.append(Tax(side.label, ratio, theirs.ready["ready"], theirs.ready["gil"]))
            except RuntimeError as exc:  # the statement failed there (or here)
                found.append(Tax(side.label, None, error=str(exc)))
            finally:
                theirs.close()
    finally:
        mine.close()
    return found
