"""``fastfib lab race``: a lost update, and two ways to fix it.

The teaching notebook's read-modify-write with a sleep inside the critical
section: each of N threads reads the counter, sleeps (which hands the GIL to
another thread, every time), then writes back what it read plus one. Whoever
read the same value overwrote the other's increment: the lost updates are
certain, not a matter of luck, because the sleep forces the switch at the worst
moment. Two fixes, both exact:

* a ``threading.Lock`` around read-sleep-write (the section runs one thread at a time);
* one *owner* thread that alone touches the counter, fed increments through a
  ``queue.Queue`` (the notebook's counter-manager pattern: share by communicating).

Then the plain ``x += 1`` in a tight loop, with no sleep: on CPython 3.9 threads
lose updates there too; on 3.10+ with the GIL they do not, because 3.10 moved
the interpreter's check for a pending GIL hand-over to function calls and
backward jumps only -- never between the load and the store of ``x += 1``.
That is an implementation detail, not a promise: a free-threaded build, or a
``__iadd__`` written in Python, brings the race back. The loop runs as a
self-contained snippet (no fastfib import) under this interpreter and under
each other interpreter found (pyenv's 3.9 when present).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import queue
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Sequence
from typing import Any

from fastfib.lab.experiment import Experiment, Option, ProgressFn
from fastfib.lab.timing import start_together
from fastfib.tables import grid

__all__ = ["EXPERIMENT", "PLAIN_LOOP_SNIPPET", "find_python39", "locked", "owner_thread", "plain_loop", "run",
           "unsafe"]


class Counter:
    def __init__(self) -> None:
        self.value = 0


def unsafe(threads: int, increments: int, pause_s: float) -> dict[str, Any]:
    """N threads, each ``increments`` times: read, sleep ``pause_s``, write read + 1. No lock."""
    counter, barrier = Counter(), threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(increments):
            seen = counter.value
            time.sleep(pause_s)  # the forced switch: another thread runs and reads the same value
            counter.value = seen + 1

    wall = start_together([threading.Thread(target=work) for _ in range(threads)], barrier)
    return _outcome("no lock", counter.value, threads * increments, wall)


def locked(threads: int, increments: int, pause_s: float) -> dict[str, Any]:
    """The same, with read-sleep-write inside ``with lock:``."""
    counter, barrier, lock = Counter(), threading.Barrier(threads + 1), threading.Lock()

    def work() -> None:
        barrier.wait()
        for _ in range(increments):
            with lock:
                seen = counter.value
                time.sleep(pause_s)
                counter.value = seen + 1

    wall = start_together([threading.Thread(target=work) for _ in range(threads)], barrier)
    return _outcome("threading.Lock", counter.value, threads * increments, wall)


def owner_thread(threads: int, increments: int, pause_s: float) -> dict[str, Any]:
    """The same increments sent as messages to the one thread that owns the counter."""
    counter, barrier = Counter(), threading.Barrier(threads + 1)
    inbox: queue.Queue[int | None] = queue.Queue()

    def owner() -> None:  # the only code that reads or writes the counter
        while (amount := inbox.get()) is not None:
            seen = counter.value
            time.sleep(pause_s)  # the same pause: harmless, nobody else writes
            counter.value = seen + amount

    def work() -> None:
        barrier.wait()
        for _ in range(increments):
            inbox.put(1)

    manager = threading.Thread(target=owner, name="counter-owner")
    manager.start()
    wall = start_together([threading.Thread(target=work) for _ in range(threads)], barrier)
    started = time.perf_counter()
    inbox.put(None)  # the sentinel: every increment is queued ahead of it
    manager.join()
    return _outcome("owner thread + Queue", counter.value, threads * increments, wall + time.perf_counter() - started)


def _outcome(how: str, got: int, expected: int, wall: float) -> dict[str, Any]:
    return {"method": how, "expected": expected, "counted": got, "lost_updates": expected - got, "wall_s": wall}


# The plain loop, as a snippet any CPython 3 runs alone: argv = threads, increments per thread.
PLAIN_LOOP_SNIPPET = r"""
import json, sys, sysconfig, threading
threads, increments = int(sys.argv[1]), int(sys.argv[2])
x = 0
def work(barrier):
    global x
    barrier.wait()
    for _ in range(increments):
        x += 1
barrier = threading.Barrier(threads)
workers = [threading.Thread(target=work, args=(barrier,)) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable, "gil_enabled": gil,
                  "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                  "expected": threads * increments, "counted": x, "lost_updates": threads * increments - x}))
"""


def plain_loop(python: str, threads: int, increments: int, timeout_s: float = 60.0,
               python_gil: str | None = None) -> dict[str, Any]:
    """Run the plain ``x += 1`` loop under ``python`` (a path), isolated (``-I``: no PYTHON*
    variable applies), with ``-X gil=`` ``python_gil`` when given (a free-threaded build: "1"
    turns the GIL on, as PYTHON_GIL=1 would); its JSON report."""
    gil_option = ["-X", f"gil={python_gil}"] if python_gil is not None else []
    done = subprocess.run([python, "-I", *gil_option, "-c", PLAIN_LOOP_SNIPPET, str(threads), str(increments)],
                          capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def find_python39() -> str | None:
    """CPython 3.9 if one is installed: $FASTFIB_PYTHON39, pyenv's, or python3.9 on PATH."""
    candidates = [os.environ.get("FASTFIB_PYTHON39", "")]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(root, "versions", "3.9*", "bin", "python3.9")), reverse=True)
    candidates.append(shutil.which("python3.9") or "")
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


