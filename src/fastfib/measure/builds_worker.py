"""The far end of ``fastfib builds``: measures on request, in the interpreter that runs it.

``python -m fastfib.measure.builds_worker`` reads one JSON request per line on stdin and
answers each with one JSON line on stdout (anything else it prints goes to
stderr). The driver (:mod:`fastfib.measure.builds`) starts one per interpreter build and
asks them in turn, so only one of them measures at any moment:

* ``{"op": "hello"}`` -> ``{"meta": ..., "kernels": [...]}`` (:func:`fastfib.measure.metadata`);
* ``{"op": "calibrate", "kernel": K, "target_s": T}`` -> ``{"n": n, "task_s": s}``;
* ``{"op": "prepare", "kernel": K, "n": n, "tasks": T}`` -> ``{"ok": true}``: the
  sequential and threads measurements of that kernel, warmed;
* ``{"op": "repeat", "kernel": K, "threads_first": bool}`` -> ``{"sequential_s": s,
  "sequential_cpu_s": s, "threads_s": s}``: one timed run of each, back to back, every
  result checked (the CPU time is this process's, heartbeat thread included);
* ``{"op": "bye"}`` -> ``{"gil_enabled_at_end": bool}``, and the worker exits.

A request that fails is answered ``{"error": "..."}`` and the worker goes on.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from fastfib import gil, measure, registry, runners
from fastfib.tasks import Calibration, calibrate, task_cost

__all__ = ["serve"]


class _Worker:
    def __init__(self, workers: int) -> None:
        self.sequential = runners.make_runner("sequential").open(1)
        self.threads = runners.make_runner("threads").open(workers)
        self.measurements: dict[str, tuple[measure.Measurement, measure.Measurement]] = {}

    def hello(self) -> dict[str, Any]:
        return {"meta": measure.metadata(workers=self.threads.workers), "kernels": registry.names()}

    def calibrate(self, kernel: str, target_s: float) -> dict[str, Any]:
        found = calibrate(kernel, target_s)
        return {"n": found.n, "task_s": found.task_s}

    def prepare(self, kernel: str, n: int, tasks: int) -> dict[str, Any]:
        calibration = Calibration(kernel, n, task_cost(kernel, n))
        pair = (measure.Measurement(self.sequential, "sequential", calibration, tasks),
                measure.Measurement(self.threads, "threads", calibration, tasks))
        for one in pair:
            one.warm()
        self.measurements[kernel] = pair
        return _failed(pair) or {"ok": True}

    def repeat(self, kernel: str, threads_first: bool) -> dict[str, Any]:
        sequential, threads = pair = self.measurements[kernel]
        for one in (pair[::-1] if threads_first else pair):
            one.repeat()
        lent = threads.watch.reading().to_dict() if threads.watch is not None else None  # so far, this kernel
        return _failed(pair) or {"sequential_s": sequential.walls[-1], "sequential_cpu_s": sequential.cpus[-1],
                                 "threads_s": threads.walls[-1], "machine": lent}

    def close(self) -> None:
        self.threads.close()
        self.sequential.close()


def _failed(pair: tuple[measure.Measurement, ...]) -> dict[str, Any] | None:
    errors = [one.result.error for one in pair if one.result.error]
    return {"error": "; ".join(errors)} if errors else None


def serve(requests: TextIO, replies: TextIO, workers: int) -> None:
    """Answer requests until ``bye`` or the end of ``requests``."""
    worker = _Worker(workers)
    try:
        for line in requests:
            request = json.loads(line)
            op = request.pop("op")
            try:
                if op == "bye":
                    reply: dict[str, Any] = {"gil_enabled_at_end": gil.gil_enabled()}
                else:
                    reply = getattr(worker, op)(**request)
            except Exception as exc:  # noqa: BLE001 - answered, the driver decides
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
            if op == "bye":
                return
    finally:
        worker.close()


if __name__ == "__main__":
    protocol = sys.stdout
    sys.stdout = sys.stderr  # only replies on the protocol's stream
    serve(sys.stdin, protocol, int(sys.argv[1]) if len(sys.argv) > 1 else 2)
