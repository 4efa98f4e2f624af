"""The same kernels on several interpreter builds, measured in one run: the single-thread
tax of free threading and the GIL A/B.

Each interpreter given runs a worker (:mod:`fastfib.measure.builds_worker`); a free-threaded
one runs two, one with the GIL disabled and one with ``PYTHON_GIL=1`` -- the same
binary, the GIL the only difference. Every kernel gets one n, calibrated on the
first build, so every build does exactly the same work. Then the rounds: in each,
every kernel runs on every build, its sequential run and its threads run back to
back, the builds' order rotated from round to round. Only one worker measures at
any moment; the others wait on their pipe.

Every ratio is paired within a round: a build's sequential CPU time over the
first build's in the same round (the single-thread tax: CPU time, because a
round in which another process took the core costs wall time, not CPU time),
and its sequential wall time over its own threads wall time (the speedup). This machine's second core comes and goes,
so each is reported as the median of the rounds with its interquartile range
(the middle half of the rounds: one round that lost its core moves it little),
and as "too noisy" when that range is wider than :data:`TOO_NOISY` of the
median. The JSON keeps every round's figures, min and max.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastfib import gil, measure
from fastfib.files import envelope
from fastfib.measure.machine import short_reading
from fastfib.tables import grid, num, times

__all__ = ["SCHEMA", "TOO_NOISY", "Build", "BuildsError", "format_text", "ratio_cell", "run", "spread"]

SCHEMA = "fastfib.measure.builds"
# Schema history: 1 -- {"schema", "schema_version", "meta", "builds": [...], "rows": [...]}.
#                 2 -- each row holds "machine": the cores the machine lent its threads runs
#                      (fastfib.measure.machine.Lent.to_dict); a version 1 row, without it, reads as before.
SCHEMA_VERSION = 2
TOO_NOISY = 0.20  # a ratio whose interquartile range / median over the rounds exceeds this is not quoted
DEFAULT_KERNELS = ("python", "numpy", "cython-gil", "cython-nogil", "gmp")


class BuildsError(Exception):
    """An interpreter that cannot take part (no fastfib there, a worker that died): one line."""


@dataclass
class Build:
    """One interpreter configuration and its worker."""

    python: str
    gil_forced: bool  # PYTHON_GIL=1 set for it
    process: subprocess.Popen | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    kernels: list[str] = field(default_factory=list)
    log: Any = None  # the worker's stderr, kept for the error message

    @property
    def label(self) -> str:
        """'3.13.5', '3.13.5t' (GIL disabled), '3.13.5t PYTHON_GIL=1'."""
        version = self.meta.get("python_version", "?")
        if not self.meta.get("free_threaded_build"):
            return version
        if self.gil_forced:
            return f"{version}t PYTHON_GIL=1"
        return f"{version}t" + (" (GIL re-enabled)" if self.meta.get("gil_enabled") else "")

    def start(self, workers: int) -> None:
        env = {key: value for key, value in os.environ.items() if key != "PYTHON_GIL"}
        if self.gil_forced:
            env["PYTHON_GIL"] = "1"
        self.log = tempfile.TemporaryFile(mode="w+")
        try:
            self.process = subprocess.Popen([self.python, "-m", "fastfib.measure.builds_worker", str(workers)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                            text=True, env=env, bufsize=1)
        except OSError as exc:
            raise BuildsError(f"cannot start {self.python}: {exc.strerror or exc}") from None
        hello = self.ask("hello")
        self.meta, self.kernels = hello["meta"], hello["kernels"]

    def ask(self, op: str, **request: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps({"op": op, **request}) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.log.seek(0)
            last = (self.log.read().strip().splitlines() or ["(nothing on stderr)"])[-1]
            raise BuildsError(f"the worker on {self.python} stopped: {last}")
        reply = json.loads(line)
        if "error" in reply and op != "repeat":
            raise BuildsError(f"{self.python}: {op} failed: {reply['error']}")
        return reply

    def stop(self) -> bool | None:
        """End the worker; whether its GIL was enabled at the end (None if it was gone)."""
        at_end = None
        if self.process is None:
            return None
        try:
            if self.process.poll() is None:
                at_end = self.ask("bye").get("gil_enabled_at_end")
            self.process.wait(timeout=30)
        except (BuildsError, subprocess.TimeoutExpired):
            pass
        finally:
            self.kill()
        return at_end

    def kill(self) -> None:
        """End the worker now if it still runs, and close its pipes and log."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    pipe.close()
        if self.log is not None:
            self.log.close()