WHY = ("On CPython 3.10+ with the GIL, the interpreter offers the GIL to another thread only at a call or a backward "
       "jump, never between the load and the store of `x += 1` on an int; 3.9 could switch in between. An "
       "implementation detail, not a promise: a free-threaded build, or a Python-level __iadd__, loses updates "
       "again. Use a Lock.")


def run(*, threads: int, increments: int, pause_s: float, loop_threads: int, loop_increments: int,
        interpreters: Sequence[str] | None = None,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """The whole experiment; a JSON-ready dict with a one-sentence ``finding``."""
    python39 = find_python39() if interpreters is None else None
    others = list(interpreters) if interpreters is not None else ([python39] if python39 else [])
    # A free-threaded build runs the loop twice: as it is (GIL disabled) and with -X gil=1, the GIL A/B.
    gil_ab = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    total = 3 + 1 + gil_ab + len(others)
    rows = []
    for done, method in enumerate((unsafe, locked, owner_thread)):
        progress(f"{threads} threads x {increments} increments: {method.__name__}", done, total)
        rows.append(method(threads, increments, pause_s))
    loops, skipped = [], None
    for done, python in enumerate([sys.executable, *others], start=3):
        progress(f"plain x += 1 loop under {python}", done, total)
        loops.append(plain_loop(python, loop_threads, loop_increments))
        if python == sys.executable and gil_ab:
            progress(f"plain x += 1 loop under {python} -X gil=1", done, total)
            loops.append(plain_loop(python, loop_threads, loop_increments, python_gil="1"))
    if interpreters is None and python39 is None:
        skipped = "CPython 3.9 not found (pyenv install 3.9, or set FASTFIB_PYTHON39): its run is skipped"
    progress("done", total, total)
    settings = {"threads": threads, "increments": increments, "pause_ms": 1000 * pause_s,
                "loop_threads": loop_threads, "loop_increments": loop_increments}
    return {"settings": settings, "rows": rows, "plain_loop": loops, "skipped": skipped, "why": WHY,
            "finding": finding(rows, loops, threads, increments)}


def finding(rows: list[dict[str, Any]], loops: list[dict[str, Any]], threads: int, increments: int) -> str:
    by = {row["method"]: row for row in rows}
    text = (f"{threads} threads x {increments} read-sleep-write increments lost "
            f"{by['no lock']['lost_updates']} of {by['no lock']['expected']} updates without a lock, "
            f"{by['threading.Lock']['lost_updates']} with a Lock and "
            f"{by['owner thread + Queue']['lost_updates']} with an owner thread")
    plain = "; ".join(f"{loop['lost_updates']:,} of {loop['expected']:,} on {loop['python']}"
                      + (" (free-threaded, GIL disabled)" if not loop["gil_enabled"] else
                         " (free-threaded, -X gil=1)" if loop.get("free_threaded_build") else "") for loop in loops)
    return text + (f"; a plain x += 1 loop lost {plain}." if plain else ".")


def format_text(result: dict[str, Any]) -> str:
    s = result["settings"]
    body = [[r["method"], f"{r['expected']:,}", f"{r['counted']:,}", f"{r['lost_updates']:,}",
             f"{1000 * r['wall_s']:.0f}"] for r in result["rows"]]
    lines = [f"read, sleep {s['pause_ms']:g} ms, write read + 1: {s['threads']} threads x {s['increments']}",
             grid(["method", "expected", "counted", "lost updates", "wall ms"], body, left=1), "",
             f"plain `x += 1` loop, {s['loop_threads']} threads x {s['loop_increments']:,} (no sleep):"]
    body = [[loop["python"], "yes" if loop["gil_enabled"] else "no", f"{loop['expected']:,}", f"{loop['counted']:,}",
             f"{loop['lost_updates']:,}"] for loop in result["plain_loop"]]
    lines.append(grid(["python", "GIL", "expected", "counted", "lost updates"], body, left=1))
    if result["skipped"]:
        lines.append(result["skipped"])
    lines.append("\nWhy: " + result["why"])
    return "\n".join(lines)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(threads=settings.threads, increments=settings.increments, pause_s=settings.pause_ms / 1000,
               loop_threads=settings.threads, loop_increments=settings.loop_increments,
               interpreters=settings.python, progress=progress)


EXPERIMENT = Experiment(
    name="race", help="a lost update, fixed by a Lock and by an owner thread; x += 1 on 3.9 vs 3.10+",
    description=__doc__, examples=("fastfib lab race --threads 8 --python ~/.pyenv/versions/3.12.1/bin/python",),
    options=(
        Option("--threads", "threads", default="4", number=int),
        Option("--increments", "read-sleep-write increments per thread", default="50", quick="25", number=int),
        Option("--pause-ms", "the sleep between the read and the write", default="0.2", number=float),
        Option("--loop-increments", "plain x += 1 per thread", default="500000", quick="300000", number=int),
        Option("--python", "run the plain loop under this interpreter too (repeatable; default: pyenv's 3.9 if "
               "found)", action="append", metavar="PATH"),
    ),
    run=_run, format_text=format_text,
    readme=("a lost update and its fixes",
            "A read-modify-write with a forced switch inside loses updates on threads; a Lock or a single owner "
            "thread fed by a Queue makes it exact; a plain `x += 1` loop lost updates on CPython 3.9 and no "
            "longer does on 3.10+ with the GIL (an implementation detail, not a promise)."),
)
