"""Tasks the dask tests send to workers they start themselves (on PYTHONPATH there)."""

from __future__ import annotations

import os
import threading
import time


def span(seconds: float) -> tuple[int, int, float, float]:
    """Sleep; report (pid, thread, start, end) so a test can count how many ran at once."""
    start = time.time()
    time.sleep(seconds)
    return os.getpid(), threading.get_ident(), start, time.time()