def spread(values: Sequence[float]) -> dict[str, float]:
    """{"median", "q1", "q3", "min", "max"} of a non-empty series (quartiles inclusive)."""
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"median": statistics.median(values), "q1": q1, "q3": q3, "min": min(values), "max": max(values)}


def ratio_cell(figure: dict[str, float] | None) -> str:
    """A ratio as '1.93× (1.88-1.97)' (median, interquartile range), or 'too noisy (1.10-1.94×)'
    when that range is wider than TOO_NOISY of the median."""
    if not figure:
        return "-"
    low, high, median = figure["q1"], figure["q3"], figure["median"]
    if median > 0 and (high - low) / median > TOO_NOISY:
        return f"too noisy ({low:.2f}-{high:.2f}×)"
    return f"{times(median)} ({low:.2f}-{high:.2f})"


def _start_builds(builds: list[Build], pythons: Sequence[str], workers: int,
                  progress: Callable[[str, int, int], None]) -> None:
    """Start a worker per interpreter (two on a free-threaded one), each appended to ``builds``
    before it starts, so the caller ends every one it began even when a start fails."""
    for python in pythons:
        progress(f"starting a worker on {python}", 0, 1)
        first = Build(python, gil_forced=False)
        builds.append(first)
        first.start(workers)
        if first.meta.get("free_threaded_build"):
            forced = Build(python, gil_forced=True)
            builds.append(forced)
            forced.start(workers)


def run(pythons: Sequence[str], *, kernels: Sequence[str] | None, target_s: float, tasks: int, rounds: int,
        workers: int, progress: Callable[[str, int, int], None] = lambda what, done, total: None) -> dict[str, Any]:
    """Measure (see the module notes); the JSON-ready document."""
    builds: list[Build] = []
    try:
        _start_builds(builds, pythons, workers, progress)
        wanted = list(kernels) if kernels else [k for k in DEFAULT_KERNELS if k in builds[0].kernels]
        missing = {k: [b.label for b in builds if k not in b.kernels] for k in wanted}
        chosen = [k for k in wanted if not missing[k]]
        skipped = {k: f"not available on {', '.join(where)}" for k, where in missing.items() if where}
        if not chosen:
            raise BuildsError("no kernel is available on every build: "
                              + "; ".join(f"{k} {why}" for k, why in skipped.items()))
        reference = builds[0]
        calibrated = {}
        for kernel in chosen:
            progress(f"calibrating {kernel} on {reference.label}", 0, rounds)
            calibrated[kernel] = reference.ask("calibrate", kernel=kernel, target_s=target_s)
            for build in builds:
                build.ask("prepare", kernel=kernel, n=calibrated[kernel]["n"], tasks=tasks)
        walls: dict[tuple[str, int], list[dict[str, Any]]] = {(k, i): [] for k in chosen for i in range(len(builds))}
        for number in range(rounds):
            progress(f"round {number + 1}/{rounds}: {len(chosen)} kernels on {len(builds)} builds", number, rounds)
            order = list(range(len(builds)))
            order = order[number % len(order):] + order[:number % len(order)]
            for kernel in chosen:
                for index in order:
                    walls[kernel, index].append(
                        builds[index].ask("repeat", kernel=kernel, threads_first=number % 2 == 1))
        at_end = [build.stop() for build in builds]
    finally:
        for build in builds:
            build.kill()
    rows = [_row(kernel, index, walls, calibrated[kernel], tasks) for kernel in chosen for index in range(len(builds))]
    meta = measure.metadata(tasks=tasks, rounds=rounds, workers=workers, target_ms=1000 * target_s,
                            too_noisy=TOO_NOISY, skipped_kernels=skipped)
    return envelope(SCHEMA, SCHEMA_VERSION, meta, {
        "builds": [{"label": b.label, "python": b.python, "python_gil": "1" if b.gil_forced else None,
                    "gil_enabled_at_end": end, "meta": b.meta} for b, end in zip(builds, at_end, strict=True)],
        "rows": rows})


