"""fastfib's experiments, one module each, built on the runners and measurements.

Each module declares itself in one ``EXPERIMENT`` (:mod:`fastfib.lab.experiment`):
its options with their defaults and --quick values, its run, its text and plot.
:func:`experiments` lists them, for ``fastfib lab`` and for ``fastfib report``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastfib.lab.experiment import Experiment

__all__ = ["MODULES", "SCHEMA_PREFIX", "SCHEMA_VERSION", "experiments"]

# Every experiment's --json: {"schema": SCHEMA_PREFIX + name, "schema_version", "meta", "finding", ...its own}
SCHEMA_PREFIX, SCHEMA_VERSION = "fastfib.lab.", 1

# The modules that declare an EXPERIMENT, in the order of `fastfib lab --help`.
# A new experiment is its module and its name here.
MODULES = ("blocking_io", "race", "queues", "amdahl", "interleave", "release", "latency", "granularity", "crossover",
           "oversubscription", "contention")


def experiments() -> list[Experiment]:
    """Every experiment, its module imported now."""
    return [importlib.import_module(f"fastfib.lab.{module}").EXPERIMENT for module in MODULES]
