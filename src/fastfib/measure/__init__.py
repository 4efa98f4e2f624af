"""Measurements: what one (kernel, runner, workers) configuration does with T tasks.

For each configuration :func:`measure_row` runs the same T tasks ``burn(n)``
R times on a warm :class:`~fastfib.runners.executors.Pool` and records:

* wall time: median, min and max of the R repeats (only the work: pool start-up
  is reported apart, as ``startup_s``);
* CPU time of this process and of its worker processes (median of the repeats);
  parallelism = CPU / wall: how many cores were busy on average;
* speedup = wall(sequential, same kernel, same tasks) / wall, and
  efficiency = speedup / min(workers, usable cores);
* the longest stall of a heartbeat thread that wakes every millisecond in this
  process: the GIL made visible (a C call holding it stalls the heartbeat for
  the whole call; pure Python for about the 5 ms switch interval);
* the Karp-Flatt serial fraction e = (1/S - 1/p) / (1 - 1/p), p = min(workers,
  cores): the share of the work that behaved as if it could not run in parallel.

Every task's result is checked against an independent oracle (the pure-Python
fast doubling): a wrong result makes the row an error, never a figure.
What one task is, its oracle and its sizing live in :mod:`fastfib.tasks`;
:func:`run_suite` runs a whole plan, repeats interleaved.

The instruments are in :mod:`fastfib.measure.instruments`, one configuration and
a whole plan in :mod:`fastfib.measure.suite`; paired ratios, probe, builds,
timelines and Amdahl's law in modules of their own. This module names what the
package offers.
"""

from __future__ import annotations

from fastfib.measure.instruments import Heartbeat, cpu_seconds, metadata
from fastfib.measure.suite import (
    NOISY_SPREAD,
    PRELOAD,
    Measurement,
    Progress,
    Row,
    measure_row,
    plan_steps,
    run_suite,
    unavailable_on,
)

__all__ = [
    "NOISY_SPREAD", "PRELOAD", "Heartbeat", "Measurement", "Progress", "Row", "cpu_seconds", "measure_row",
    "metadata", "plan_steps", "run_suite", "unavailable_on",
]
