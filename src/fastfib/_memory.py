"""How much memory a kernel may use before it starts, so it fails with a clear
MemoryError instead of being killed half-way (GMP aborts the process when an
allocation fails)."""

from __future__ import annotations

import os

__all__ = ["available_bytes"]


def available_bytes() -> int | None:
    """Memory available to start new work (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
