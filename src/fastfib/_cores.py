"""How many CPUs this process may run on: the kernels' default team size (the
prange kernel) and every efficiency figure's denominator. Kernel-level, so that
the kernels need not import fastfib.environment (which imports the registry)."""

from __future__ import annotations

import os

__all__ = ["usable_cores"]


def usable_cores() -> int:
    """CPUs this process may run on (affinity-aware), not the machine's total."""
    if hasattr(os, "process_cpu_count"):  # 3.13+
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