def _row(kernel: str, index: int, walls: dict[tuple[str, int], list[dict[str, Any]]], calibration: dict[str, Any],
         tasks: int) -> dict[str, Any]:
    mine, first = walls[kernel, index], walls[kernel, 0]
    errors = sorted({w["error"] for w in mine if "error" in w})
    row: dict[str, Any] = {"kernel": kernel, "build": index, "n": calibration["n"], "tasks": tasks,
                           "task_ms_on_first": 1000 * calibration["task_s"], "error": "; ".join(errors) or None,
                           "sequential_s": [w.get("sequential_s") for w in mine],
                           "threads_s": [w.get("threads_s") for w in mine]}
    good = [(w, f) for w, f in zip(mine, first, strict=True) if "error" not in w and "error" not in f]
    if not good:
        return {**row, "sequential": None, "vs_first": None, "speedup": None}
    return {**row, "machine": good[-1][0].get("machine"),  # what the machine lent its threads runs, all rounds
            "sequential": spread([w["sequential_s"] for w, _ in good]),
            "sequential_cpu_s": [w["sequential_cpu_s"] for w, _ in good],
            "vs_first": spread([w["sequential_cpu_s"] / f["sequential_cpu_s"] for w, f in good]),
            "vs_first_wall": spread([w["sequential_s"] / f["sequential_s"] for w, f in good]),
            "speedup": spread([w["sequential_s"] / w["threads_s"] for w, _ in good])}


def _speedup_cell(row: dict[str, Any]) -> str:
    """The threads speedup, or that the machine was too short to tell (schema 1 rows have no machine)."""
    lent = short_reading(row.get("machine"))
    if lent is not None:
        return f"cannot tell ({ratio_cell(row['speedup'])}: the machine lent {lent.cores:.1f} cores)"
    return ratio_cell(row["speedup"])


def _ms(figure: dict[str, float] | None) -> str:
    if not figure:
        return "-"
    return f"{1000 * figure['median']:.1f} ({1000 * figure['q1']:.1f}-{1000 * figure['q3']:.1f})"


def format_text(document: dict[str, Any]) -> str:
    """The table, what its columns mean, and the answer in a few lines."""
    builds, rows, meta = document["builds"], document["rows"], document["meta"]
    first, workers = builds[0]["label"], meta["workers"]
    header = ["kernel", "build", "n", "sequential wall ms", f"CPU vs {first}", f"threads x{workers} speedup", "lent"]
    body = []
    for row in rows:
        if row["error"]:
            body.append([row["kernel"], builds[row["build"]]["label"], str(row["n"]), "-", "-",
                         f"ERROR: {row['error']}", "-"])
            continue
        body.append([row["kernel"], builds[row["build"]]["label"], str(row["n"]), _ms(row["sequential"]),
                     "1.00× (the reference)" if row["build"] == 0 else ratio_cell(row["vs_first"]),
                     _speedup_cell(row), num((row.get("machine") or {}).get("cores"))])
    lines = [grid(header, body, left=2), "",
             f"CPU vs {first} = sequential CPU time / {first}'s in the same round (> 1: slower; on a free-threaded "
             "build, its single-thread tax; CPU time, which a busy machine inflates less than wall time);",
             f"speedup = sequential time / the time of the same tasks on {workers} threads, same build, same round;",
             f"each figure: the median of {meta['rounds']} rounds (in brackets the middle half of them, q1-q3); "
             f"too noisy = that range is wider than {TOO_NOISY:.0%} of the median;",
             "lent = cores the machine lent the threads runs (a control spun on every CPU after each, the CPU other "
             "processes took, the quota); under 1.5 of 2 a speedup cannot tell.", ""]
    lines += _answer(builds, rows)
    lines.append("")
    for index, build in enumerate(builds):
        info = build["meta"]
        label = gil.build_label(bool(info.get("free_threaded_build")), bool(info.get("gil_enabled")))
        lines.append(f"build {index + 1}: {build['label']}: {info.get('python_implementation', '')} "
                     f"{info.get('python_version', '?')} ({label}"
                     f"{', PYTHON_GIL=1' if build['python_gil'] else ''}), {build['python']}")
        if build["gil_enabled_at_end"] not in (None, info.get("gil_enabled")):
            lines.append("  the GIL was re-enabled during the run: "
                         "an imported extension lacks the free-threading declaration")
    lines.append(f"{meta['usable_cores']} usable cores, {meta['cpu_model']}; {meta['tasks']} tasks of about "
                 f"{meta['target_ms']:g} ms per run; the rounds rotate the builds' order")
    for kernel, why in meta.get("skipped_kernels", {}).items():
        lines.append(f"kernel {kernel} not run: {why}")
    return "\n".join(lines)


def _answer(builds: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for index, build in enumerate(builds[1:], start=1):
        cells = [f"{r['kernel']} {ratio_cell(r['vs_first'])}" for r in rows if r["build"] == index and not r["error"]]
        lines.append(f"sequential CPU time, {build['label']} vs {builds[0]['label']}: " + ", ".join(cells))
    for index, build in enumerate(builds):
        cells = [f"{r['kernel']} {_speedup_cell(r)}" for r in rows if r["build"] == index and not r["error"]]
        lines.append(f"threads speedup, {build['label']}: " + ", ".join(cells))
    return lines
